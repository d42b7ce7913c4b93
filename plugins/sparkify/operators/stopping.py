"""Stop a task cleanly when asked to (SIGTERM), also under ``airflow dags test``.

Airflow's task runner answers SIGTERM by calling the operator's ``on_kill()`` and carrying on: a
supervised task is then killed by its supervisor, but ``airflow dags test`` has no supervisor, so a
stop request was ignored and staging ran to its end (issue 10, item 12). While a warehouse task runs,
:func:`stop_on_sigterm` adds to Airflow's handler: it cancels the statement the warehouse is running
(so the server stops at once and releases its locks) and raises ``AirflowTaskTerminated`` in the task.
The transaction in progress rolls back; what committed before it (staged objects with their ledger
rows) stays, so a rerun picks up where the stopped run left off. The task fails without retries: a
stop request is not a fault that a retry should undo.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowTaskTerminated

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sparkify.warehouses.base import Warehouse


@contextlib.contextmanager
def stop_on_sigterm(task_id: str, warehouse: Warehouse) -> Iterator[None]:
    """While the block runs, SIGTERM cancels ``warehouse``'s statements and stops the task."""
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)

    def stop(signum: int, frame: Any) -> None:
        if callable(previous):
            previous(signum, frame)  # Airflow's: the operator's on_kill()
        warehouse.cancel_running()
        raise AirflowTaskTerminated(
            f"{task_id}: stopped by a stop request (SIGTERM): the transaction in progress was rolled back;"
            " what committed before it stays, and a rerun goes on from there"
        )

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
