"""Turning provider values into numbers with a unit and a currency, or into a reason to quarantine them.

Providers send counts as ``"1,234"``, rates as ``"12.50%"`` or 0..1 floats, money as ``"2,480 TRY"``, and now and
then a value that cannot be published as given (``10**30``, NaN, null, a negative count). The SQL transforms apply
the rules in ``transforms/sql/00_macros/values.sql`` (``etl__read``, ``etl__unit``, ``etl__currency``,
``etl__reason``, ``etl__value``); the functions here are their Python twins, and tests/common/test_parsing.py runs
both over one table of cases.

A value is read for its field's *kind*:

========================  =====================================================================  ===========
kind                      reads                                                                  unit
========================  =====================================================================  ===========
count, days, seconds      a number or number text (``"1,234"``, ``"1234"``, ``"1.5"``, ``"-3"``)  the kind
multiple                  a number or number text                                                ``multiple``
ratio                     a 0..1 number, or percent text ``"12.5%"``                             ``ratio``
percent                   percent text ``"12.50%"``, or a number / number text in percent units  ``ratio``
money                     ``"2,480 TRY"``, or a number in the account currency                   ``currency``
auto (an unknown field)   a number, percent text or money text; anything else stays in raw      by the text
descriptive               nothing (not a metric)                                                 none
========================  =====================================================================  ===========

``value_reason`` says why a value is quarantined instead of published: ``null`` (a known metric field sent as
JSON null), ``not finite: NaN`` / ``Infinity`` / ``-Infinity``, ``out of range: magnitude >= 2^63``,
``negative count`` (or ``seconds`` / ``days``), ``not a <kind> value: ...``. It is None for a published value
and for nothing to load (an unknown field that is not a number, a bare currency code ``"USD"``).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from sources.common.raw import storable

# re.ASCII: DuckDB's RE2 reads \d and \s as ASCII only
_NUMBER_RE = re.compile(r"[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?|[+-]?\.\d+", re.ASCII)
_PERCENT_RE = re.compile(r".+%")
_IS_MONEY_RE = re.compile(r"[+-]?[\d,]*\.?\d*\s*[A-Z]{3}", re.ASCII)
_MONEY_RE = re.compile(r"(?P<amount>[+-]?[\d,]*\.?\d*)\s*(?P<currency>[A-Z]{3})", re.ASCII)

KINDS = frozenset({"count", "days", "seconds", "multiple", "ratio", "percent", "money", "auto", "descriptive"})
# |x| >= 2^63 does not fit a 64-bit integer: a provider fault, never a figure
MAX_MAGNITUDE = 2.0 ** 63
NON_FINITE_TEXT = frozenset({"NaN", "Infinity", "-Infinity"})
_COUNT_UNITS = frozenset({"count", "seconds", "days"})


def as_object(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one: reading an answer's optional blocks."""
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Parsed:
    """A parsed value: ``value`` is None when the input holds no number (``"USD"`` alone, ``"N/A"``)."""

    value: float | None
    unit: str
    currency: str | None = None


@dataclass(frozen=True)
class Reading:
    """What the warehouse does with one value: publish ``value`` (with unit and currency), or quarantine it with
    ``reason``; both None means nothing to load."""

    value: float | None
    unit: str | None
    currency: str | None
    reason: str | None


class UnparsableValue(ValueError):
    """The value is not a number in any format we know; the caller quarantines it with this reason."""


# -- text ------------------------------------------------------------------------------------------------------

def _trim(text: str) -> str:
    return text.strip(" ")      # DuckDB's trim() removes spaces only


def number_text(text: str | None) -> float | None:
    """``"1,234"``, ``"1234"``, ``"1.5"``, ``"-3"``, ``".5"`` -> float; anything else (``"1,23"``) -> None."""
    if text is None:
        return None
    trimmed = _trim(text)
    return float(trimmed.replace(",", "")) if _NUMBER_RE.fullmatch(trimmed) else None


def percent_text(text: str | None) -> float | None:
    """``"12.50%"`` -> 0.125; None without a ``%``."""
    if text is None:
        return None
    trimmed = _trim(text)
    if not _PERCENT_RE.fullmatch(trimmed):
        return None
    amount = number_text(trimmed[:-1])
    return None if amount is None else amount / 100


def _is_money(text: str | None) -> bool:
    return text is not None and _IS_MONEY_RE.fullmatch(_trim(text)) is not None


def money_amount(text: str | None) -> float | None:
    """``"2,480 TRY"`` -> 2480.0; a bare code ``"USD"`` -> None (no amount)."""
    match = _MONEY_RE.fullmatch(_trim(text)) if text is not None else None
    return number_text(match.group("amount")) if match else None


def money_currency(text: str | None) -> str | None:
    match = _MONEY_RE.fullmatch(_trim(text)) if text is not None else None
    return match.group("currency") if match else None


# -- JSON values, as the SQL sees them in raw ----------------------------------------------------------------

