"""A checks transaction asks the server each scalar question once."""

from __future__ import annotations

from sparkify.quality import Check
from sparkify.quality.observe import AnswersOnce, observe, scalar

WINDOW_COUNT = "select count(*) from songplays where start_time >= %(window_start)s and start_time < %(window_end)s"
HOUR = {"window_start": "2018-11-01T00:00:00", "window_end": "2018-11-01T01:00:00"}


class Server:
    """A cursor that answers each query with how many queries it has been asked so far."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, object]] = []

    def execute(self, sql: str, params: object = None) -> None:
        self.asked.append((sql, params))

    def fetchone(self) -> tuple[int]:
        return (len(self.asked),)


def test_the_same_count_asked_by_three_checks_is_run_once() -> None:
    server = Server()
    cursor = AnswersOnce(server)
    checks = [
        Check("songplays", "row_count", WINDOW_COUNT),
        Check("songplays", "loaded_equals_staged", WINDOW_COUNT),
        Check("songplays", "orphans", "select count(*) from songplays where song_id is null"),
    ]
    assert observe(cursor, checks, HOUR) == [1, 1, 2]
    assert scalar(cursor, WINDOW_COUNT, HOUR) == 1  # a volume check's own count
    assert [sql for sql, _ in server.asked] == [WINDOW_COUNT, checks[2].sql]


def test_other_windows_and_plain_cursors_are_asked_again() -> None:
    server = Server()
    cursor = AnswersOnce(server)
    day_before = {"window_start": "2018-10-31T00:00:00", "window_end": "2018-10-31T01:00:00"}
    assert [scalar(cursor, WINDOW_COUNT, HOUR), scalar(cursor, WINDOW_COUNT, day_before)] == [1, 2]
    plain = Server()
    assert [scalar(plain, WINDOW_COUNT, HOUR), scalar(plain, WINDOW_COUNT, HOUR)] == [1, 2]
