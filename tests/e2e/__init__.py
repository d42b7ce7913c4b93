"""Test layer package: two layers may hold test files of the same name (pytest imports them as <layer>.<file>)."""
