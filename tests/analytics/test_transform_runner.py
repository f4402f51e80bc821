"""The transform runner on hand-made raw rows: newest fetch wins per scope, an empty fetch removes a scope's
rows, errors are not inserted twice, a failing model names its file and rolls everything back, the
dimension follows a campaign's newest execution, and a batch reads only its own providers' field views."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest

from transforms import TransformError, run_transforms

FACT = """-- materialize: fact
-- inputs: toy_items
select provider, account_id, campaign_id, 'total' as breakdown_type, 'total' as breakdown_value,
    cast(null as timestamp) as period_start, cast(null as timestamp) as period_end,
    'clicks' as metric, cast(payload ->> '$.clicks' as double) as value, 'count' as unit,
    cast(null as varchar) as currency, cast(fetched_at as timestamp) as observed_at, scope_key
from src_toy_items
where is_current
"""
DIM = """-- materialize: dim
-- inputs: toy_items
select provider, account_id, campaign_id, payload ->> '$.name' as campaign_name, 'email' as channel,
    payload ->> '$.state' as status, try_cast(payload ->> '$.started' as timestamp) as started_at,
    try_cast(payload ->> '$.finished' as timestamp) as finished_at, cast(null as timestamp) as scheduled_at,
    cast(null as json) as details, cast(fetched_at as timestamp) as observed_at
