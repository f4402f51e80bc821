"""Shoplive value parsing: the SQL macros of the staging files, on floats, integers and numeric strings."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

MACROS = Path(__file__).parents[2] / "transforms" / "sql" / "10_staging" / "stg_shoplive__00_macros.sql"


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute(MACROS.read_text())
    return connection


def parse(con: duckdb.DuckDBPyConnection, raw_json: str, kind: str) -> tuple:
    return con.execute("select shoplive__value(v, ?), shoplive__unit(?), shoplive__reason(v, ?) "
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
    ("null", "count", (None, "count", None)),
    ('"n/a"', "seconds", (None, "seconds", 'not a seconds value: "n/a"')),
    ("true", "count", (None, "count", "not a count value: a JSON boolean")),
])
def test_values(con, raw_json: str, kind: str, expected: tuple) -> None:  # noqa: ANN001
    assert parse(con, raw_json, kind) == expected


def test_field_kinds_and_names(con) -> None:  # noqa: ANN001
    row = con.execute("""select shoplive__snake('peakConcurrentViewers'), shoplive__snake('likes'),
        shoplive__stats_kind('totalViewingTime'), shoplive__stats_kind('averageLikes'),
        shoplive__stats_kind('campaignKey'), shoplive__stats_kind('scheduledAt'), shoplive__stats_kind('newThing')
    """).fetchone()
    assert row == ("peak_concurrent_viewers", "likes", "seconds", "count", "descriptive", "descriptive", "auto")
