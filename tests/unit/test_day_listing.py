"""Which objects hold a window's events: every object of each day, and a word about what is left out."""

from __future__ import annotations

import datetime as dt

import pytest

from sparkify.sources import LocalSource
from sparkify.staging.day_listing import DayListing, day_prefix_pattern
from sparkify.window import Window

UTC = dt.UTC
UDACITY = "log_data/%Y/%m/%Y-%m-%d-events.json"


def make(root, *keys: str) -> LocalSource:
    for key in keys:
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}\n")
    return LocalSource(root)


def window(first: int, last: int) -> Window:
    """Whole days ``first``..``last`` of November 2018."""
    last_day = dt.datetime(2018, 11, last, tzinfo=UTC)
    return Window(dt.datetime(2018, 11, first, tzinfo=UTC), last_day + dt.timedelta(days=1))


def test_every_object_of_a_window_day_is_listed_and_other_days_are_left_to_their_windows(tmp_path) -> None:
    source = make(
        tmp_path,
        "log_data/2018/11/2018-11-01-events.json",
        "log_data/2018/11/2018-11-02-events.json",
        "log_data/2018/11/2018-11-02-events-late-upload.json",  # a second file for the 2nd
        "log_data/2018/11/2018-11-02-part-0002",  # a split file without extension
        "log_data/2018/11/2018-11-03-events.json",  # outside the window
    )
    listing = DayListing(source, UDACITY, window(1, 2))

    assert [o.key for o in listing] == [
        "log_data/2018/11/2018-11-01-events.json",
        "log_data/2018/11/2018-11-02-events-late-upload.json",
        "log_data/2018/11/2018-11-02-events.json",
        "log_data/2018/11/2018-11-02-part-0002",
    ]
    assert listing.report() == []


def test_objects_of_no_day_and_marker_files_are_reported_not_staged(tmp_path) -> None:
    source = make(
        tmp_path,
        "log_data/2018/11/2018-11-01-events.json",
        "log_data/2018/11/late-events.json",  # named for no day: no window would ever read it
        "log_data/2018/11/_SUCCESS",
    )
    listing = DayListing(source, UDACITY, window(1, 1))

    assert [o.key for o in listing] == ["log_data/2018/11/2018-11-01-events.json"]
    assert listing.skipped_count == 2
    (line,) = listing.report()
    assert "2 object(s) under log_data/2018/11/ are not staged" in line
    assert f"{tmp_path}/log_data/2018/11/late-events.json (named for no day)" in line
    assert f"{tmp_path}/log_data/2018/11/_SUCCESS (named for no day)" in line


def test_firehose_layout_stages_everything_below_the_day_folder_but_markers(tmp_path) -> None:
    source = make(
        tmp_path,
        "log_data/2018/11/01/00/sparkify-1-2018-11-01-00-05-17-0f3a",
        "log_data/2018/11/01/13/sparkify-1-2018-11-01-13-55-02-9b1c",
        "log_data/2018/11/01/13/_SUCCESS",
        "log_data/2018/11/02/00/sparkify-1-2018-11-02-00-01-00-aaaa",
    )
    listing = DayListing(source, "log_data/%Y/%m/%d/", window(1, 1))

    assert [o.key for o in listing] == [
        "log_data/2018/11/01/00/sparkify-1-2018-11-01-00-05-17-0f3a",
        "log_data/2018/11/01/13/sparkify-1-2018-11-01-13-55-02-9b1c",
    ]
    assert listing.skipped == [("log_data/2018/11/01/13/_SUCCESS", "hidden or marker file")]


def test_missing_days_are_one_line_of_ranges_however_many(tmp_path) -> None:
    source = make(tmp_path, "log_data/2018/11/2018-11-04-events.json", "log_data/2018/11/2018-11-20-events.json")
    listing = DayListing(source, UDACITY, window(1, 30))
    assert len(list(listing)) == 2

    (line,) = listing.report()
    assert "no objects for 28 of 30 day(s)" in line
    assert "2018-11-01..2018-11-03, 2018-11-05..2018-11-19, 2018-11-21..2018-11-30" in line


def test_a_window_across_months_lists_each_month_folder_once(tmp_path) -> None:
    source = make(tmp_path, "log_data/2018/11/2018-11-30-events.json", "log_data/2018/12/2018-12-01-events.json")
    span = Window(dt.datetime(2018, 11, 30, tzinfo=UTC), dt.datetime(2018, 12, 2, tzinfo=UTC))
    listing = DayListing(source, UDACITY, span)
    assert listing.folders() == ["log_data/2018/11/", "log_data/2018/12/"]
    assert len(list(listing)) == 2 and listing.report() == []


def test_a_pattern_without_day_field_is_refused() -> None:
    assert day_prefix_pattern(UDACITY) == "log_data/%Y/%m/%Y-%m-%d"
    with pytest.raises(ValueError, match="no day field"):
        day_prefix_pattern("log_data/%Y/%m/events.json")


def test_a_margin_lists_the_neighbouring_days_without_reporting_them_missing(tmp_path) -> None:
    source = make(
        tmp_path,
        "log_data/2018/11/2018-11-01-events.json",
        "log_data/2018/11/2018-11-02-events.json",
        "log_data/2018/11/2018-11-04-events.json",
    )
    listing = DayListing(source, UDACITY, window(2, 2), margin_days=1)

    assert [o.key for o in listing] == [
        "log_data/2018/11/2018-11-01-events.json",
        "log_data/2018/11/2018-11-02-events.json",
    ]
    assert listing.day_of == {
        "log_data/2018/11/2018-11-01-events.json": dt.date(2018, 11, 1),
        "log_data/2018/11/2018-11-02-events.json": dt.date(2018, 11, 2),
    }
    assert listing.report() == []  # the 3rd is a neighbour, not a day of the window
