"""A full disk is one sentence naming the path, exit 1, the published warehouse intact; the next run, with
space again, converges. The disk is a real small tmpfs mounted for the test (the machine's tests run as root)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pendulum
import pytest
from helpers import cli, fact, one_sentence, query

from simulators.greenarrow import DEFAULT_CREDENTIALS, GreenArrowSim

NOW = pendulum.now("UTC")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.fail(f"this test mounts a small tmpfs and needs root ('mount -t tmpfs'): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """Write a filler file until only about ``leave`` bytes are free on ``disk``."""
    stats = os.statvfs(disk)
    free = stats.f_bavail * stats.f_frsize
    filler = disk / "filler"
    with open(filler, "wb") as handle:
        remaining = max(0, free - leave)
        chunk = b"\0" * (1 << 20)
        while remaining > 0:
            handle.write(chunk[: min(len(chunk), remaining)])
            remaining -= len(chunk)
    return filler


@pytest.mark.slow
@pytest.mark.parametrize("leave", [32 * 1024, 512 * 1024, 3 * 1024 * 1024])
def test_a_full_disk_is_one_sentence_and_keeps_the_published_warehouse(
        leave: int, small_disk: Path, serve, tmp_path: Path) -> None:
    sim = GreenArrowSim(now=NOW, lists=2, campaigns_per_list=6, days=60, max_links=650)
    server = serve(sim)
    env = {"SOURCES__GREENARROW__BASE_URL": server.url, "SOURCES__GREENARROW__API_KEY": DEFAULT_CREDENTIALS,
           "START_DATE": NOW.subtract(days=70).to_date_string(), "SOURCES__GREENARROW__LINK_STATS_PER_PAGE": "200",
           "SOURCES__GREENARROW__LOOKBACK_DAYS": "60"}
    warehouse = small_disk / "w.duckdb"
    assert cli("run", "--warehouse", warehouse, cwd=tmp_path, env=env).returncode == 0
    before = query(warehouse, "select * from analytics.fact_campaign_metrics order by all")
    filler = fill(small_disk, leave)
    sim.grow(3)
    result = cli("-q", "run", "--warehouse", warehouse, cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stderr
    line = one_sentence(result)
    assert "no space left on the device of" in line and str(small_disk) in line, line
    assert query(warehouse, "select * from analytics.fact_campaign_metrics order by all") == before
    filler.unlink()
    again = cli("run", "--warehouse", warehouse, cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert fact(warehouse, "greenarrow") == sim.truth_fact_rows()
    assert not list(small_disk.glob(".w.duckdb.publishing-*"))
