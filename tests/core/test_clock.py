"""The loader's clock (core/clock.py): the real now unless shifted, shifts for a block only, read everywhere."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from core import clock
from sources.common import raw
from sources.common.windows import plan_windows

MOMENT = pendulum.datetime(2026, 3, 4, 5, 6, 7, tz="UTC")


def test_unshifted_it_is_the_real_now_in_utc() -> None:
    before = pendulum.now("UTC")
    now = clock.now()
    assert before <= now <= pendulum.now("UTC")
    assert now.utcoffset() == dt.timedelta(0)
    assert clock.current_offset() == dt.timedelta(0)


def test_shifted_to_reads_the_moment_and_runs_on() -> None:
    with clock.shifted_to(MOMENT) as moment:
        assert moment == MOMENT
        first = clock.now()
        assert abs((first - MOMENT).total_seconds()) < 1
        assert clock.now() >= first, "the shifted clock keeps running"
        assert raw.now_utc() >= first, "the fetch log's time is the clock's"
        windows = plan_windows(MOMENT.subtract(days=3), MOMENT.add(days=3), window_days=1)
        assert windows[-1].end <= clock.now() and windows[-1].end >= MOMENT, "windows end at the shifted now"
    assert abs((clock.now() - pendulum.now("UTC")).total_seconds()) < 1, "the real now again after the block"


def test_a_naive_moment_is_utc_and_offsets_nest() -> None:
    with clock.shifted_to(dt.datetime(2026, 3, 4, 5, 6, 7)):
        assert abs((clock.now() - MOMENT).total_seconds()) < 1
        with clock.offset(dt.timedelta(days=1)):
            assert abs((clock.now() - MOMENT.add(days=1)).total_seconds()) < 1
        assert abs((clock.now() - MOMENT).total_seconds()) < 1


def test_the_offset_is_undone_when_the_block_fails() -> None:
    with pytest.raises(RuntimeError), clock.offset(dt.timedelta(days=-5)):
        raise RuntimeError("boom")
    assert clock.current_offset() == dt.timedelta(0)
