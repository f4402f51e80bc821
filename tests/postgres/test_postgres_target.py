"""The PostgreSQL target against a real PostgreSQL server: the same numbers as the DuckDB file in every analytics
column, readers that never see a half-published state, an interrupted publish that leaves the previous state,
a rerun that sends nothing it need not, the documented queries, and credentials that never show."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import duckdb
import pendulum
import psycopg2
import pytest
from helpers import cli, fact, five_simulators, one_sentence

from simulators.greenarrow import GreenArrowSim
from transforms import catalog

NOW = pendulum.now("UTC")
PASSWORD = "pg-test-secret-7c1d"   # the test server's (tests/postgres/conftest.py)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "warehouse.md"


def relations_of_duckdb(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with duckdb.connect(str(path), read_only=True) as con:
        names = [r[0] for r in con.execute("select table_name from information_schema.tables "
                                           "where table_schema = 'analytics' order by 1").fetchall()]
        for name in names:
            columns = con.execute(f"select * from analytics.{name} limit 0").description
            json_columns = {i for i, c in enumerate(columns) if str(c[1]).upper() == "JSON"}
            rows = con.execute(f"select * from analytics.{name}").fetchall()
            out[name] = sorted((tuple(json.loads(v) if i in json_columns and v is not None else v
                                      for i, v in enumerate(row)) for row in rows), key=repr)
    return out


def relations_of_postgres(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with psycopg2.connect(dsn) as con, con.cursor() as cur:
        cur.execute("select table_name from information_schema.tables where table_schema = 'analytics' order by 1")
        for (name,) in cur.fetchall():
            cur.execute(f'select * from analytics."{name}"')
            out[name] = sorted((tuple(row) for row in cur.fetchall()), key=repr)
    return out


def comments_of_postgres(dsn: str) -> dict[tuple[str, str | None], str | None]:
    """(table, column) -> its comment, (table, None) -> the table's, for schema analytics: what a BI tool shows."""
    with psycopg2.connect(dsn) as con, con.cursor() as cur:
        cur.execute("""select c.relname, a.attname, col_description(c.oid, a.attnum)
            from pg_class c join pg_namespace n on n.oid = c.relnamespace
            join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
            where n.nspname = 'analytics' and c.relkind = 'r'
            union all
            select c.relname, null, obj_description(c.oid, 'pg_class')
            from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'analytics' and c.relkind = 'r'""")
        return {(table, column): text for table, column, text in cur.fetchall()}


def inserted(dsn: str, table: str) -> int:
    """Rows ever inserted into ``analytics.<table>`` (PostgreSQL's statistics, flushed first)."""
    with psycopg2.connect(dsn) as con, con.cursor() as cur:
        cur.execute("select pg_stat_force_next_flush()")
        cur.execute("select n_tup_ins from pg_stat_user_tables where schemaname = 'analytics' and relname = %s",
                    [table])
        row = cur.fetchone()
    return int(row[0]) if row else 0


def test_every_analytics_column_in_postgres_equals_the_duckdb_file(configure, run_cli, warehouse: Path,
                                                                  postgres_dsn: str, capsys) -> None:
    sims = five_simulators(configure)
    assert run_cli("run", "--warehouse", warehouse) == 0
    published = relations_of_postgres(postgres_dsn)
    assert set(published) == {r.name for r in catalog.relations()}
    assert published == relations_of_duckdb(warehouse)
    assert comments_of_postgres(postgres_dsn) == {
        (r.name, column): text for r in catalog.relations()
        for column, text in [(None, r.comment), *((c.name, c.meaning) for c in r.columns)]}
    for sim in sims.values():
        sim.grow()
    assert run_cli("run", "--warehouse", warehouse) == 0
    assert relations_of_postgres(postgres_dsn) == relations_of_duckdb(warehouse), "a nightly's changes arrive"
    assert fact(warehouse, "greenarrow") == sims["greenarrow"].truth_fact_rows()
    assert PASSWORD not in capsys.readouterr().err


@pytest.fixture
def greenarrow(configure) -> GreenArrowSim:
    sim = GreenArrowSim(now=NOW, lists=2, campaigns_per_list=6, days=40, max_links=900)
    configure(sim, start_days=45, SOURCES__GREENARROW__LINK_STATS_PER_PAGE="100")
    return sim


