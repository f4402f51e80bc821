"""All five providers through ``campaign-etl demo``: the metric dictionary, docs, quality checks and views hold
for the whole warehouse, not only for one provider."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from helpers import query

from core.providers import PROVIDER_NAMES
from transforms import dictionary, read_seeds

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS = set(PROVIDER_NAMES)


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import os

    from pipelines.cli import main

    folder = tmp_path_factory.mktemp("demo")
    saved = os.getcwd()
    os.chdir(folder)
    try:
        os.environ["CAMPAIGN_ETL_QUIET"] = "1"
        assert main(["demo", "--warehouse", str(folder / "demo.duckdb")]) == 0
    finally:
        os.chdir(saved)
    return folder / "demo.duckdb"


def test_demo_loads_all_five_providers(demo_warehouse: Path) -> None:
    loaded = {r[0] for r in query(demo_warehouse, "select distinct provider from analytics.fact_campaign_metrics")}
    assert loaded == PROVIDERS
    runs = query(demo_warehouse, "select provider, outcome from analytics.load_runs")
    assert sorted(runs) == sorted((p, "ok") for p in PROVIDERS)


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
        where open_rate > 1 or click_rate > 1 or delivery_rate > 1 or conversion_rate > 1""")
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
