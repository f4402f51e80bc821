"""What ``campaign-etl status`` and the demo print, read as an operator would in a 120-column terminal."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pendulum
import pytest
from helpers import cli, demo_copy, query

from simulators.base import Faults, SimApp, SimServer
from simulators.experiture import ExperitureSim
from simulators.greenarrow import GreenArrowSim

NOW = pendulum.now("UTC")
WIDTH = 120
PROVIDERS = ("greenarrow", "insider", "shoplive", "experiture", "parrot")
NARROW = ["provider", "last_run", "mode", "outcome", "cursor", "fact_rows", "freshness", "open_errors", "pending"]
WIDE_ONLY = ["run_id", "campaigns", "last_observed", "last_good_run", "settled_skipped", "dq_failing"]
FRACTION = re.compile(r"\d{2}:\d{2}:\d{2}[.,]\d")
TIMESTAMP = re.compile(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z")


def assert_fits(text: str, width: int = WIDTH) -> None:
    long = [line for line in text.splitlines() if len(line) > width]
    assert not long, "\n".join(long)


def table(text: str, first_column: str = "provider") -> list[dict[str, str]]:
    """The first text table of ``text`` whose header starts with ``first_column``, as rows of cells (columns are
    right-aligned: a cell ends where its header ends)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [first_column])
    spans = [(m.group(), m.end()) for m in re.finditer(r"\S+", lines[start])]
    rows = []
    for line in lines[start + 1:]:
        if len(line) != len(lines[start]) or line.split()[0] not in PROVIDERS:
            break
        ends = [0] + [end for _, end in spans]
        rows.append({name: line[ends[i]:end].strip() for i, (name, end) in enumerate(spans)})
    return rows


def timestamp_cells(row: dict[str, str]) -> list[str]:
    return [v for v in row.values() if re.match(r"\d{4}-\d{2}-\d{2} ", v)]


@pytest.fixture(scope="module")
def demo(built_demo: tuple[Path, subprocess.CompletedProcess[str]],
         tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    return demo_copy(built_demo, tmp_path_factory, "demo")


def test_status_after_the_demo_fits_120_columns_to_the_second(demo: tuple[Path, Any]) -> None:
    warehouse, _ = demo
    status = cli("status", "--warehouse", str(warehouse), cwd=warehouse.parent)
    assert status.returncode == 0, status.stderr
    assert_fits(status.stdout)
    assert not FRACTION.search(status.stdout), status.stdout
    rows = table(status.stdout)
    assert [r["provider"] for r in rows] == list(PROVIDERS)
    assert list(rows[0]) == NARROW, "the default view's columns"
    last = dict(query(warehouse, "select provider, max(finished_at) from analytics.load_runs group by all"))
    for row in rows:
        assert row["outcome"] == "ok" and row["mode"] == "nightly" and row["open_errors"] == "0"
        assert row["last_run"] == last[row["provider"]].strftime("%Y-%m-%d %H:%M:%SZ"), "UTC, to the second"
        assert all(TIMESTAMP.fullmatch(cell) for cell in timestamp_cells(row)), row
        assert re.fullmatch(r"<1m|\d+m|\d+h\d{2}m|\d+d\d{2}h", row["freshness"]), row["freshness"]
    assert "status --wide" in status.stdout, "the default view says where the other columns are"


def test_status_wide_shows_every_column(demo: tuple[Path, Any]) -> None:
    warehouse, _ = demo
    wide = cli("status", "--wide", "--warehouse", str(warehouse), cwd=warehouse.parent)
    assert wide.returncode == 0, wide.stderr
    rows = table(wide.stdout)
    header = list(rows[0])
    for column in [c for c in NARROW if c != "pending"] + WIDE_ONLY + ["pending_windows"]:
        assert column in header, column
    assert not FRACTION.search(wide.stdout)
    runs = dict(query(warehouse, """select provider, arg_max(run_id, finished_at) from analytics.load_runs
                                    group by all"""))
    campaigns = dict(query(warehouse, """select provider, count(distinct campaign_id)
                                         from analytics.fact_campaign_metrics group by all"""))
    for row in rows:
        assert row["run_id"] == runs[row["provider"]]
        assert int(row["campaigns"]) == campaigns[row["provider"]]
        assert all(TIMESTAMP.fullmatch(cell) for cell in timestamp_cells(row)), row


def test_status_json_keeps_its_fields(demo: tuple[Path, Any]) -> None:
    warehouse, _ = demo
    result = cli("status", "--json", "--warehouse", str(warehouse), cwd=warehouse.parent)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["provider"] for r in rows] == list(PROVIDERS)
    for row in rows:
        assert {"last_run", "outcome", "cursor", "freshness_hours", "stale", "open_errors", "pending_windows",
                "failing_checks", "run_id", "last_observed"} <= set(row)
        assert isinstance(row["freshness_hours"], float) and row["cursor"].endswith("+00:00")


