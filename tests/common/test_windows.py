"""The window grid: coverage without gaps or overlap, maximum length, clamping, lookback."""

from __future__ import annotations

import datetime as dt
import itertools

import pendulum
import pytest

from core.errors import ConfigError
from sources.common.windows import grid_floor, nightly_range, plan_windows, utc

NOW = pendulum.datetime(2026, 11, 23, 11, 30, tz="UTC")  # a Monday


@pytest.mark.parametrize("window_days", [1, 3, 7, 14])
@pytest.mark.parametrize("start,end", [("2026-01-01", "2026-03-01"), ("2026-02-11", "2026-02-12"),
                                       ("2025-12-29", "2026-11-30"), ("2026-11-20", "2026-12-31")])
def test_windows_cover_the_range_contiguously_without_overlap(start: str, end: str, window_days: int) -> None:
    windows = plan_windows(start, end, window_days=window_days, now=NOW)
    lo, hi = utc(start), min(utc(end), NOW)
    assert windows, "a non-empty range has windows"
    assert windows[0].start <= lo < windows[0].grid_end
    assert windows[-1].start < hi <= windows[-1].grid_end
    for a, b in itertools.pairwise(windows):
        assert a.grid_end == b.start, "contiguous, no gap and no overlap"
    for w in windows:
        assert (w.grid_end - w.start).in_days() == window_days
        assert w.end <= NOW and w.end <= w.grid_end and w.start < w.end


def test_weeks_start_on_monday_and_days_on_midnight() -> None:
    for w in plan_windows("2026-03-04", "2026-05-01", window_days=7, now=NOW):
        assert w.start.day_of_week == pendulum.MONDAY and w.start.hour == 0
    for w in plan_windows("2026-03-04T13:00:00Z", "2026-03-09", window_days=1, now=NOW):
        assert (w.start.hour, w.start.minute) == (0, 0)


def test_the_grid_does_not_depend_on_the_run() -> None:
    a = plan_windows("2026-01-01", "2026-06-01", window_days=7, now=NOW)
    b = plan_windows("2026-02-18", "2026-04-02", window_days=7, now=NOW)
    starts = {w.start for w in a}
    assert all(w.start in starts for w in b), "a later run's windows are windows of the earlier grid"


def test_last_window_is_clamped_to_now_and_keyed_by_start() -> None:
    windows = plan_windows("2026-11-01", "2026-12-31", window_days=7, now=NOW.add(days=2))
    last = windows[-1]
    assert last.start == pendulum.datetime(2026, 11, 23, tz="UTC")
    assert last.end == NOW.add(days=2) and last.is_clamped and last.key == "2026-11-23"
    assert last.grid_end == pendulum.datetime(2026, 11, 30, tz="UTC")
    assert last.last_day == dt.date(2026, 11, 25)


def test_inclusive_last_day_of_a_full_window() -> None:
    w = plan_windows("2026-06-01", "2026-06-02", window_days=7, now=NOW)[0]
    assert w.start.to_date_string() == "2026-06-01" and w.last_day == dt.date(2026, 6, 7)


def test_max_window_length_is_enforced() -> None:
    with pytest.raises(ConfigError, match="maximum of 7"):
        plan_windows("2026-01-01", "2026-02-01", window_days=14, now=NOW, max_window_days=7)
    with pytest.raises(ConfigError):
        plan_windows("2026-01-01", "2026-02-01", window_days=0, now=NOW)


def test_empty_and_future_ranges() -> None:
    assert plan_windows("2026-03-01", "2026-03-01", window_days=1, now=NOW) == []
    assert plan_windows("2027-01-01", "2027-02-01", window_days=1, now=NOW) == []


def test_bad_dates_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a date"):
        plan_windows("2026-13-01", "2026-14-01", window_days=1, now=NOW)


def test_nightly_range_uses_the_lookback_before_the_cursor() -> None:
    start = pendulum.datetime(2026, 1, 1, tz="UTC")
    cursor = pendulum.datetime(2026, 11, 20, 3, tz="UTC")
    lo, hi = nightly_range(cursor, start_date=start, lookback_days=30, now=NOW)
    assert lo == cursor.subtract(days=30) and hi == NOW
    lo, _ = nightly_range(None, start_date=start, lookback_days=30, now=NOW)
    assert lo == start, "the first run starts at start_date"
    lo, _ = nightly_range(pendulum.datetime(2026, 1, 10, tz="UTC"), start_date=start, lookback_days=30, now=NOW)
    assert lo == start, "the lookback never reaches before start_date"
    with pytest.raises(ConfigError):
        nightly_range(cursor, start_date=start, lookback_days=-1, now=NOW)


def test_grid_floor_handles_dates_before_the_origin() -> None:
    assert grid_floor(pendulum.datetime(1969, 12, 31, 5, tz="UTC"), 7) == pendulum.datetime(1969, 12, 29, tz="UTC")
