"""Warehouse targets: one class per engine, chosen once from the Airflow connection.

Every module of this package that defines a :class:`~sparkify.warehouses.base.Warehouse` subclass
decorated with :func:`register` is a target; adding an engine means adding one module here (and, if its
DDL differs, ``sql/macros/<dialect>.sql``). The target is the connection's extra ``target`` when given,
else the one class that claims the connection (by its type or host). An unknown target is an error,
never a fallback.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

from sparkify.warehouses.base import Warehouse, WarehouseHook, describe_connection

if TYPE_CHECKING:
    from typing import Any

TARGETS: dict[str, type[Warehouse]] = {}


class UnknownTargetError(ValueError):
    """The connection names, or looks like, no warehouse this project supports."""


def register(cls: type[Warehouse]) -> type[Warehouse]:
    """Class decorator: make ``cls`` a target, under ``cls.name``.

    Only classes of this package count: the same file imported under another module name (Airflow's
    plugin loader does that unless plugins/.airflowignore stops it) must not replace the real class.
    """
    if cls.__module__.startswith(f"{__name__}."):
        TARGETS[cls.name] = cls
    return cls


def _discover() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base":
            importlib.import_module(f"{__name__}.{module.name}")


def target_for(connection: Any) -> type[Warehouse]:
    """The target class for an Airflow connection."""
    _discover()
    explicit = str((connection.extra_dejson or {}).get("target", "")).strip().lower()
    if explicit:
        if explicit not in TARGETS:
            raise UnknownTargetError(
                f"connection {describe_connection(connection)}: extra target {explicit!r} is not one of "
                f"{', '.join(sorted(TARGETS))}"
            )
        return TARGETS[explicit]
    claimed = [cls for cls in TARGETS.values() if cls.claims(connection)]
    if len(claimed) != 1:
        raise UnknownTargetError(
            f"connection {describe_connection(connection)} is not a warehouse this project can tell apart: "
            f"set its extra target to one of {', '.join(sorted(TARGETS))}"
        )
    return claimed[0]


def open_warehouse(conn_id: str) -> Warehouse:
    """The warehouse of the Airflow connection ``conn_id``. Call it in ``execute()``, never at import."""
    connection = WarehouseHook.get_connection(conn_id)
    return target_for(connection)(conn_id, connection)


__all__ = ["TARGETS", "UnknownTargetError", "Warehouse", "open_warehouse", "register", "target_for"]