from src_toy_items
where is_new
"""
LINEAGE = """provider varchar, account_id varchar, campaign_id varchar, endpoint varchar, window_start timestamptz,
    window_end timestamptz, request_params json, fetched_at timestamptz, run_id varchar, fetch_id varchar,
    scope_key varchar, payload json, _dlt_load_id varchar"""


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    c = duckdb.connect(str(tmp_path / "t.duckdb"))
    c.execute("attach ':memory:' as raw")  # what pipelines.stores.reading shows of the raw stores
    c.execute(f"create table raw.toy_items ({LINEAGE})")
    c.execute(f"create table raw.toy_fetches ({LINEAGE}, records bigint)")
    c.execute("""create table raw.toy_errors (provider varchar, account_id varchar, campaign_id varchar,
        endpoint varchar, window_start timestamptz, window_end timestamptz, http_status bigint, reason varchar,
        run_id varchar, observed_at timestamptz, _dlt_load_id varchar)""")
    return c


@pytest.fixture
def sql_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "sql" / "10_staging"
    folder.mkdir(parents=True)
    (folder / "stg_toy__items.sql").write_text(FACT)
    (folder / "stg_toy__campaigns.sql").write_text(DIM)
    return tmp_path / "sql"


def land(con: duckdb.DuckDBPyConnection, load: str, fetch: str, campaign: str, at: str,
         payloads: list[dict]) -> None:
    scope = f"toy|a|{campaign}|details"
    for payload in payloads:
        con.execute("insert into raw.toy_items values ('toy', 'a', ?, 'items', null, null, '{}', ?, 'r', ?, ?, ?, ?)",
                    [campaign, at, fetch, scope, json.dumps(payload), load])
    con.execute("insert into raw.toy_fetches values ('toy', 'a', ?, 'items', null, null, '{}', ?, 'r', ?, ?, null, "
                "?, ?)", [campaign, at, fetch, scope, load, len(payloads)])


def facts(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    return dict(con.execute("select campaign_id, value from staging.fact_rows").fetchall())


def test_newest_fetch_wins_and_an_empty_fetch_removes(con, sql_dir: Path) -> None:
    land(con, "100.1", "f1", "c1", "2026-01-01 10:00:00+00", [{"clicks": 5}])
    land(con, "100.1", "f2", "c2", "2026-01-01 10:00:00+00", [{"clicks": 7}])
    run_transforms(con, sql_dir=sql_dir)
    assert facts(con) == {"c1": 5.0, "c2": 7.0}
    land(con, "200.5", "f3", "c1", "2026-01-02 10:00:00+00", [{"clicks": 9}])
    land(con, "200.5", "f4", "c2", "2026-01-02 10:00:00+00", [])          # c2 vanished upstream
    result = run_transforms(con, sql_dir=sql_dir)
    assert facts(con) == {"c1": 9.0}
    assert result.dirty_scopes == 2 and result.per_provider_changed == {"toy": 2}
    # an older fetch loaded late never overrides a newer one
    land(con, "300.2", "f0", "c1", "2025-12-31 10:00:00+00", [{"clicks": 1}])
    run_transforms(con, sql_dir=sql_dir)
    assert facts(con) == {"c1": 9.0}
    history = con.execute("select campaign_id, observed_date, value from staging.fact_history_rows "
                          "order by all").fetchall()
    assert [(c, str(d), v) for c, d, v in history] == [("c1", "2025-12-31", 1.0), ("c1", "2026-01-01", 5.0),
                                                       ("c1", "2026-01-02", 9.0), ("c2", "2026-01-01", 7.0)]
    before = con.execute("select * from staging.fact_rows order by all").fetchall()
    run_transforms(con, full=True, sql_dir=sql_dir)
    assert con.execute("select * from staging.fact_rows order by all").fetchall() == before


def test_errors_are_not_inserted_twice(con, sql_dir: Path) -> None:
    con.execute("insert into raw.toy_errors values ('toy', 'a', 'c9', 'items', null, null, 404, 'gone', 'r', "
                "'2026-01-01 00:00:00+00', '100.1')")
    run_transforms(con, sql_dir=sql_dir)
    run_transforms(con, sql_dir=sql_dir)
    assert con.execute("select count(*) from analytics.extraction_errors").fetchone()[0] == 1


def test_a_failing_model_names_its_file_and_rolls_back(con, sql_dir: Path) -> None:
    land(con, "100.1", "f1", "c1", "2026-01-01 10:00:00+00", [{"clicks": 5}])
    run_transforms(con, sql_dir=sql_dir)
    land(con, "200.1", "f2", "c1", "2026-01-02 10:00:00+00", [{"clicks": 6}])
    (sql_dir / "10_staging" / "stg_toy__broken.sql").write_text(
        "-- materialize: fact\n-- inputs: toy_items\nselect no_such_column from src_toy_items\n")
    with pytest.raises(TransformError, match=re.escape("stg_toy__broken.sql")):
        run_transforms(con, sql_dir=sql_dir)
    assert facts(con) == {"c1": 5.0}, "nothing of the failed transform is visible"
    (sql_dir / "10_staging" / "stg_toy__broken.sql").unlink()
    run_transforms(con, sql_dir=sql_dir)
    assert facts(con) == {"c1": 6.0}, "the next transform picks the load up"


def test_dimension_follows_the_newest_execution(con, sql_dir: Path) -> None:
    land(con, "100.1", "f1", "c1", "2026-01-01 10:00:00+00",
         [{"name": "Old", "state": "completed", "started": "2026-01-01 08:00:00", "finished": "2026-01-01 09:00:00"}])
    run_transforms(con, sql_dir=sql_dir)
    land(con, "200.1", "f2", "c1", "2026-01-08 10:00:00+00",
         [{"state": "running", "started": "2026-01-08 08:00:00"}])
    run_transforms(con, sql_dir=sql_dir)
    row = con.execute("select campaign_name, status, started_at, finished_at, first_seen_at, last_seen_at "
                      "from analytics.dim_campaign").fetchone()
    assert row[0] == "Old", "a name not repeated is kept"
    assert row[1] == "running" and str(row[2]) == "2026-01-08 08:00:00"
    assert row[3] is None, "a running execution has no end: the previous run's end does not linger"
    assert (str(row[4]), str(row[5])) == ("2026-01-01 10:00:00", "2026-01-08 10:00:00")


FIELDS = """-- materialize: intermediate
-- inputs: toy_items
select '{provider}' as provider, account_id, campaign_id, 'total' as breakdown_type, 'total' as breakdown_value,
    cast(null as timestamp) as period_start, cast(null as timestamp) as period_end,
    'clicks' as metric, cast(payload ->> '$.clicks' as double) as value, 'count' as unit,
    cast(null as varchar) as currency, cast(fetched_at as timestamp) as observed_at, scope_key
from src_toy_items
where is_current
"""


def test_a_batch_reads_only_the_field_views_of_its_providers(con, tmp_path: Path) -> None:
    # two per-provider field views over the same raw rows: the batch holds only toy's fetches, so the view of
    # "other" must be empty in it (the fact would hold every row twice), and toy's must be the model as written
    sql = tmp_path / "narrow"
    (sql / "20_intermediate" / "by_provider").mkdir(parents=True)
    (sql / "30_marts").mkdir()
    for provider in ("toy", "other"):
        (sql / "20_intermediate" / "by_provider" / f"int_{provider}__fields.sql").write_text(
            FIELDS.format(provider=provider))
    union = "select * from int_other__fields union all select * from int_toy__fields\n"
    (sql / "30_marts" / "fct.sql").write_text("-- materialize: fact\n" + union)
    land(con, "100.1", "f1", "c1", "2026-01-01 10:00:00+00", [{"clicks": 5}])
    land(con, "100.1", "f2", "c2", "2026-01-01 10:00:00+00", [{"clicks": 7}])
    run_transforms(con, sql_dir=sql)
    rows = con.execute("select provider, campaign_id, value from staging.fact_rows order by all").fetchall()
    assert rows == [("toy", "c1", 5.0), ("toy", "c2", 7.0)]