def test_a_rerun_that_changes_nothing_sends_no_fact_row(greenarrow: GreenArrowSim, run_cli, warehouse: Path,
                                                        postgres_dsn: str) -> None:
    assert run_cli("run", "--warehouse", warehouse) == 0
    before = {t: inserted(postgres_dsn, t) for t in ("fact_campaign_metrics", "fact_campaign_metrics_history",
                                                    "dim_campaign")}
    assert before["fact_campaign_metrics"] > 0
    assert run_cli("transform", "--warehouse", warehouse) == 0, "a full rebuild from raw, same numbers"
    assert {t: inserted(postgres_dsn, t) for t in before} == before, "nothing of the facts is sent again"
    assert relations_of_postgres(postgres_dsn) == relations_of_duckdb(warehouse)

    greenarrow.grow()
    assert run_cli("run", "--warehouse", warehouse) == 0
    sent = inserted(postgres_dsn, "fact_campaign_metrics") - before["fact_campaign_metrics"]
    total = len(relations_of_postgres(postgres_dsn)["fact_campaign_metrics"])
    assert 0 < sent < total, "a nightly sends the scopes it rebuilt, not the whole fact"
    assert relations_of_postgres(postgres_dsn) == relations_of_duckdb(warehouse)


READER = textwrap.dedent("""
    import json, os, sys, time
    import psycopg2
    dsn, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
    con = psycopg2.connect(dsn)
    con.autocommit = True          # each query its own snapshot, as a BI tool's
    with open(out, "w") as log, con.cursor() as cur:
        while not os.path.exists(stop):
            try:
                cur.execute('''select (select run_id from analytics.load_runs order by finished_at desc limit 1),
                                      (select fact_rows_total from analytics.load_runs
                                       order by finished_at desc limit 1),
                                      (select count(*) from analytics.fact_campaign_metrics),
                                      (select count(*) from analytics.dim_campaign)''')
                run, logged, facts, dims = cur.fetchone()
                log.write(json.dumps({"run": run, "logged": logged, "facts": facts, "dims": dims}) + "\\n")
            except Exception as exc:
                log.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\\n")
            log.flush()
            time.sleep(0.005)
""")


def test_a_reader_holding_its_connection_sees_only_whole_states(greenarrow: GreenArrowSim, run_cli,
                                                                warehouse: Path, postgres_dsn: str,
                                                                tmp_path: Path) -> None:
    assert run_cli("run", "--warehouse", warehouse) == 0
    stop, out = tmp_path / "stop", tmp_path / "reader.jsonl"
    reader = subprocess.Popen([sys.executable, "-c", READER, postgres_dsn, str(stop), str(out)])
    try:
        time.sleep(0.5)
        for _ in range(2):
            greenarrow.grow()
            assert run_cli("run", "--warehouse", warehouse) == 0
            assert run_cli("transform", "--warehouse", warehouse) == 0
        time.sleep(0.3)
    finally:
        stop.touch()
        reader.wait(timeout=30)
    seen = [json.loads(line) for line in out.read_text().splitlines()]
    assert seen and not [s for s in seen if "error" in s], seen[:3]
    assert all(s["logged"] == s["facts"] for s in seen), "every state read is whole: its run log matches its fact"
    runs = list(dict.fromkeys(s["run"] for s in seen))
    assert len(runs) == 3, "the held connection saw each new state at its next query"


