#!/usr/bin/env python3
"""Print each failed task of an ``airflow dags test`` log with its exception's message.

    python scripts/task_failures.py LOG        (scripts/demo.sh, when the run fails)

A failed run's log holds every task's output: COPY's notices, retries, Airflow's own lines. What a user needs
on the console is which task failed and why: the task id (from ``[DAG TEST] starting task_id=…``) and the
last exception of the traceback that follows ``Task failed with exception``, message lines included.
Prints nothing, and exits 1, when the log holds no failed task (the caller then says where the log is).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
_STARTING = re.compile(r"\[DAG TEST\] starting task_id=(\S+)")
_FAILED = "Task failed with exception"


def _exception_text(traceback: list[str]) -> str:
    """The final exception of a printed traceback: the lines after its last frame (``  File …`` and the
    indented source and caret lines under it)."""
    last_frame = max((i for i, line in enumerate(traceback) if line.startswith("  File ")), default=-1)
    rest = traceback[last_frame + 1 :]
    while rest and rest[0].startswith("    "):
        rest = rest[1:]
    return "\n".join(line for line in rest if line.strip()).strip()


def failures(lines: list[str]) -> list[tuple[str, str]]:
    """``[(task_id, exception text)]`` in the order the tasks failed."""
    found: list[tuple[str, str]] = []
    task = "?"
    i = 0
    while i < len(lines):
        started = _STARTING.search(lines[i])
        if started:
            task = started.group(1)
        if _FAILED in lines[i] and _LOG_LINE.match(lines[i]):
            block = []
            i += 1
            while i < len(lines) and not _LOG_LINE.match(lines[i]):
                block.append(lines[i])
                i += 1
            found.append((task, _exception_text(block)))
            continue
        i += 1
    return found


def main() -> int:
    lines = Path(sys.argv[1]).read_text(errors="replace").splitlines()
    found = failures(lines)
    for task, message in found:
        print(f"FAILED {task}:\n" + "\n".join(f"  {line}" for line in message.splitlines()))
    return 0 if found else 1


if __name__ == "__main__":
    sys.exit(main())
