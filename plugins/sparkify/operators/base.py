"""The small base of the project's operators: a warehouse connection id, and errors sorted into
*fail now* (bad data, bad configuration: a retry cannot fix them) and *retry* (a lost connection,
a lock that timed out, throttling) by :func:`sparkify.errors.classify`."""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from sparkify.catalogue import CatalogueError
from sparkify.errors import FAIL, ConfigurationError, classify
from sparkify.json_copy import StagingDataError
from sparkify.lineage import WarehouseNaming
from sparkify.quality.check import CheckDefinitionError
from sparkify.stopping import stop_on_sigterm
from sparkify.warehouses import UnknownTargetError, open_warehouse

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from sparkify.warehouses.base import Warehouse

#: Raised by this package for what no retry can fix.
FAIL_NOW: tuple[type[BaseException], ...] = (
    StagingDataError,
    ConfigurationError,
    UnknownTargetError,
    CatalogueError,
    CheckDefinitionError,
)


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
        try:
            warehouse = open_warehouse(self.redshift_conn_id)
            # kept for get_openlineage_facets_on_complete/failure, which the listener calls after execute()
            self.lineage_naming = WarehouseNaming.of(warehouse)
            with stop_on_sigterm(self.task_id, warehouse):  # a stop request rolls back and ends the task
                self.run_result = self.run(warehouse, context)
            return self.run_result
        except AirflowFailException:
            raise
        except FAIL_NOW as error:
            raise AirflowFailException(f"{self.task_id}: {error}") from None
        except Exception as error:
            # configuration and data errors (a bad cast, a duplicate key, a bucket that does not exist)
            # fail now; connection losses, throttling and anything unknown are retried: sparkify.errors
            if classify(error) == FAIL:
                raise AirflowFailException(f"{self.task_id}: {error}") from error
            raise

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
