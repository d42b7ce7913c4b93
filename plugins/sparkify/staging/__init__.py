"""Staging: which source objects a run stages, and the ledger that stages each exactly once.

How the rows get into the warehouse is the warehouse target's business
(:meth:`sparkify.warehouses.base.Warehouse.stage`).
"""
