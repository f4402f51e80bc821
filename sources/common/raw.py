"""Raw records with lineage, the fetch log and extraction errors: how every source lands what it read.

Three kinds of rows leave a source, all append-only in schema ``raw``:

* ``<provider>_<endpoint>``: one API record per row, the full JSON ``payload`` with its lineage.
* ``<provider>_fetches``: one row per *complete* pull of a replacement scope (a campaign's details, one
  window's list). The transforms take, per ``scope_key``, the newest fetch and rebuild that scope's fact rows
  from its records alone; a scope whose newest fetch has no records loses its rows. A pull that failed
  half-way is never logged as a fetch, so its partial records are never used.
* ``<provider>_errors``: an entity skipped or failed, with its reason; becomes ``analytics.extraction_errors``.

A source yields ``RawBatch`` es (a raw table and its rows). The runner cuts that stream into loads of at most
``max_records_per_load`` rows and hands each to dlt as Arrow tables (``arrow_chunks``), so memory stays flat in
the size of the work and the load is columnar; a plain dlt pipeline gets the same rows as dicts
(``dlt_items``).

The runner hands each source an ``ExtractPlan`` (what to pull) and an ``ExtractReport`` (where the source says
how each window went, and when a window is *closed*: every row of it yielded). After each committed load the
runner writes the closed windows to the ledger, so a crash costs at most the load in flight.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import dlt
import orjson
import pendulum
import pyarrow as pa

from core import clock
from core.errors import EntityError
from core.redact import redact, scrub_params
from sources.common.windows import Window

# The column hints of every raw table, declared once on the resource that carries them (not per batch: dlt
# re-validates hints for every item that brings its own).
RAW_COLUMNS: dict[str, Any] = {
    "payload": {"data_type": "json"},
    "request_params": {"data_type": "json"},
    "window_start": {"data_type": "timestamp"},
    "window_end": {"data_type": "timestamp"},
    "fetched_at": {"data_type": "timestamp"},
    "account_id": {"data_type": "text"},
    "campaign_id": {"data_type": "text"},
    "scope_key": {"data_type": "text"},
    "fetch_id": {"data_type": "text"},
    "http_status": {"data_type": "bigint"},
    "error_code": {"data_type": "text"},
    "records": {"data_type": "bigint"},
}

Mode = Literal["nightly", "backfill"]

_INT_MIN = -(2**63)          # dlt serializes with orjson: 64-bit integers (signed, or unsigned up to 2^64 - 1) only
_INT_MAX = 2**64 - 1


def storable(value: Any) -> Any:
    """``value`` (a decoded JSON answer) in a form dlt can store without losing what was sent.

    Python's json accepts integers of any size and the tokens NaN / Infinity; orjson, which dlt writes with,
    refuses an integer beyond 64 bits (the whole load fails) and writes NaN as null (the value is lost). So an
    int outside [-2^63, 2^64-1] becomes its exact decimal string and a float NaN / inf becomes ``"NaN"`` /
    ``"Infinity"`` / ``"-Infinity"``, through dicts and lists at any depth; everything else is unchanged (and
    returned as the same object when nothing in it needed a change). The transforms read those strings back
    and quarantine them (``transforms/sql/00_macros/values.sql``).
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if _INT_MIN <= value <= _INT_MAX else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, dict):
        changed: dict[Any, Any] | None = None
        for key, item in value.items():
            stored = storable(item)
            if stored is not item:
                if changed is None:
                    changed = dict(value)
                changed[key] = stored
        return value if changed is None else changed
    if isinstance(value, (list, tuple)):
        items = [storable(item) for item in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return items
    return value


def now_utc() -> pendulum.DateTime:
    """The loader's now (``core.clock``): the real now, unless the demo shifted the clock."""
    return clock.now()


@dataclass
class ExtractPlan:
    """What one provider run should pull.

    Attributes:
        run_id: the run's id, stamped on every row.
        mode: ``nightly`` or ``backfill``.
        windows: grid windows to pull (discovery windows for lifetime providers).
        now: the run's clock; windows are clamped to it.
        lookback_days: how far back campaigns count as still changing.
        refresh: campaign ids per account to re-pull whatever their window (still sending, not final).
        settled: campaign ids per account a source that probes every campaign may leave out (their counts
            stopped moving; ``transforms.settled_campaigns``), unless the provider shows a change since
            ``settled_since``.
        settle: the nightly's settle policy applies (``pipelines/ledger.py``): not a backfill, not ``--recheck``,
            ``settle_days`` above 0; a source may then leave out what its listing shows cannot have moved.
        dormant: per account, campaign id -> newest pull, for the campaigns that ended before the first window and
            were pulled a settle period after that, or have no execution at all (a draft), pulled less than
            ``recheck_days`` ago; a source that probes every listed campaign leaves them unprobed while the
            listing shows no change since that pull (``transforms.dormant_campaigns``).
        dormant_due: the same, pulled ``recheck_days`` ago or longer: such a source pulls them whole (their
            re-check), so the next nights may leave them out again.
    """

    run_id: str
    mode: Mode
    windows: list[Window]
    now: pendulum.DateTime
    lookback_days: int = 30
    refresh: dict[str, list[str]] = field(default_factory=dict)
    settled: dict[str, list[str]] = field(default_factory=dict)
    settled_since: pendulum.DateTime | None = None
    settle: bool = False
    dormant: dict[str, dict[str, dt.datetime]] = field(default_factory=dict)
    dormant_due: dict[str, dict[str, dt.datetime]] = field(default_factory=dict)


@dataclass
class WindowOutcome:
    endpoint: str
    account_id: str
    window: Window
    ok: bool
    records: int = 0
    reason: str | None = None


class ExtractReport:
    """Thread-safe notes a source makes while it extracts: window outcomes and skip counts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.windows: list[WindowOutcome] = []
        self.closed: list[Window] = []
        self.skipped = 0
        self.records = 0
        self.settled = 0          # campaigns left out as settled (ExtractPlan.settled)

    def window_done(self, endpoint: str, account_id: str, window: Window, records: int) -> None:
        with self._lock:
            self.windows.append(WindowOutcome(endpoint, account_id, window, True, records))

    def window_failed(self, endpoint: str, account_id: str, window: Window, reason: str) -> None:
        with self._lock:
            self.windows.append(WindowOutcome(endpoint, account_id, window, False, 0, redact(reason)))

    def close_window(self, window: Window) -> None:
        """Every row of ``window`` has been yielded and every outcome of it reported: once the load holding those
        rows is committed, the runner may write the window to the ledger. Windows a source never closes are
        closed when its stream ends."""
        with self._lock:
            self.closed.append(window)

    def add(self, *, records: int = 0, skipped: int = 0, settled: int = 0) -> None:
        with self._lock:
            self.records += records
            self.skipped += skipped
            self.settled += settled


def _ts(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else pendulum.instance(value).in_timezone(pendulum.UTC)


@dataclass
class RawBatch:
    """Rows for one raw table, as a source yields them."""

    table: str
    rows: list[dict[str, Any]]


def dlt_items(batches: Iterable[RawBatch]) -> Iterator[Any]:
    """The batches as dlt data items (dict rows routed to their table), for a plain dlt pipeline."""
    for batch in batches:
        yield dlt.mark.with_table_name(batch.rows, batch.table)


def raw_resource(name: str, items: Any) -> Any:
    """A dlt resource carrying raw rows, with the raw column hints declared once."""
    return dlt.resource(items, name=name, write_disposition="append", columns=RAW_COLUMNS)


_JSON = frozenset(name for name, hint in RAW_COLUMNS.items() if hint["data_type"] == "json")
_TIMESTAMPS = frozenset(name for name, hint in RAW_COLUMNS.items() if hint["data_type"] == "timestamp") | {
    "observed_at"}
_INTEGERS = frozenset(name for name, hint in RAW_COLUMNS.items() if hint["data_type"] == "bigint")
_ARROW_TYPES = {**dict.fromkeys(_TIMESTAMPS, pa.timestamp("us", tz="UTC")), **dict.fromkeys(_INTEGERS, pa.int64())}


def _arrow(rows: list[dict[str, Any]]) -> pa.Table:
    """One raw table's rows as Arrow: JSON columns as their text (orjson, after ``storable``), timestamps in UTC."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        if name in _JSON:
            values = [None if v is None else orjson.dumps(v) for v in values]   # UTF-8 bytes, as Arrow keeps strings
        columns[name] = pa.array(values, type=_ARROW_TYPES.get(name, pa.string()))
    return pa.table(columns)


def arrow_chunks(batches: Iterable[RawBatch], max_records: int,
                 on_cut: Callable[[bool], None] | None = None) -> Iterator[list[tuple[str, pa.Table]]]:
    """The stream cut into loads of about ``max_records`` rows, each a list of (table, Arrow table).

    ``on_cut(last)`` is called when a load is cut, before it is yielded: what the source reported up to then
    belongs to rows of this load or of earlier ones; ``last`` is True for the final load, once the stream has
    ended (it may be empty: a stream with no rows still ends).
    """
    pending: dict[str, list[dict[str, Any]]] = {}
    count = 0
    for batch in batches:
        if not batch.rows:
            continue
        pending.setdefault(batch.table, []).extend(batch.rows)
        count += len(batch.rows)
        if count >= max_records:
            if on_cut is not None:
                on_cut(False)
            yield [(table, _arrow(rows)) for table, rows in pending.items()]
            pending, count = {}, 0
    if on_cut is not None:
        on_cut(True)
    yield [(table, _arrow(rows)) for table, rows in pending.items()]


class RawWriter:
    """Builds the rows a provider's source yields; one per provider and run."""

    def __init__(self, provider: str, plan: ExtractPlan, report: ExtractReport) -> None:
        self.provider = provider
        self.plan = plan
        self.report = report

    def fetch(self, endpoint: str, scope_key: str, *, account_id: str, campaign_id: str | None = None,
              window: Window | None = None, request_params: dict[str, Any] | None = None) -> Fetch:
        """Start a pull of one replacement scope; yield ``fetch.rows()`` once it is complete."""
        return Fetch(self, endpoint, scope_key, account_id=account_id, campaign_id=campaign_id, window=window,
                     request_params=request_params)

    def failed(self, exc: EntityError, endpoint: str, *, account_id: str, campaign_id: str | None = None,
               window: Window | None = None, fails_window: bool | None = None) -> Any:
        """The ``<provider>_errors`` row of an entity that could not be pulled (yield it), and its window outcome.

        With ``window``, the window is reported failed (pulled again next run) when the error says so
        (``exc.retry``) or when ``fails_window`` insists; otherwise the source reports the window itself.
        """
        if window is not None and (exc.retry if fails_window is None else fails_window):
            self.report.window_failed(endpoint, account_id, window, exc.reason)
        return self.error(endpoint, account_id=account_id, reason=exc.reason, code=exc.code, campaign_id=campaign_id,
                          window=window, http_status=exc.status)

    def error(self, endpoint: str, *, account_id: str, reason: str, code: str, campaign_id: str | None = None,
              window: Window | None = None, http_status: int | None = None,
              request_params: dict[str, Any] | None = None) -> Any:
        """A row for ``<provider>_errors``: the entity was skipped or failed (and the run goes on)."""
        self.report.add(skipped=1)
        return RawBatch(f"{self.provider}_errors", [{
            "provider": self.provider, "account_id": account_id, "campaign_id": campaign_id, "endpoint": endpoint,
            "window_start": _ts(window.start if window else None), "window_end": _ts(window.end if window else None),
            "http_status": http_status, "error_code": code, "reason": redact(reason), "run_id": self.plan.run_id,
            "observed_at": _ts(now_utc()), "request_params": storable(scrub_params(request_params)),
        }])


class Fetch:
    """Records of one complete pull of one scope (see module docstring)."""

    def __init__(self, writer: RawWriter, endpoint: str, scope_key: str, *, account_id: str,
                 campaign_id: str | None, window: Window | None, request_params: dict[str, Any] | None) -> None:
        self.writer = writer
        self.endpoint = endpoint
        self.scope_key = scope_key
        self.account_id = account_id
        self.campaign_id = campaign_id
        self.window = window
        self.request_params = storable(scrub_params(request_params))
        self.fetch_id = uuid.uuid4().hex
        self.fetched_at = now_utc()
        self._records: list[tuple[str, dict[str, Any]]] = []

    def add(self, table_endpoint: str, payload: Any, *, campaign_id: str | None = None,
            request_params: dict[str, Any] | None = None) -> None:
        """Keep one API record for ``raw.<provider>_<table_endpoint>``, made ``storable`` (as sent, and loadable)."""
        self._records.append((table_endpoint, {
            "payload": storable(payload), "campaign_id": campaign_id if campaign_id is not None else self.campaign_id,
            "request_params": storable(scrub_params(request_params)) if request_params is not None
            else self.request_params,
        }))

    def __len__(self) -> int:
        return len(self._records)

    def rows(self) -> Iterator[RawBatch]:
        """The records, then the fetch-log row that makes them count."""
        w = self.writer
        lineage = {
            "provider": w.provider, "account_id": self.account_id, "scope_key": self.scope_key,
            "fetch_id": self.fetch_id, "fetched_at": _ts(self.fetched_at), "run_id": w.plan.run_id,
            "window_start": _ts(self.window.start if self.window else None),
            "window_end": _ts(self.window.end if self.window else None),
        }
        batches: dict[str, list[dict[str, Any]]] = {}
        for table_endpoint, record in self._records:
            batches.setdefault(table_endpoint, []).append({**lineage, "endpoint": table_endpoint, **record})
        for table_endpoint, batch in batches.items():
            yield RawBatch(f"{w.provider}_{table_endpoint}", batch)
        yield RawBatch(f"{w.provider}_fetches", [{**lineage, "endpoint": self.endpoint,
                                                  "campaign_id": self.campaign_id, "records": len(self._records),
                                                  "request_params": storable(self.request_params)}])
        w.report.add(records=len(self._records))
