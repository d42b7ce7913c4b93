"""The small base of the project's operators: a warehouse connection id, and errors sorted into
*fail now* (bad data, bad configuration: a retry cannot fix them) and *retry* (a lost connection,
a lock that timed out, throttling) by :func:`sparkify.errors.classify`."""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from sparkify.errors import fail_fast
from sparkify.lineage import WarehouseNaming
from sparkify.operators.stopping import stop_on_sigterm
from sparkify.warehouses import open_warehouse

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from sparkify.warehouses.base import Warehouse


class WarehouseOperator(BaseOperator):
    """Base of the operators that work on the warehouse.

    Subclasses implement :meth:`run`; :meth:`execute` opens the warehouse of ``redshift_conn_id`` (never
    at import or construction time) and turns errors that a retry cannot fix into
    ``AirflowFailException``, which fails the task without spending its retries.

    :param redshift_conn_id: the warehouse connection (Redshift or PostgreSQL; see
        :mod:`sparkify.warehouses`).
    """

    def __init__(self, *, redshift_conn_id: str = "redshift", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.redshift_conn_id = redshift_conn_id
        #: how OpenLineage names this run's warehouse tables, and what :meth:`run` returned
        self.lineage_naming: WarehouseNaming | None = None
        self.run_result: Any = None

    def execute(self, context: Any) -> Any:
        # configuration, data and installation errors (a bad cast, a duplicate key, a bucket that does not
        # exist, a module not installed) fail now; connection losses, throttling and anything unknown are
        # retried: sparkify.errors.classify decides, for every operator of the project
        with fail_fast(self.task_id):
            warehouse = open_warehouse(self.redshift_conn_id)
            # kept for get_openlineage_facets_on_complete/failure, which the listener calls after execute()
            self.lineage_naming = WarehouseNaming.of(warehouse)
            # a stop request rolls back and ends the task; the task's transactions share one session
            with stop_on_sigterm(self.task_id, warehouse), warehouse.session():
                self.run_result = self.run(warehouse, context)
            return self.run_result

    def get_openlineage_facets_on_start(self) -> OperatorLineage | None:
        """OpenLineage before the run: the datasets that ``get_openlineage_facets_on_complete`` names,
        without what only the run knows (objects read, rows, check results). Without it, the START event
        would fall back to the task's outlets, whose names are not the spec's."""
        complete = getattr(self, "get_openlineage_facets_on_complete", None)
        if complete is None:
            return None
        if self.lineage_naming is None:
            self.lineage_naming = WarehouseNaming.of(open_warehouse(self.redshift_conn_id))
        return complete(None)

    @abstractmethod
    def run(self, warehouse: Warehouse, context: Any) -> Any:
        """The operator's work, on an open warehouse."""
