"""BI-safe publishing: readers in another process, querying in a loop during runs, see only complete states,
and a reader holding the warehouse open never makes the load fail."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pendulum
import pytest
from helpers import query

from simulators.greenarrow import GreenArrowSim

NOW = pendulum.now("UTC")

READER = textwrap.dedent("""
    import json, os, sys, time
    import duckdb
    path, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(out, "w") as log:
        while not os.path.exists(stop):
            try:
                con = duckdb.connect(path, read_only=True)
                try:
                    run = con.execute("select run_id, fact_rows_total from analytics.load_runs "
                                      "order by finished_at desc limit 1").fetchone()
                    facts = con.execute("select count(*) from analytics.fact_campaign_metrics").fetchone()[0]
                    dims = con.execute("select count(*) from analytics.dim_campaign").fetchone()[0]
                    dq = con.execute("select count(*) from analytics.data_quality").fetchone()[0]
                    log.write(json.dumps({"run": run[0], "logged": run[1], "facts": facts, "dims": dims,
                                          "dq": dq}) + "\\n")
                finally:
                    con.close()
            except Exception as exc:
                log.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\\n")
            log.flush()
            time.sleep(0.01)
""")


@pytest.fixture
def configured(configure) -> GreenArrowSim:
    sim = GreenArrowSim(now=NOW, lists=2, campaigns_per_list=6, days=40, max_links=900)
    configure(sim, start_days=45, SOURCES__GREENARROW__LINK_STATS_PER_PAGE="100")
    return sim


def test_a_reader_looping_during_runs_sees_only_complete_states(configured: GreenArrowSim, run_cli,
                                                                  warehouse: Path, tmp_path: Path) -> None:
    assert run_cli("run", "--warehouse", warehouse) == 0
    stop, out = tmp_path / "stop", tmp_path / "reader.jsonl"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(warehouse), str(stop), str(out)])
    try:
        time.sleep(0.5)
        for _ in range(2):
            configured.grow()
            assert run_cli("run", "--warehouse", warehouse) == 0
        time.sleep(0.3)
    finally:
        stop.touch()
        reader.wait(timeout=30)
    observations = [json.loads(line) for line in out.read_text().splitlines()]
    errors = [o["error"] for o in observations if "error" in o]
    assert not errors, errors[:3]
    assert len(observations) > 20
    for o in observations:
        assert o["facts"] == o["logged"], "the fact table always matches the run log of the same publish"
        assert o["dims"] > 0 and o["dq"] > 0, "dimension and quality tables are always there"
    assert len({o["run"] for o in observations}) >= 2, "the reader saw the publishes happen"


def test_an_open_bi_connection_does_not_block_the_load(configured: GreenArrowSim, run_cli,
                                                       warehouse: Path) -> None:
    assert run_cli("run", "--warehouse", warehouse) == 0
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, time
        con = duckdb.connect({str(warehouse)!r}, read_only=True)
        con.execute("select count(*) from analytics.fact_campaign_metrics").fetchone()
        print("open", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        configured.grow()
        assert run_cli("run", "--warehouse", warehouse) == 0
        runs = query(warehouse, "select count(distinct run_id) from analytics.load_runs")
        assert runs == [(2,)]
    finally:
        holder.kill()
        holder.wait()


def test_the_published_file_holds_what_bi_reads_read_only_and_raw_stays_in_the_stores(
        configured: GreenArrowSim, run_cli, warehouse: Path) -> None:
    assert run_cli("run", "--warehouse", warehouse) == 0
    schemas = {s for (s,) in query(warehouse, "select schema_name from information_schema.schemata "
                                              "where catalog_name = current_database()")}
    assert "analytics" in schemas and "raw" not in schemas, "raw history is not published"
    assert warehouse.stat().st_mode & 0o222 == 0, "the published file is read-only"
    store = warehouse.parent / f".{warehouse.name}.etl" / "stores" / "greenarrow.duckdb"
    with duckdb.connect(str(store), read_only=True) as con:
        fetches = con.execute("select count(*) from raw.greenarrow_fetches").fetchone()[0]
    assert fetches > 0 and query(warehouse, "select count(*) from raw.greenarrow_fetches") == [(fetches,)]
    configured.grow()
    wal = warehouse.with_name(warehouse.name + ".wal")
    wal.write_bytes(b"a foreign writer's log")
    assert run_cli("run", "--warehouse", warehouse) == 0
    assert not wal.exists(), "a WAL beside the published file is never replayed into the new state"


def test_a_failed_transform_publishes_nothing(configured: GreenArrowSim, run_cli, warehouse: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_cli("run", "--warehouse", warehouse) == 0
    before = query(warehouse, "select count(*), max(run_id) from analytics.load_runs")
    import transforms

    def broken(*args, **kwargs):
        raise transforms.TransformError("transform 10_staging/x.sql failed: simulated")

    monkeypatch.setattr("pipelines.runner.run_transforms", broken)
    configured.grow()
    assert run_cli("run", "--warehouse", warehouse) == 1
    assert query(warehouse, "select count(*), max(run_id) from analytics.load_runs") == before
    monkeypatch.undo()
    monkeypatch.setenv("SOURCES__GREENARROW__BASE_URL", "http://127.0.0.1:1")  # no provider needed any more
    assert run_cli("transform", "--warehouse", warehouse) == 0, "raw loaded by the failed run is kept"
    outcomes = query(warehouse, "select outcome, message from analytics.load_runs order by finished_at")
    assert outcomes[-1][0] == "failed" and "not published" in outcomes[-1][1], "the failure is in the run log"
    assert query(warehouse, "select count(*) from raw.greenarrow_fetches")[0][0] > 0
