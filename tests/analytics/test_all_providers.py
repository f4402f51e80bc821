"""All five providers through ``campaign-etl demo``: the metric dictionary, docs, quality checks and views hold
for the whole warehouse, not only for one provider."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from helpers import demo_copy, query

from core.providers import PROVIDER_NAMES
from pipelines import stores
from pipelines.demo import DEMO_NIGHTS
from pipelines.warehouse import WorkArea
from transforms import catalog, dictionary, read_seeds
from transforms.seeds import STATUSES

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS = set(PROVIDER_NAMES)


@pytest.fixture(scope="module")
def demo_warehouse(built_demo: tuple[Path, subprocess.CompletedProcess[str]],
                   tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_copy(built_demo, tmp_path_factory, "demo")[0]


def test_demo_loads_all_five_providers(demo_warehouse: Path) -> None:
    loaded = {r[0] for r in query(demo_warehouse, "select distinct provider from analytics.fact_campaign_metrics")}
    assert loaded == PROVIDERS
    runs = query(demo_warehouse, "select provider, outcome, count(*) from analytics.load_runs group by all")
    assert sorted(runs) == sorted((p, "ok", DEMO_NIGHTS + 1) for p in PROVIDERS), "a run per simulated night"
    # the demo pulls the date-range providers by day, so the daily view has days
    days = query(demo_warehouse, "select distinct provider, period_days from analytics.daily_campaign_metrics")
    assert sorted(days) == [("insider", 1), ("shoplive", 1)]
    assert (demo_warehouse.parent / "campaign_report.html").stat().st_size > 10_000, "the demo writes its report"


def test_every_fact_metric_is_in_the_dictionary(demo_warehouse: Path) -> None:
    listed = {(r["provider"], r["metric"]) for r in read_seeds()}
    in_fact = set(query(demo_warehouse, "select distinct provider, metric from analytics.fact_campaign_metrics"))
    missing = sorted(in_fact - listed)
    assert not missing, f"metrics neither mapped nor listed as provider-only: {missing}"


def test_the_dictionary_maps_the_core_metrics_of_every_provider() -> None:
    conformed = {(r["provider"], r["conformed_metric"]) for r in read_seeds() if r["conformed_metric"]}
    for provider in PROVIDERS:
        names = {c for p, c in conformed if p == provider}
        assert names & {"sent", "delivered", "viewers"}, f"{provider} maps no volume metric"
    for provider in ("greenarrow", "insider", "shoplive", "parrot"):
        assert any(p == provider and c.startswith("clicks") for p, c in conformed), provider
    seeds = {(r["provider"], r["metric"]): r["conformed_metric"] for r in read_seeds()}
    assert seeds[("experiture", "sent")] == "delivered" and seeds[("experiture", "injected")] == "sent"
    assert seeds[("greenarrow", "messages_sent")] == "sent" and seeds[("greenarrow", "total_messages")] is None


def test_docs_metrics_md_is_generated_from_the_dictionary() -> None:
    assert dictionary.main(["--check"]) == 0, "run: .venv/bin/python -m transforms.dictionary"
    text = (ROOT / "docs" / "metrics.md").read_text()
    for row in read_seeds():
        assert f"`{row['metric']}`" in text


def test_quality_checks_pass_on_the_demo(demo_warehouse: Path) -> None:
    bad = query(demo_warehouse, "select check_name, provider, status, detail from analytics.data_quality "
                                "where status <> 'pass'")
    assert bad == []
    checked = {r[0] for r in query(demo_warehouse, "select distinct provider from analytics.data_quality")}
    assert checked == PROVIDERS


def test_campaign_performance_has_one_row_per_campaign(demo_warehouse: Path) -> None:
    dup = query(demo_warehouse, """select provider, account_id, campaign_id, count(*) from
        analytics.campaign_performance group by all having count(*) > 1""")
    assert dup == []
    per_provider = dict(query(demo_warehouse, "select provider, count(*) from analytics.campaign_performance "
                                              "group by all"))
    assert set(per_provider) == PROVIDERS
    rates = query(demo_warehouse, """select count(*) from analytics.campaign_performance
        where open_rate > 1 or click_rate_unique > 1 or click_rate_total > 1 or delivery_rate > 1
           or conversion_rate > 1""")
    assert rates == [(0,)]


def test_docs_example_queries_run_unchanged(demo_warehouse: Path) -> None:
    text = (ROOT / "docs" / "warehouse.md").read_text()
    queries = re.findall(r"```sql\n(.*?)```", text, re.S)
    assert len(queries) >= 3
    with duckdb.connect(str(demo_warehouse), read_only=True) as con:
        for sql in queries:
            assert con.execute(sql).fetchall(), f"no rows from:\n{sql}"


def test_status_reports_all_five(demo_warehouse: Path, run_cli, capsys) -> None:
    assert run_cli("status", "--warehouse", demo_warehouse) == 0
    out = capsys.readouterr().out
    for provider in PROVIDERS:
        assert re.search(rf"^\s*{provider}\s+\S", out, re.M), provider


DERIVED = {
    "staging.fact_rows": "select * from staging.fact_rows",
    "staging.fact_history_rows": "select * from staging.fact_history_rows",
    "analytics.quarantined_values": "select * from analytics.quarantined_values",
    "analytics.dim_campaign": "select * from analytics.dim_campaign",
    "analytics.extraction_errors": "select * from analytics.extraction_errors",
}


def derived_rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {table: sorted(con.execute(sql).fetchall(), key=repr) for table, sql in DERIVED.items()}


def copy_work(demo_warehouse: Path, target: Path) -> Path:
    shutil.copy(demo_warehouse.parent / f".{demo_warehouse.name}.etl" / "work.duckdb", target)
    return target


@contextlib.contextmanager
def transforming(demo_warehouse: Path, work: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """``work`` (a copy of the demo's work file) open as a transform has it: the demo's raw stores attached."""
    with duckdb.connect(str(work)) as con, stores.reading(con, WorkArea(demo_warehouse).stores()):
        yield con


def rebuilt_copy(demo_warehouse: Path, target: Path) -> Path:
    """A copy of the demo's work file, its analytics rebuilt from raw alone."""
    from transforms import run_transforms

    with transforming(demo_warehouse, copy_work(demo_warehouse, target)) as con:
        run_transforms(con, full=True)
    return target


def test_small_transform_batches_give_the_same_warehouse(demo_warehouse: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from transforms import runner

    whole = derived_rows(rebuilt_copy(demo_warehouse, tmp_path / "whole.duckdb"))
    assert whole["staging.fact_rows"] and whole["staging.fact_history_rows"] and whole["analytics.dim_campaign"]
    monkeypatch.setattr(runner, "BATCH_ROWS", 300)
    batched = rebuilt_copy(demo_warehouse, tmp_path / "batched.duckdb")
    assert derived_rows(batched) == whole


def test_a_full_rebuild_cut_short_is_followed_by_a_full_rebuild(demo_warehouse: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from transforms import runner

    expected = derived_rows(rebuilt_copy(demo_warehouse, tmp_path / "whole.duckdb"))
    work = copy_work(demo_warehouse, tmp_path / "cut.duckdb")
    monkeypatch.setattr(runner, "BATCH_ROWS", 300)
    real = runner.changed_fact_rows
    calls = 0

    def crash_on_the_third_batch(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "changed_fact_rows", crash_on_the_third_batch)
    with transforming(demo_warehouse, work) as con, pytest.raises(RuntimeError):
        runner.run_transforms(con, full=True)
    monkeypatch.setattr(runner, "changed_fact_rows", real)
    with transforming(demo_warehouse, work) as con:
        again = runner.run_transforms(con)
    assert again.full, "the layout stays unmarked until a full rebuild completes"
    assert derived_rows(work) == expected


def test_a_batch_too_large_for_memory_is_redone_in_halves(demo_warehouse: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB running out of memory on a batch rolls it back and redoes it in halves: the warehouse and the
    counts equal those of an undivided rebuild; nothing is applied twice."""
    from transforms import runner

    work = copy_work(demo_warehouse, tmp_path / "whole.duckdb")
    with transforming(demo_warehouse, work) as con:
        whole = runner.run_transforms(con, full=True)
    expected = derived_rows(work)
    fits = 25     # fetches a batch may hold before the stand-in for DuckDB's limit gives up
    seen: list[int] = []

    def fetches(con: duckdb.DuckDBPyConnection, table: str) -> int:
        (n,), = con.execute(f"select count(*) from {table}").fetchall()
        return int(n)

    real_changed, real_insert = runner.changed_fact_rows, runner.insert_facts

    def changed_or_out_of_memory(con: duckdb.DuckDBPyConnection, batch: str) -> dict[str, int]:
        seen.append(fetches(con, batch))
        if seen[-1] > fits:   # after the batch's deletes and inserts: the rollback must undo them
            raise duckdb.OutOfMemoryException("Out of Memory Error: failed to pin block (stand-in)")
        return real_changed(con, batch)

    def insert_or_out_of_memory(con: duckdb.DuckDBPyConnection, model: object, target: str, *args: object) -> int:
        if target == runner.HISTORY_TARGET and fetches(con, "history_batch") > fits:
            raise duckdb.OutOfMemoryException("Out of Memory Error: failed to pin block (stand-in)")
        return real_insert(con, model, target, *args)

    monkeypatch.setattr(runner, "changed_fact_rows", changed_or_out_of_memory)
    monkeypatch.setattr(runner, "insert_facts", insert_or_out_of_memory)
    split = copy_work(demo_warehouse, tmp_path / "split.duckdb")
    with transforming(demo_warehouse, split) as con:
        result = runner.run_transforms(con, full=True)
    assert max(seen) > fits and len([n for n in seen if n <= fits]) > 1, "a batch was split"
    assert (result.fact_rows_inserted, result.fact_rows_deleted, result.per_provider_changed) == (
        whole.fact_rows_inserted, whole.fact_rows_deleted, whole.per_provider_changed)
    assert derived_rows(split) == expected


# -- the BI layer: catalog and comments, conformed status, integer counts, daily / weekly / accumulation views --


def test_docs_warehouse_md_is_generated_from_the_catalog() -> None:
    assert catalog.main(["--check"]) == 0, "run: .venv/bin/python -m transforms.catalog"


def test_the_catalog_describes_every_analytics_relation_and_column_with_its_type(demo_warehouse: Path) -> None:
    columns = query(demo_warehouse, """select table_name, column_name, data_type from information_schema.columns
        where table_schema = 'analytics' order by table_name, ordinal_position""")
    actual: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in columns:
        actual.setdefault(table, []).append((column, data_type))
    documented = {r.name: [(c.name, c.type) for c in r.columns] for r in catalog.relations()}
    assert actual == documented
    kinds = dict(query(demo_warehouse, """select table_name, lower(replace(table_type, 'BASE ', ''))
        from information_schema.tables where table_schema = 'analytics'"""))
    assert kinds == {r.name: r.kind for r in catalog.relations()}


def test_every_analytics_relation_and_column_carries_its_catalog_comment(demo_warehouse: Path) -> None:
    """What a BI tool's data browser shows: the comments of DuckDB's catalog, never a bare name."""
    comments = {(t, c): text for t, c, text in query(demo_warehouse, """select table_name, column_name, comment
        from duckdb_columns() where schema_name = 'analytics'""")}
    expected = {(r.name, c.name): c.meaning for r in catalog.relations() for c in r.columns}
    assert comments == expected
    assert all(text and len(text) > 10 for text in comments.values())
    relations = dict(query(demo_warehouse, """select table_name, comment from duckdb_tables()
        where schema_name = 'analytics' union all
        select view_name, comment from duckdb_views() where schema_name = 'analytics'"""))
    assert relations == {r.name: r.comment for r in catalog.relations()}


def test_campaign_status_is_conformed_and_counts_are_integers(demo_warehouse: Path) -> None:
    statuses = query(demo_warehouse, """select distinct provider, provider_status, status
        from analytics.campaign_performance where provider_status is not null""")
    assert {p for p, _, _ in statuses} == PROVIDERS
    assert {s for _, _, s in statuses} <= set(STATUSES)
    assert all(s is not None for _, _, s in statuses), statuses
    assert ("shoplive", "ENDED", "completed") in statuses and ("insider", "Active", "sending") in statuses
    types = dict(query(demo_warehouse, """select column_name, data_type from information_schema.columns
        where table_schema = 'analytics' and table_name = 'campaign_performance'"""))
    for column in ("sent", "delivered", "opens_unique", "clicks_unique", "clicks_total", "conversions", "viewers"):
        assert types[column] == "BIGINT", column
    assert types["revenue"] == types["click_rate_unique"] == types["click_rate_total"] == "DOUBLE"
    # one meaning each: the unique rate counts people, the total rate clicks (GreenArrow has both, Insider totals)
    rates = query(demo_warehouse, """select provider, count(click_rate_unique), count(click_rate_total),
            count(*) filter (where abs(click_rate_unique - clicks_unique / delivered) > 1e-12
                             or abs(click_rate_total - clicks_total / delivered) > 1e-12)
        from analytics.campaign_performance where provider in ('greenarrow', 'insider') group by all""")
    by_provider = {p: (unique, total, wrong) for p, unique, total, wrong in rates}
    assert by_provider["greenarrow"][0] > 0 and by_provider["greenarrow"][1] > 0
    assert by_provider["insider"][0] == 0 and by_provider["insider"][1] > 0
    assert all(wrong == 0 for _, _, wrong in by_provider.values())


def test_weekly_rollup_sums_to_the_campaign_figures(demo_warehouse: Path) -> None:
    """Additive counts summed over the weeks give the campaigns' totals; unique counts too where every campaign has
    one period (lifetime providers); rates are recomputed from the week's counts."""
    weekly = {p: row for p, *row in query(demo_warehouse, """select provider, sum(sent), sum(delivered),
        sum(clicks_total), sum(conversions), sum(opens_unique), sum(campaigns)
        from analytics.weekly_provider_metrics group by all""")}
    campaigns = {p: row for p, *row in query(demo_warehouse, """select provider, sum(sent), sum(delivered),
        sum(clicks_total), sum(conversions), sum(opens_unique), count(*) filter (where periods is not null)
        from analytics.campaign_performance group by all""")}
    assert set(weekly) == PROVIDERS
    for provider in PROVIDERS:
        assert weekly[provider][:5] == campaigns[provider][:5], provider
    assert weekly["greenarrow"][4] is not None and weekly["greenarrow"][4] > 0
    assert weekly["greenarrow"][5] == campaigns["greenarrow"][5], "a lifetime campaign counts in one week"
    wrong = query(demo_warehouse, """select count(*) from analytics.weekly_provider_metrics
        where abs(click_rate_total - clicks_total / delivered) > 1e-12
           or abs(delivery_rate - delivered / sent) > 1e-12 or isodow(week_start) <> 1""")
    assert wrong == [(0,)]


def test_daily_view_has_each_window_of_the_date_range_providers(demo_warehouse: Path) -> None:
    rows = query(demo_warehouse, """select provider, count(*), count(distinct campaign_id), min(period_days),
        max(period_days) from analytics.daily_campaign_metrics group by all order by 1""")
    assert [r[0] for r in rows] == ["insider", "shoplive"]
    windows = dict(query(demo_warehouse, """select provider, count(distinct (campaign_id, period_start))
        from analytics.fact_campaign_metrics where period_start is not null and breakdown_type = 'total'
        group by all"""))
    assert {p: n for p, n, *_ in rows} == windows
    assert all(1 <= low <= high <= 7 for *_, low, high in rows)
    per_campaign = query(demo_warehouse, """select d.provider, d.campaign_id, sum(d.clicks_total),
            any_value(c.clicks_total)
        from analytics.daily_campaign_metrics as d
        join analytics.campaign_performance as c using (provider, account_id, campaign_id)
        group by all having sum(d.clicks_total) is distinct from any_value(c.clicks_total)""")
    assert per_campaign == []
    # a window's unique count is that window's own (Shoplive viewers: every window has it)
    viewers = query(demo_warehouse, """select count(*), count(viewers) from analytics.daily_campaign_metrics
        where provider = 'shoplive'""")
    assert viewers[0][0] == viewers[0][1] > 0


def test_date_dimension_covers_every_date_the_views_have(demo_warehouse: Path) -> None:
    (days, first, last, distinct), = query(demo_warehouse, """select count(*), min(date_day), max(date_day),
        count(distinct date_day) from analytics.dim_date""")
    assert days == distinct == (last - first).days + 1, "one row per day, no gap"
    missing = query(demo_warehouse, """
        select d from (select metric_date as d from analytics.daily_campaign_metrics
                       union select week_start from analytics.weekly_provider_metrics
                       union select observed_date from analytics.campaign_accumulation)
        where d not in (select date_day from analytics.dim_date)""")
    assert missing == []


def test_accumulation_ends_at_the_latest_figures(demo_warehouse: Path) -> None:
    """The last observed day of every campaign shows what campaign_performance shows."""
    differ = query(demo_warehouse, """
        with last as (select * from analytics.campaign_accumulation
                      qualify observed_date = max(observed_date) over (partition by provider, account_id, campaign_id))
        select l.provider, l.campaign_id from last as l
        join analytics.campaign_performance as c using (provider, account_id, campaign_id)
        where l.opens_unique is distinct from c.opens_unique or l.clicks_total is distinct from c.clicks_total
           or l.conversions is distinct from c.conversions""")
    assert differ == []
    span = query(demo_warehouse, "select count(*) > 0, min(days_after_send) >= 0 from analytics.campaign_accumulation")
    assert span == [(True, True)]


def test_provider_freshness_has_every_provider(demo_warehouse: Path) -> None:
    rows = query(demo_warehouse, """select provider, last_outcome, freshness_status, hours_since_success >= 0,
        fact_rows > 0, campaigns > 0 from analytics.provider_freshness order by 1""")
    assert [r[0] for r in rows] == sorted(PROVIDERS)
    assert all(r[1:] == ("ok", "pass", True, True, True) for r in rows), rows
