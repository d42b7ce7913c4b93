"""Staging: which source objects a run stages, and the ledger that stages each exactly once.

How the rows get into the warehouse depends on the engine, and the warehouse target says which way by
name (:attr:`sparkify.warehouses.base.Warehouse.staging_strategy`); :func:`stage` picks the stager of
that name here. Staging and the warehouse targets never import each other: a target only names its
strategy, and a stager only calls the target's interface (``transaction``, ``lock`` …).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sparkify.staging.request import StageRequest

#: a warehouse's ``staging_strategy`` -> the module of this package and the stager class in it
STAGERS: dict[str, tuple[str, str]] = {
    # PostgreSQL: fetch, apply COPY JSON's rules locally, stream through COPY FROM STDIN
    "stdin_copy": ("stdin_copy", "StdinCopyStager"),
    # Redshift: one server-side COPY from S3 per load unit
    "s3_copy": ("s3_copy", "S3CopyStager"),
}


def stager_for(warehouse: Any) -> type:
    """The stager class that the warehouse's ``staging_strategy`` names (imported on first use)."""
    strategy = getattr(warehouse, "staging_strategy", None)
    if strategy not in STAGERS:
        raise ValueError(
            f"{type(warehouse).__name__}: staging strategy {strategy!r} is not one of {', '.join(sorted(STAGERS))}"
        )
    module, name = STAGERS[strategy]
    cls: type = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    return cls


def stage(warehouse: Any, request: StageRequest) -> dict[str, int]:
    """Stage the request's pending objects into its table, each exactly once; returns counts."""
    summary: dict[str, int] = stager_for(warehouse)(warehouse, request).run()
    return summary
