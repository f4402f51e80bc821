"""Shoplive value parsing: the shared SQL macros (transforms/sql/00_macros/values.sql) with Shoplive's field kinds
(shoplive_kinds.sql), on floats, integers and numeric strings."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

MACROS = Path(__file__).parents[2] / "transforms" / "sql" / "00_macros"


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    for name in ("values.sql", "shoplive_kinds.sql"):
        connection.execute((MACROS / name).read_text())
    return connection


def parse(con: duckdb.DuckDBPyConnection, raw_json: str, kind: str) -> tuple:
    return con.execute("select etl__value(v, ?), etl__unit(v, ?), etl__reason(v, ?) "
                       "from (select ?::json as v)", [kind, kind, kind, raw_json]).fetchone()


@pytest.mark.parametrize(("raw_json", "kind", "expected"), [
    ("123456", "count", (123456.0, "count", None)),
    ("1.0", "count", (1.0, "count", None)),           # documented integer, example float
    ('"1.0"', "count", (1.0, "count", None)),
    ('"2.9"', "count", (2.9, "count", None)),
    ('"470,621,008"', "count", (470621008.0, "count", None)),
    ("1851840", "seconds", (1851840.0, "seconds", None)),
    ('"15"', "seconds", (15.0, "seconds", None)),
    ("7", "auto", (7.0, "count", None)),
    ('"LIVE"', "auto", (None, "count", None)),          # unknown text stays in raw
    ("null", "auto", (None, "count", None)),           # an unknown field without a value
    ("null", "count", (None, "count", "null")),        # a known one lost its value upstream: quarantined
    ("-3", "count", (None, "count", "negative count")),
    ('"-15"', "seconds", (None, "seconds", "negative seconds")),
    ('"1000000000000000000000000000000"', "count", (None, "count", "out of range: magnitude >= 2^63")),
    ('"Infinity"', "seconds", (None, "seconds", "not finite: Infinity")),
    ('"n/a"', "seconds", (None, "seconds", 'not a seconds value: "n/a"')),
    ("true", "count", (None, "count", "not a count value: a JSON boolean")),
])
def test_values(con, raw_json: str, kind: str, expected: tuple) -> None:
    assert parse(con, raw_json, kind) == expected


def test_field_kinds_and_names(con) -> None:
    row = con.execute("""select etl__snake('peakConcurrentViewers'), etl__snake('likes'),
        shoplive__stats_kind('totalViewingTime'), shoplive__stats_kind('averageLikes'),
        shoplive__stats_kind('campaignKey'), shoplive__stats_kind('scheduledAt'), shoplive__stats_kind('newThing')
    """).fetchone()
    assert row == ("peak_concurrent_viewers", "likes", "seconds", "count", "descriptive", "descriptive", "auto")
