"""The star schema's model: the table catalogue (``sql/tables/*.yaml``), the SQL files and their
templates, and the DDL rendered from both. Below staging and the warehouses, which both read it."""
