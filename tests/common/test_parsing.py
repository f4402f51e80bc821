"""Value parsing: display counts, percentages, money, and what cannot be parsed."""

from __future__ import annotations

import pytest

from sources.common.parsing import Parsed, UnparsableValue, parse_count, parse_display, parse_money, parse_percent


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
