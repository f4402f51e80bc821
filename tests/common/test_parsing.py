"""Value parsing: display counts, percentages, money, what cannot be published and why, and the storable form of
a raw answer. The SQL macros (transforms/sql/00_macros/values.sql) and their Python twins
(sources/common/parsing.py) are checked against one table of cases."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import orjson
import pytest

from sources.common.parsing import (
    Parsed,
    UnparsableValue,
    parse_count,
    parse_display,
    parse_money,
    parse_percent,
    parse_value,
)
from sources.common.raw import storable


@pytest.mark.parametrize("raw,expected", [(1234, 1234.0), ("1,234", 1234.0), ("470,621,008", 470621008.0),
                                          ("1.0", 1.0), (" 12 ", 12.0), (0.25, 0.25), ("-3", -3.0)])
def test_counts(raw: object, expected: float) -> None:
    assert parse_count(raw) == expected


@pytest.mark.parametrize("raw", ["12,34", "N/A", "", None, True, "1.2.3", float("nan"), [1]])
def test_unparsable_counts(raw: object) -> None:
    with pytest.raises(UnparsableValue):
        parse_count(raw)


@pytest.mark.parametrize("raw,expected", [("12.50%", 0.125), ("100.00%", 1.0), ("0.00%", 0.0), (91.33, 0.9133),
                                          ("91.33", 0.9133), (0, 0.0)])
def test_percentages(raw: object, expected: float) -> None:
    assert parse_percent(raw) == pytest.approx(expected)


def test_money() -> None:
    assert parse_money("0 TRY") == Parsed(0.0, "currency", "TRY")
    assert parse_money("2,480 TRY") == Parsed(2480.0, "currency", "TRY")
    assert parse_money("USD") == Parsed(None, "currency", "USD")
    assert parse_money(12.5) == Parsed(12.5, "currency", None)
    with pytest.raises(UnparsableValue):
        parse_money("lots of money")


def test_display_strings_pick_their_kind() -> None:
    assert parse_display("12.50%") == Parsed(0.125, "ratio")
    assert parse_display("2,480 TRY") == Parsed(2480.0, "currency", "TRY")
    assert parse_display("1,204") == Parsed(1204.0, "count")


# -- one rule, two implementations: the SQL macros of transforms/sql/00_macros/values.sql and their Python twins --

VALUES_SQL = Path(__file__).parents[2] / "transforms" / "sql" / "00_macros" / "values.sql"
BIG = 10**30

# (value as the provider sent it, kind, account currency) -> (value, unit, currency, reason)
CASES: list[tuple[object, str, str | None, tuple[float | None, str | None, str | None, str | None]]] = [
    # numbers and number text are read
    (1234, "count", None, (1234.0, "count", None, None)),
    (1.0, "count", None, (1.0, "count", None, None)),
    ("1,234", "count", None, (1234.0, "count", None, None)),
    ("38,668", "count", None, (38668.0, "count", None, None)),
    ("470,621,008", "count", None, (470621008.0, "count", None, None)),
    ("3472", "count", None, (3472.0, "count", None, None)),
    ("1.5", "count", None, (1.5, "count", None, None)),
    (".5", "count", None, (0.5, "count", None, None)),
    (" 12 ", "count", None, (12.0, "count", None, None)),
    ("-3", "money", "TRY", (-3.0, "currency", "TRY", None)),
    (0, "count", None, (0.0, "count", None, None)),
    (2**63 - 2**11, "count", None, (float(2**63 - 2**11), "count", None, None)),   # the largest double below 2^63
    (6, "days", None, (6.0, "days", None, None)),
    ("15", "seconds", None, (15.0, "seconds", None, None)),
    (1.6, "multiple", None, (1.6, "multiple", None, None)),
    ("1.6", "multiple", None, (1.6, "multiple", None, None)),
    (0.340792621261037, "ratio", None, (0.340792621261037, "ratio", None, None)),
    ("12.5%", "ratio", None, (0.125, "ratio", None, None)),
    ("12.50%", "percent", None, (0.125, "ratio", None, None)),
    ("0.00%", "percent", None, (0.0, "ratio", None, None)),
    (91.33, "percent", None, (0.9133, "ratio", None, None)),
    ("91.33", "percent", None, (0.9133, "ratio", None, None)),
    ("2,480 TRY", "money", "USD", (2480.0, "currency", "TRY", None)),
    ("1,234.50 USD", "money", None, (1234.5, "currency", "USD", None)),
    ("0 TRY", "money", None, (0.0, "currency", "TRY", None)),
    (2480.37, "money", "TRY", (2480.37, "currency", "TRY", None)),
    ("1,234", "auto", None, (1234.0, "count", None, None)),
    (17, "auto", None, (17.0, "count", None, None)),
    ("5.5%", "auto", None, (0.055, "ratio", None, None)),
    ("10 EUR", "auto", None, (10.0, "currency", "EUR", None)),
    # nothing to load, and not a failure
    ("USD", "money", None, (None, "currency", "USD", None)),          # a currency code with no amount
    ("web push", "auto", None, (None, "count", None, None)),          # an unknown text field stays in raw
    (True, "auto", None, (None, "count", None, None)),
    ({"a": 1}, "auto", None, (None, "count", None, None)),
    (None, "auto", None, (None, "count", None, None)),                # an unknown field sent as null
    ("Studio", "descriptive", None, (None, None, None, None)),
    (None, "descriptive", None, (None, None, None, None)),
    # quarantined, with the reason
    (None, "count", None, (None, "count", None, "null")),
    (None, "money", "TRY", (None, "currency", "TRY", "null")),
    (BIG, "count", None, (None, "count", None, "out of range: magnitude >= 2^63")),
    (-BIG, "count", None, (None, "count", None, "out of range: magnitude >= 2^63")),
    (BIG, "auto", None, (None, "count", None, "out of range: magnitude >= 2^63")),
    (2**64 - 1, "count", None, (None, "count", None, "out of range: magnitude >= 2^63")),
    (2**63, "count", None, (None, "count", None, "out of range: magnitude >= 2^63")),
    (1.7e308, "count", None, (None, "count", None, "out of range: magnitude >= 2^63")),
    (1.7e308, "ratio", None, (None, "ratio", None, "out of range: magnitude >= 2^63")),
    ("9" * 400, "count", None, (None, "count", None, "out of range: magnitude >= 2^63")),
    (float("nan"), "count", None, (None, "count", None, "not finite: NaN")),
    (float("inf"), "count", None, (None, "count", None, "not finite: Infinity")),
    (float("-inf"), "ratio", None, (None, "ratio", None, "not finite: -Infinity")),
    (float("nan"), "auto", None, (None, "count", None, "not finite: NaN")),
    ("NaN", "seconds", None, (None, "seconds", None, "not finite: NaN")),
    (-5, "count", None, (None, "count", None, "negative count")),
    ("-3", "count", None, (None, "count", None, "negative count")),
    ("-1,234", "seconds", None, (None, "seconds", None, "negative seconds")),
    (-1, "days", None, (None, "days", None, "negative days")),
    (-2, "auto", None, (None, "count", None, "negative count")),
    ("12,34x", "count", None, (None, "count", None, 'not a count value: "12,34x"')),
    ("1,23", "count", None, (None, "count", None, 'not a count value: "1,23"')),   # not a thousands grouping
    ("n/a%", "percent", None, (None, "ratio", None, 'not a percent value: "n/a%"')),
    ("lots TRYX", "money", "TRY", (None, "currency", "TRY", 'not a money value: "lots TRYX"')),
    (True, "count", None, (None, "count", None, "not a count value: a JSON boolean")),
    ([1], "ratio", None, (None, "ratio", None, "not a ratio value: a JSON array")),
    ({"a": 1}, "count", None, (None, "count", None, "not a count value: a JSON object")),
]


@pytest.fixture(scope="module")
def macros() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute(VALUES_SQL.read_text())
    return connection


def sql_reading(con: duckdb.DuckDBPyConnection, raw: object, kind: str, currency: str | None) -> tuple:
    """The SQL macros on the value as raw stores it (storable, then JSON)."""
    return con.execute("select etl__value(v, $kind), etl__unit(v, $kind), etl__currency(v, $kind, $currency), "
                       "etl__reason(v, $kind) from (select cast($json as json) as v)",
                       {"kind": kind, "currency": currency, "json": json.dumps(storable(raw))}).fetchone()


@pytest.mark.parametrize(("raw", "kind", "currency", "expected"), CASES, ids=[f"{c[1]}:{c[0]!r}"[:40] for c in CASES])
def test_python_reads_values_as_the_table_says(raw: object, kind: str, currency: str | None,
                                               expected: tuple) -> None:
    reading = parse_value(raw, kind, currency)
    assert (reading.value, reading.unit, reading.currency, reading.reason) == expected


@pytest.mark.parametrize(("raw", "kind", "currency", "expected"), CASES, ids=[f"{c[1]}:{c[0]!r}"[:40] for c in CASES])
def test_sql_reads_values_as_the_table_says(macros, raw: object, kind: str, currency: str | None,
                                            expected: tuple) -> None:
    assert sql_reading(macros, raw, kind, currency) == expected


def test_a_published_value_never_has_a_reason_in_either_implementation(macros) -> None:
    for raw, kind, currency, _ in CASES:
        reading = parse_value(raw, kind, currency)
        assert reading.value is None or reading.reason is None
        value, _, _, reason = sql_reading(macros, raw, kind, currency)
        assert value is None or reason is None
        checked = macros.execute("select etl__check(v, $k, etl__read(v, $k), etl__unit(v, $k)) "
                                 "from (select cast($j as json) as v)",
                                 {"k": kind, "j": json.dumps(storable(raw))}).fetchone()[0]
        assert checked == reason, "the intermediate models' staged form gives the same reason"


def test_snake_case_names(macros) -> None:
    names = ["conversionRate", "ctr", "daysActive", "peakConcurrentViewers", "opt_outs", "totalLoginViewers"]
    row = macros.execute("select " + ", ".join(f"etl__snake('{n}')" for n in names)).fetchone()
    assert row == ("conversion_rate", "ctr", "days_active", "peak_concurrent_viewers", "opt_outs",
                   "total_login_viewers")


@pytest.mark.parametrize(("raw", "stored"), [
    (BIG, "1000000000000000000000000000000"),
    (-BIG, "-1000000000000000000000000000000"),
    (2**64 - 1, 2**64 - 1),            # still a 64-bit (unsigned) integer: kept
    (-(2**63), -(2**63)),
    (2**64, str(2**64)),
    (-(2**63) - 1, str(-(2**63) - 1)),
    (float("nan"), "NaN"),
    (float("inf"), "Infinity"),
    (float("-inf"), "-Infinity"),
    (1.7e308, 1.7e308),
    (True, True),
    (None, None),
    ("38,668", "38,668"),
    ({"a": [1, {"b": BIG, "c": float("nan")}], "d": "x"}, {"a": [1, {"b": str(BIG), "c": "NaN"}], "d": "x"}),
])
def test_storable_keeps_what_was_sent_in_a_form_dlt_can_store(raw: object, stored: object) -> None:
    assert storable(raw) == stored
    orjson.dumps(storable(raw))      # what dlt writes with: no 64-bit overflow, no NaN turned into null


def test_storable_leaves_clean_answers_untouched() -> None:
    answer = {"data": {"stat_summary": {"messages_sent": 38668, "open_rate": 0.25}, "links": [1, 2]}}
    assert storable(answer) is answer
    dirty = {"data": {"x": [1, float("nan")], "y": {"z": 1}}}
    stored = storable(dirty)
    assert stored["data"]["y"] is dirty["data"]["y"] and dirty["data"]["x"][1] != dirty["data"]["x"][1]