def _json_type(value: Any) -> str:
    """DuckDB's json_type of the stored value."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, (int, float)):
        return "DOUBLE" if isinstance(value, float) else "BIGINT"
    if isinstance(value, str):
        return "VARCHAR"
    if isinstance(value, dict):
        return "OBJECT"
    return "ARRAY"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float:
    try:
        return float(value)
    except OverflowError:   # cannot happen after storable(); kept for direct callers
        return math.copysign(math.inf, value)


def read_value(raw: Any, kind: str) -> float | None:
    """The number ``raw`` reads as for ``kind``, before the checks of ``value_reason`` (``etl__read``)."""
    raw = storable(raw)
    if kind == "descriptive":
        return None
    if _json_type(raw) in ("BIGINT", "DOUBLE"):
        return _number(raw) / (100 if kind == "percent" else 1)
    text = _text(raw)
    if text is None:
        return None
    if kind in ("count", "days", "seconds", "multiple"):
        return number_text(text)
    if kind == "ratio":
        return _first(percent_text(text), number_text(text))
    if kind == "percent":
        plain = number_text(text)
        return _first(percent_text(text), None if plain is None else plain / 100)
    if kind == "money":
        return money_amount(text) if _is_money(text) else number_text(text)
    if kind == "auto":
        return _first(percent_text(text), money_amount(text), number_text(text))
    raise ValueError(f"unknown kind {kind!r}")


def value_unit(raw: Any, kind: str) -> str | None:
    """The unit of the value (``etl__unit``)."""
    raw = storable(raw)
    if kind == "descriptive":
        return None
    if kind in ("ratio", "percent"):
        return "ratio"
    if kind == "money":
        return "currency"
    if kind == "auto":
        text = _text(raw)
        if percent_text(text) is not None:
            return "ratio"
        if money_amount(text) is not None:
            return "currency"
        return "count"
    return kind


def value_currency(raw: Any, kind: str, account_currency: str | None = None) -> str | None:
    """The currency of a money value: the code of ``"2,480 TRY"``, else the account's (``etl__currency``)."""
    raw = storable(raw)
    if kind not in ("money", "auto"):
        return None
    text = _text(raw)
    if _is_money(text):
        return money_currency(text)
    return account_currency if kind == "money" else None


def value_reason(raw: Any, kind: str) -> str | None:
    """Why the value is quarantined instead of published; None when published or nothing to load
    (``etl__reason``)."""
    raw = storable(raw)
    if kind == "descriptive":
        return None
    json_type = _json_type(raw)
    text = _text(raw)
    if json_type == "NULL":
        return None if kind == "auto" else "null"
    if text in NON_FINITE_TEXT:
        return f"not finite: {text}"
    x = read_value(raw, kind)
    if x is None:
        if kind == "auto" or (kind == "money" and _is_money(text)):
            return None
        if json_type == "VARCHAR":
            return f"not a {kind} value: {json.dumps(text, ensure_ascii=False)}"
        return f"not a {kind} value: a JSON {json_type.lower()}"
    if abs(x) >= MAX_MAGNITUDE:
        return "out of range: magnitude >= 2^63"
    if not math.isfinite(x):
        return f"not finite: {json.dumps(raw)}"
    unit = value_unit(raw, kind)
    if x < 0 and unit in _COUNT_UNITS:
        return f"negative {unit}"
    return None


def parse_value(raw: Any, kind: str, account_currency: str | None = None) -> Reading:
    """Everything the warehouse does with one value (``etl__value``, ``etl__unit``, ``etl__currency``,
    ``etl__reason``): ``value`` is None whenever ``reason`` is not."""
    reason = value_reason(raw, kind)
    return Reading(None if reason is not None else read_value(raw, kind), value_unit(raw, kind),
                   value_currency(raw, kind, account_currency), reason)


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


# -- readers for one format ------------------------------------------------------------------------------------

def parse_count(raw: Any) -> float:
    """``1234``, ``"1,234"``, ``"1.0"`` -> float (the reader alone: no range or sign check)."""
    if isinstance(raw, bool):
        raise UnparsableValue(f"boolean {raw!r} is not a count")
    if isinstance(raw, (int, float)):
        if isinstance(raw, float) and not math.isfinite(raw):
            raise UnparsableValue(f"{raw!r} is not finite")
        return float(raw)
    if isinstance(raw, str):
        value = number_text(raw)
        if value is not None:
            return value
    raise UnparsableValue(f"{raw!r} is not a number")


def parse_percent(raw: Any) -> float:
    """``"12.50%"`` or ``12.5`` / ``"12.5"`` in percent units -> 0.125."""
    if isinstance(raw, str) and _trim(raw).endswith("%"):
        return parse_count(_trim(raw)[:-1]) / 100.0
    return parse_count(raw) / 100.0


def parse_money(raw: Any) -> Parsed:
    """``"2,480 TRY"`` -> (2480, currency, TRY); ``"USD"`` -> no value, currency USD."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return Parsed(parse_count(raw), "currency", None)
    if isinstance(raw, str):
        match = _MONEY_RE.fullmatch(_trim(raw))
        if match:
            amount = match.group("amount").strip(" ")
            currency = match.group("currency")
            if not amount:
                return Parsed(None, "currency", currency)
            return Parsed(parse_count(amount), "currency", currency)
    raise UnparsableValue(f"{raw!r} is not an amount with a currency")


def parse_display(raw: Any) -> Parsed:
    """A display string of unknown kind: percent, money or count."""
    if isinstance(raw, str):
        text = _trim(raw)
        if text.endswith("%"):
            return Parsed(parse_percent(text), "ratio")
        if _MONEY_RE.fullmatch(text):
            return parse_money(text)
    return Parsed(parse_count(raw), "count")
