"""Date windows on a fixed grid (UTC days; weeks start on Monday).

Every run, nightly or backfill, cuts its range into the same grid cells, so a re-pull of a window replaces
exactly what an earlier pull of that window loaded: windows never overlap, whatever the run's start and end.
The cell that holds ``now`` is clamped to ``now`` and keyed by its start; it grows on later runs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pendulum

from core import clock
from core.errors import ConfigError

UTC = pendulum.UTC
# Dates a run may ask for. No provider keeps campaign data from before 2000, and a year past 2099 is a typo;
# refusing both up front keeps absurd ranges (0001-01-01, 9999-12-31) from reaching date arithmetic or a provider.
EARLIEST_DATE = dt.date(2000, 1, 1)
LATEST_DATE = dt.date(2099, 12, 31)
# Monday 1970-01-05: the origin of every multi-day grid, so 7-day cells are ISO weeks.
_GRID_ORIGIN = pendulum.datetime(1970, 1, 5, tz=UTC)


@dataclass(frozen=True, order=True)
class Window:
    """A half-open UTC interval ``[start, end)`` on the grid; ``grid_end`` is the cell's unclamped end."""

    start: pendulum.DateTime
    end: pendulum.DateTime
    grid_end: pendulum.DateTime

    @property
    def is_clamped(self) -> bool:
        return self.end < self.grid_end

    def contains(self, moment: dt.datetime) -> bool:
        """Whether ``moment`` lies in ``[start, end)``."""
        return self.start <= moment < self.end

    @property
    def key(self) -> str:
        return self.start.format("YYYY-MM-DD")

    @property
    def last_day(self) -> dt.date:
        """The inclusive last calendar day a date-only API should be asked for."""
        return (self.end - dt.timedelta(microseconds=1)).date()

    def __str__(self) -> str:
        end = self.end.to_iso8601_string() if self.is_clamped else self.end.format("YYYY-MM-DD")
        return f"{self.start.format('YYYY-MM-DD')}..{end}"


def utc(value: dt.datetime | dt.date | str) -> pendulum.DateTime:
    """Any date, datetime or ISO string as an aware UTC pendulum datetime (naive means UTC)."""
    if isinstance(value, str):
        try:
            parsed = pendulum.parse(value, tz=UTC)
        except (ValueError, OverflowError) as exc:
            raise ConfigError(f"'{value}' is not a date (expected YYYY-MM-DD).") from exc
        if not isinstance(parsed, pendulum.DateTime):
            if isinstance(parsed, pendulum.Date):
                return pendulum.datetime(parsed.year, parsed.month, parsed.day, tz=UTC)
            raise ConfigError(f"'{value}' is not a date (expected YYYY-MM-DD).")
        return parsed.in_timezone(UTC)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return pendulum.instance(value).in_timezone(UTC)
    return pendulum.datetime(value.year, value.month, value.day, tz=UTC)


def parse_time(value: object) -> pendulum.DateTime | None:
    """A provider's ISO-8601 timestamp as UTC, or None when it is absent or not a timestamp."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = pendulum.parse(value, tz=UTC)
    except (ValueError, OverflowError):
        return None
    return parsed.in_timezone(UTC) if isinstance(parsed, pendulum.DateTime) else None


def check_date_range(day: dt.date, what: str) -> dt.date:
    """``day`` when it lies in the supported range, else ConfigError naming ``what``."""
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise ConfigError(f"{what} {day.isoformat()} is outside the supported dates {EARLIEST_DATE.isoformat()} "
                          f"to {LATEST_DATE.isoformat()}.")
    return day


def grid_floor(moment: pendulum.DateTime, window_days: int) -> pendulum.DateTime:
    """Start of the grid cell holding ``moment``."""
    day = moment.in_timezone(UTC).start_of("day")
    if window_days == 1:
        return day
    origin = _GRID_ORIGIN if window_days % 7 == 0 else pendulum.datetime(1970, 1, 1, tz=UTC)
    days = (day - origin).in_days() if day >= origin else -((origin - day).in_days())
    cells = days // window_days
    return origin.add(days=cells * window_days)


def plan_windows(start: dt.datetime | dt.date | str, end: dt.datetime | dt.date | str, *, window_days: int,
                 now: dt.datetime | None = None, max_window_days: int | None = None) -> list[Window]:
    """Cut ``[start, end)`` into grid cells of ``window_days`` days.

    The cells cover the range with no gap and no overlap: the first is the cell holding ``start`` and the last
    the cell holding the instant before ``end``; a cell reaching past ``now`` ends at ``now``.

    Raises:
        ConfigError: ``window_days`` out of range, or ``start`` not before ``end``.
    """
    if window_days < 1:
        raise ConfigError(f"window_days must be at least 1, got {window_days}.")
    if max_window_days is not None and window_days > max_window_days:
        raise ConfigError(f"window_days {window_days} exceeds this provider's maximum of {max_window_days} days.")
    lo, hi = utc(start), utc(end)
    current = utc(now) if now is not None else clock.now()
    hi = min(hi, current)
    if lo >= hi:
        return []
    windows: list[Window] = []
    cell = grid_floor(lo, window_days)
    while cell < hi:
        cell_end = cell.add(days=window_days)
        windows.append(Window(start=cell, end=min(cell_end, current), grid_end=cell_end))
        cell = cell_end
    return windows


def nightly_range(cursor: dt.datetime | None, *, start_date: dt.datetime, lookback_days: int,
                  now: dt.datetime) -> tuple[pendulum.DateTime, pendulum.DateTime]:
    """The range a nightly run covers: ``lookback_days`` before the saved cursor (or ``start_date``) to now."""
    if lookback_days < 0:
        raise ConfigError(f"lookback_days must not be negative, got {lookback_days}.")
    first = utc(start_date)
    lo = utc(cursor).subtract(days=lookback_days) if cursor is not None else first
    return max(lo, first), utc(now)