def test_an_interrupted_publish_leaves_the_previous_state(greenarrow: GreenArrowSim, run_cli, warehouse: Path,
                                                          postgres_dsn: str, monkeypatch: pytest.MonkeyPatch,
                                                          capsys) -> None:
    from pipelines import postgres

    assert run_cli("run", "--warehouse", warehouse) == 0
    before = relations_of_postgres(postgres_dsn)
    real = postgres._copy_rows
    calls = 0

    def dies_half_way(*args: Any, **kwargs: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise psycopg2.OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    monkeypatch.setattr(postgres, "_copy_rows", dies_half_way)
    greenarrow.grow()
    capsys.readouterr()
    assert run_cli("run", "--warehouse", warehouse) == 1
    err = capsys.readouterr().err
    assert "previous state stays" in err and "Traceback" not in err
    assert relations_of_postgres(postgres_dsn) == before, "nothing of the cut publish is visible"
    monkeypatch.setattr(postgres, "_copy_rows", real)
    assert run_cli("run", "--warehouse", warehouse) == 0
    assert relations_of_postgres(postgres_dsn) == relations_of_duckdb(warehouse), "the next publish converges"
    assert fact(warehouse, "greenarrow") == greenarrow.truth_fact_rows()


def test_status_and_the_documented_postgres_queries_work_on_the_target(greenarrow: GreenArrowSim, run_cli,
                                                                       warehouse: Path, postgres_dsn: str,
                                                                       capsys) -> None:
    assert run_cli("run", "--warehouse", warehouse) == 0
    capsys.readouterr()
    assert run_cli("status", "--warehouse", warehouse) == 0
    out = capsys.readouterr().out
    assert re.search(r"PostgreSQL \S+:\d+/w_\w+: published ", out), out
    assert PASSWORD not in out
    section = DOCS.read_text().split("### PostgreSQL forms", 1)[1].split("\n## ", 1)[0]
    queries = re.findall(r"```sql\n(.*?)```", section, re.S)
    assert len(queries) == 3
    results = []
    with psycopg2.connect(postgres_dsn) as con, con.cursor() as cur:
        for sql in queries:
            cur.execute(sql)
            results.append(cur.fetchall())
    assert results[0] and results[2], "weekly clicks and opens after send have rows for GreenArrow"


def test_credentials_never_show_and_bad_targets_are_one_sentence(greenarrow: GreenArrowSim, warehouse: Path,
                                                                 postgres_dsn: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k.startswith("SOURCES__")}
    wrong = postgres_dsn.replace(PASSWORD, "not-the-password-3f9a")
    refused = cli("run", "--warehouse", warehouse, cwd=tmp_path,
                  env={**env, "DESTINATION__POSTGRES__CREDENTIALS": wrong})
    assert refused.returncode == 1
    line = one_sentence(refused)
    assert "cannot connect to the PostgreSQL warehouse" in line and "not-the-password" not in line
    assert not warehouse.exists(), "nothing was loaded for a target that cannot be published to"

    for value in ("md:analytics", "postgresql://u:hunter2secret@localhost/db", "snowflake://acct/db"):
        bad = cli("run", "--warehouse", value, cwd=tmp_path, env=env)
        assert bad.returncode == 2, bad.stderr
        assert "not a DuckDB file path" in one_sentence(bad) and "hunter2secret" not in bad.stderr
    assert not list(tmp_path.glob("md:*")) and not (tmp_path / "md:analytics").exists()
    via_dlt = cli("run", cwd=tmp_path,
                  env={**env, "DESTINATION__DUCKDB__CREDENTIALS": "postgresql://u:hunter2secret@h/db"})
    assert via_dlt.returncode == 2 and "hunter2secret" not in via_dlt.stderr + via_dlt.stdout
    other = cli("run", "--warehouse", warehouse, cwd=tmp_path,
                env={**env, "DESTINATION__BIGQUERY__CREDENTIALS": '{"project_id": "p"}'})
    assert other.returncode == 2 and "destination 'bigquery'" in one_sentence(other)

    ok = cli("run", "--warehouse", warehouse, cwd=tmp_path,
             env={**env, "DESTINATION__POSTGRES__CREDENTIALS": postgres_dsn})
    assert ok.returncode == 0, ok.stderr
    status = cli("status", "--warehouse", warehouse, cwd=tmp_path,
                 env={**env, "DESTINATION__POSTGRES__CREDENTIALS": postgres_dsn})
    assert PASSWORD not in ok.stdout + ok.stderr + status.stdout + status.stderr
    with psycopg2.connect(postgres_dsn) as con, con.cursor() as cur:
        cur.execute("select string_agg(coalesce(message, ''), '') from analytics.load_runs")
        assert PASSWORD not in (cur.fetchone()[0] or "")
