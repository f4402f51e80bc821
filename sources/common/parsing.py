"""Turning provider values into numbers with a unit and a currency.

Providers send counts as ``"1,234"``, rates as ``"12.50%"`` or 0..1 floats, money as ``"2,480 TRY"``. The SQL
transforms apply the same rules (``transforms/sql/00_macros``); these Python twins serve the sources' checks and
the tests, and both are tested against the same cases.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

_NUMBER_RE = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$|^[+-]?\.\d+$")
_MONEY_RE = re.compile(r"^(?P<amount>[+-]?[\d,]*\.?\d*)\s*(?P<currency>[A-Z]{3})$")


@dataclass(frozen=True)
class Parsed:
    """A parsed value: ``value`` is None when the input holds no number (``"USD"`` alone, ``"N/A"``)."""

    value: float | None
    unit: str
    currency: str | None = None


class UnparsableValue(ValueError):
    """The value is not a number in any format we know; the caller quarantines it with this reason."""


def parse_count(raw: Any) -> float:
    """``1234``, ``"1,234"``, ``"1.0"`` -> float."""
    if isinstance(raw, bool):
        raise UnparsableValue(f"boolean {raw!r} is not a count")
    if isinstance(raw, (int, float)):
        if isinstance(raw, float) and not math.isfinite(raw):
            raise UnparsableValue(f"{raw!r} is not finite")
        return float(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if _NUMBER_RE.match(text):
            return float(text.replace(",", ""))
    raise UnparsableValue(f"{raw!r} is not a number")


def parse_percent(raw: Any) -> float:
    """``"12.50%"`` or ``12.5`` / ``"12.5"`` in percent units -> 0.125."""
    if isinstance(raw, str) and raw.strip().endswith("%"):
        return parse_count(raw.strip()[:-1]) / 100.0
    return parse_count(raw) / 100.0


def parse_money(raw: Any) -> Parsed:
    """``"2,480 TRY"`` -> (2480, currency, TRY); ``"USD"`` -> no value, currency USD."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return Parsed(parse_count(raw), "currency", None)
    if isinstance(raw, str):
        text = raw.strip()
        match = _MONEY_RE.match(text)
        if match:
            amount = match.group("amount").strip()
            currency = match.group("currency")
            if not amount:
                return Parsed(None, "currency", currency)
            return Parsed(parse_count(amount), "currency", currency)
    raise UnparsableValue(f"{raw!r} is not an amount with a currency")


def parse_display(raw: Any) -> Parsed:
    """A display string of unknown kind: percent, money or count."""
    if isinstance(raw, str):
        text = raw.strip()
        if text.endswith("%"):
            return Parsed(parse_percent(text), "ratio")
        if _MONEY_RE.match(text):
            return parse_money(text)
    return Parsed(parse_count(raw), "count")