def test_the_demo_summary_shows_unique_and_total_clicks_apart(demo: tuple[Path, Any]) -> None:
    warehouse, result = demo
    assert not FRACTION.search(result.stdout), "the run summary has no sub-second timestamps"
    section = result.stdout.split("analytics.campaign_performance, summed over campaigns", 1)[1]
    rows = {r["provider"]: r for r in table(section)}
    assert set(rows) == set(PROVIDERS)
    header = list(next(iter(rows.values())))
    assert "clicks_unique" in header and "clicks_total" in header and "clicks" not in header

    def shown(value: str) -> float | None:
        return None if value == "-" else float(value)

    with duckdb.connect(str(warehouse), read_only=True) as con:
        for column in ("clicks_unique", "clicks_total", "opens_unique", "sent"):
            for provider, total, have, with_figures in con.execute(f"""
                    select provider, sum({column}), count({column}), count(periods)
                    from analytics.campaign_performance group by all""").fetchall():
                # a sum only when every campaign with figures has the figure: one meaning per column
                want = total if have and have == with_figures else None
                assert shown(rows[provider][column]) == want, (provider, column)
        # total clicks are additive: the fact table's total rows sum to the same figure
        facts = dict(con.execute("""select provider, sum(value) from analytics.fact_campaign_metrics
                                    where breakdown_type = 'total' and conformed_metric = 'clicks_total'
                                    group by all""").fetchall())
    for provider, row in rows.items():
        assert shown(row["clicks_total"]) == facts.get(provider), provider
    assert shown(rows["greenarrow"]["clicks_unique"]) is not None
    assert shown(rows["greenarrow"]["clicks_unique"]) <= shown(rows["greenarrow"]["clicks_total"])  # type: ignore[operator]
    assert rows["insider"]["clicks_unique"] == "-", "Insider reports all clicks only"
    assert rows["shoplive"]["clicks_unique"] == "-", "not one campaign's unique count mixed with others' totals"
    assert "shoplive: clicks_unique for " in section, "a provider with a partial unique figure says so"


def test_status_with_errors_and_long_messages_fits_120_columns(
        tmp_path: Path, serve: Callable[[SimApp], SimServer]) -> None:
    greenarrow = GreenArrowSim(now=NOW, lists=1, campaigns_per_list=3, days=20, max_links=600)
    experiture = ExperitureSim(now=NOW, campaigns=8, days=20, journeys=True)
    ga, ex = serve(greenarrow), serve(experiture)
    env = {**greenarrow.loader_env(ga.url), **experiture.loader_env(ex.url),
           "SOURCES__GREENARROW__START_DATE": NOW.subtract(days=25).to_date_string(),
           "SOURCES__EXPERITURE__START_DATE": NOW.subtract(days=25).to_date_string(),
           "SOURCES__EXPERITURE__RATE_LIMIT_REQUESTS": "1000", "SOURCES__GREENARROW__MAX_ATTEMPTS": "1",
           "SOURCES__GREENARROW__BACKOFF_BASE_SECONDS": "0.01"}
    warehouse = tmp_path / "w.duckdb"
    first = cli("run", "--warehouse", str(warehouse), cwd=tmp_path, env=env)
    assert first.returncode == 3, first.stderr   # Experiture's journey campaigns are skipped
    greenarrow.set_faults(Faults(share_5xx=1.0))
    start, end = NOW.subtract(days=60).to_date_string(), NOW.subtract(days=50).to_date_string()
    failed = cli("backfill", "--start", start, "--end", end, "--provider", "greenarrow", "--warehouse", str(warehouse),
                 cwd=tmp_path, env=env)
    assert failed.returncode == 1
    for output in (first.stdout, failed.stdout):
        assert_fits(output.replace(str(warehouse), "W"))
        assert not FRACTION.search(output)

    status = cli("status", "--warehouse", str(warehouse), cwd=tmp_path).stdout
    assert_fits(status.replace(str(warehouse), "W"))
    assert not FRACTION.search(status)
    (errors,), = query(warehouse, """select count(*) from analytics.extraction_errors
                                     where provider = 'experiture'""")
    assert errors > 0
    assert re.search(rf"^  experiture: {errors} \w+, e\.g\. ", status, re.M), status
    assert f"campaign-etl backfill --start {start} --end {end} --provider greenarrow" in status
    rows = {r["provider"]: r for r in table(status)}
    assert rows["greenarrow"]["outcome"] == "failed" and rows["experiture"]["open_errors"] == str(errors)

    # a very long message, with an exception's class name and an unbroken token, as an older run may have left
    token = "x" * 300
    message = ("greenarrow: EntitySkipped: GET /ga/api/v2/campaigns/123/link_stats answered something unexpected "
               + "and rather verbose " * 12 + token)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("""update analytics.load_runs set message = ? where provider = 'greenarrow'
                       and finished_at = (select max(finished_at) from analytics.load_runs
                                          where provider = 'greenarrow')""", [message])
        con.execute("update analytics.extraction_errors set reason = 'HTTPStatusError: ' || reason || ?",
                    [" with more detail" * 30])
    status = cli("status", "--warehouse", str(warehouse), cwd=tmp_path).stdout
    assert_fits(status.replace(str(warehouse), "W"))
    assert "answered something unexpected" in status and "EntitySkipped" not in status
    assert "HTTPStatusError" not in status
    assert "greenarrow: greenarrow:" not in status
    wide = cli("status", "--wide", "--warehouse", str(warehouse), cwd=tmp_path).stdout
    assert "run_id" in wide and not FRACTION.search(wide)
