"""Insider value parsing: the shared SQL macros (transforms/sql/00_macros/values.sql) with Insider's field kinds
(insider_kinds.sql), checked on the API's display strings."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from sources.common.parsing import UnparsableValue, parse_count, parse_money, parse_percent

MACROS = Path(__file__).parents[2] / "transforms" / "sql" / "00_macros"


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    for name in ("values.sql", "insider_kinds.sql"):
        connection.execute((MACROS / name).read_text())
    return connection


def parse(con: duckdb.DuckDBPyConnection, raw_json: str, kind: str, account_currency: str | None = "TRY"):
    return con.execute("select etl__value(v, ?), etl__unit(v, ?), etl__currency(v, ?, ?), "
                       "etl__reason(v, ?) from (select ?::json as v)",
                       [kind, kind, kind, account_currency, kind, raw_json]).fetchone()


@pytest.mark.parametrize(("raw_json", "kind", "expected"), [
    ('"470,621,008"', "count", (470621008.0, "count", None, None)),
    ('"1,203"', "count", (1203.0, "count", None, None)),
    ('"1.0"', "count", (1.0, "count", None, None)),
    ("411840", "count", (411840.0, "count", None, None)),
    ('"12.50%"', "percent", (0.125, "ratio", None, None)),
    ('"99.92%"', "percent", (0.9992, "ratio", None, None)),
    ('"0.00%"', "percent", (0.0, "ratio", None, None)),
    ("91.33", "percent", (0.9133, "ratio", None, None)),       # unsuccessfulMessages.percentage as a number
    ('"91.33"', "percent", (0.9133, "ratio", None, None)),     # ... and as a string without %
    ("0", "percent", (0.0, "ratio", None, None)),
    ("0.340792621261037", "ratio", (0.340792621261037, "ratio", None, None)),  # overall rates are 0..1
    ("0", "ratio", (0.0, "ratio", None, None)),
    ('"0 TRY"', "money", (0.0, "currency", "TRY", None)),
    ('"2,480 TRY"', "money", (2480.0, "currency", "TRY", None)),
    ('"1,234.50 USD"', "money", (1234.5, "currency", "USD", None)),
    ("2480.37", "money", (2480.37, "currency", "TRY", None)),  # overall revenue: the account currency
    ("6", "days", (6.0, "days", None, None)),
])
def test_display_strings_become_numbers_with_unit_and_currency(con, raw_json: str, kind: str,
                                                               expected: tuple) -> None:
    value, unit, currency, reason = parse(con, raw_json, kind)
    assert (pytest.approx(value, rel=1e-12), unit, currency, reason) == expected


@pytest.mark.parametrize(("raw_json", "kind"), [
    ("null", "auto"),         # an unknown field without a value (a known one is quarantined, see below)
    ('"USD"', "money"),       # DOC: a currency code with no amount
    ('"web push"', "auto"),   # an unknown text field stays in raw
    ("true", "auto"),
    ('{"a": 1}', "auto"),
])
def test_nothing_to_load_is_not_a_failure(con, raw_json: str, kind: str) -> None:
    value, _, _, reason = parse(con, raw_json, kind)
    assert value is None and reason is None


@pytest.mark.parametrize(("raw_json", "kind", "reason"), [
    ("null", "count", "null"),                # a known metric field sent as null lost its value upstream
    ("null", "money", "null"),
    ('"1000000000000000000000000000000"', "count", "out of range: magnitude >= 2^63"),   # 10**30, as raw keeps it
    ("1.7e308", "ratio", "out of range: magnitude >= 2^63"),
    ('"NaN"', "percent", "not finite: NaN"),
    ('"-1,234"', "count", "negative count"),
    ("-2", "days", "negative days"),
])
def test_values_that_cannot_be_published_get_a_reason(con, raw_json: str, kind: str,
                                                      reason: str) -> None:
    value, _, _, got = parse(con, raw_json, kind)
    assert (value, got) == (None, reason)


@pytest.mark.parametrize(("raw_json", "kind", "needle"), [
    ('"12,34x"', "count", '"12,34x"'),
    ('"1,23"', "count", '"1,23"'),            # not a thousands grouping
    ('"n/a%"', "percent", '"n/a%"'),
    ('"lots TRYX"', "money", '"lots TRYX"'),
    ("true", "count", "boolean"),
    ("[1]", "ratio", "array"),
])
def test_unreadable_known_values_get_a_reason(con, raw_json: str, kind: str, needle: str) -> None:
    value, _, _, reason = parse(con, raw_json, kind)
    assert value is None
    assert reason is not None and needle in reason and kind in reason


@pytest.mark.parametrize(("raw_json", "expected"), [
    ('"1,234"', (1234.0, "count", None)),
    ("17", (17.0, "count", None)),
    ('"5.5%"', (0.055, "ratio", None)),
    ('"10 EUR"', (10.0, "currency", "EUR")),
])
def test_unknown_fields_are_loaded_when_numeric(con, raw_json: str, expected: tuple) -> None:
    value, unit, currency, reason = parse(con, raw_json, "auto")
    assert (pytest.approx(value), unit, currency) == expected and reason is None


@pytest.mark.parametrize("text", ["470,621,008", "1.0", "1,23", "12,34x", "0", "-3.5", ".5", "1 234"])
def test_counts_agree_with_the_shared_python_parser(con, text: str) -> None:
    # the reader alone (etl__read); whether a negative count is published is etl__reason's business
    value = con.execute("select etl__read(?::json, 'count')", [f'"{text}"']).fetchone()[0]
    try:
        expected: float | None = parse_count(text)
    except UnparsableValue:
        expected = None
    assert value == expected


@pytest.mark.parametrize("text", ["12.50%", "0.00%", "100.00%", "91.33"])
def test_percents_agree_with_the_shared_python_parser(con, text: str) -> None:
    value, *_ = parse(con, f'"{text}"', "percent")
    assert value == pytest.approx(parse_percent(text))


@pytest.mark.parametrize("text", ["0 TRY", "2,480 TRY", "USD"])
def test_money_agrees_with_the_shared_python_parser(con, text: str) -> None:
    value, _, currency, _ = parse(con, f'"{text}"', "money")
    expected = parse_money(text)
    assert (value, currency) == (expected.value, expected.currency)


def test_field_kinds_and_names(con) -> None:
    rows = con.execute("""select etl__snake('conversionRate'), etl__snake('ctr'),
        etl__snake('daysActive'), insider__overall_kind('deliveryRate'), insider__overall_kind('builderId'),
        insider__overall_kind('somethingNew'), insider__display_kind('percentage'),
        insider__display_kind('revenue'), insider__display_kind('device'), insider__top_kind('workingStatus')
    """).fetchone()
    assert rows == ("conversion_rate", "ctr", "days_active", "ratio", "descriptive", "auto", "percent", "money",
                    "descriptive", "descriptive")
