"""``campaign-etl report``: the published warehouse as one self-contained HTML page.

The page is a single file that opens offline, from a mail attachment or a shared folder: its styles are inline,
its charts are static SVG drawn here (no charting library, no script), and it names no external URL (no CDN, no
web font, no image). It reads the published warehouse read-only, as a BI tool would, so it never waits for nor
blocks a run. Every text from the warehouse is escaped.

Sections, each a ``<section id=...>`` with an ``<h2>`` and a "no data" line when the warehouse has nothing for it:

============== ===========================================================================================
id             what it shows (source)
============== ===========================================================================================
runs           per provider its latest runs and their outcome (analytics.load_runs)
quality        checks passed and not passed per provider, the ones not passing (analytics.data_quality)
errors         open extraction errors per provider, as ``status`` counts them (analytics.extraction_errors)
weekly         sent, delivered, total clicks and conversions per week and provider: charts and numbers
               (analytics.weekly_provider_metrics)
top-campaigns  the ten campaigns with the best conversion rate and the ten with the best click rate
               (analytics.campaign_performance)
accumulation   opens and clicks of recent campaigns by day after send (analytics.campaign_accumulation)
freshness      per provider: last run, last success, hours since, newest figures (analytics.provider_freshness)
============== ===========================================================================================

Numbers are shown with thousands separators, ratios as percentages with one decimal, NULL as an en dash. Every table
cell carries ``data-column`` (and every campaign row ``data-provider``, ``data-account-id``,
``data-campaign-id``) so a test or a scraper reads the values back without parsing the layout.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pendulum

from core.errors import CampaignEtlError, ConfigError, first_line
from core.providers import PROVIDER_NAMES
from pipelines import report
from pipelines.warehouse import read_only

DEFAULT_NAME = "campaign_report.html"
NULL = "\u2013"  # an en dash
RUNS_PER_PROVIDER = 5
TOP_CAMPAIGNS = 10
ACCUMULATION_CAMPAIGNS = 8

# what the page reads; a warehouse without one of them was not built by this version's transforms
RELATIONS = ("load_runs", "data_quality", "extraction_errors", "campaign_performance", "weekly_provider_metrics",
             "campaign_accumulation", "provider_freshness")

WEEKLY_MEASURES = ("sent", "delivered", "clicks_total", "conversions")
ACCUMULATION_MEASURES = ("opens_unique", "opens_total", "clicks_unique", "clicks_total")
FRESHNESS_COLUMNS = ("provider", "last_run_id", "last_run_at", "last_outcome", "last_success_at",
                     "hours_since_success", "newest_observed_at", "fact_rows", "campaigns")
CAMPAIGN_COLUMNS = ("provider", "campaign_id", "campaign_name", "status", "sent", "delivered", "clicks_unique",
                    "clicks_total", "conversions")

# Okabe-Ito: told apart with the common colour-vision deficiencies, and printable
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#7F7F7F", "#000000")


class ReportError(CampaignEtlError):
    """The warehouse lacks what the report reads, or the page cannot be written: exit 1."""


Row = dict[str, Any]


@dataclass
class ReportData:
    """Everything the page shows, read from the warehouse read-only (the open errors as ``status`` reads them)."""

    runs: list[Row]
    quality_counts: list[Row]
    quality_failing: list[Row]
    error_providers: list[Row]       # provider, last run, outcome, open errors (``status``'s reading)
    error_kinds: list[Row]           # provider, kind, count, an example reason
    weekly: list[Row]
    top_conversion: list[Row]
    top_click: list[Row]
    accumulation: list[Row]          # the chosen campaigns' observed days
    freshness: list[Row]
    providers: list[str] = field(default_factory=list)


def write_report(warehouse: Path, output: Path | None = None) -> Path:
    """Write the report of the published ``warehouse`` to ``output`` (default: ``campaign_report.html`` beside
    the warehouse) and return its path. The file is replaced atomically: a reader never sees half a page."""
    output = (output or warehouse.parent / DEFAULT_NAME).expanduser().resolve()
    if not output.parent.is_dir():
        raise ConfigError(f"the folder of the report {output.parent} does not exist.")
    if output.is_dir():
        raise ConfigError(f"--output {output} is a folder; give the path of an HTML file.")
    data = read_report_data(warehouse)
    page = render(data, warehouse=warehouse, now=pendulum.now("UTC"))
    tmp = output.with_name(f".{output.name}.writing-{os.getpid()}")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, output)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise ReportError(f"cannot write the report {output} ({exc.strerror or first_line(exc)}).") from None
    return output


# ---------------------------------------------------------------------------------------------------- reading


def read_report_data(warehouse: Path) -> ReportData:
    """The page's rows, read-only; a warehouse lacking a relation or a column is refused in one sentence."""
    with read_only(warehouse) as con:
        _check_relations(con, warehouse)
        try:
            data = _read(con)
        except duckdb.Error as exc:
            raise ReportError(f"cannot read the analytics of {warehouse} ({first_line(exc)}); 'campaign-etl "
                              f"transform' rebuilds them with this version's views.") from None
    # ``status``'s own reading of the open errors (its connection, after ours is closed)
    status = report.read_status(warehouse)
    data.error_providers = [{"provider": p["provider"], "last_run": p["last_run"], "outcome": p["outcome"],
                             "open_errors": p["open_errors"]} for p in status.providers]
    data.error_kinds = [{"provider": provider, "kind": code, "errors": count,
                         "example": report.plain(reason) if reason else None}
                        for provider, code, count, reason in status.errors]
    data.providers = _ordered({str(r["provider"]) for rows in (data.runs, data.weekly, data.freshness,
                                                                data.quality_counts, data.error_providers)
                               for r in rows if r.get("provider")})
    return data


def _check_relations(con: duckdb.DuckDBPyConnection, warehouse: Path) -> None:
    found = {r[0] for r in con.execute("select table_name from information_schema.tables "
                                       "where table_schema = 'analytics'").fetchall()}
    missing = [f"analytics.{name}" for name in RELATIONS if name not in found]
    if len(missing) == len(RELATIONS):
        raise ReportError(f"{warehouse} is not a published campaign-etl warehouse (it has no analytics schema); "
                          f"run 'campaign-etl run' or 'campaign-etl demo' first.")
    if missing:
        raise ReportError(f"{warehouse} lacks {', '.join(missing)}; 'campaign-etl transform' rebuilds the "
                          f"analytics with this version's views.")


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[Row]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def _read(con: duckdb.DuckDBPyConnection) -> ReportData:
    campaign_columns = ", ".join(CAMPAIGN_COLUMNS)
    # the freshness check's own verdict, where the view carries it
    freshness_status = bool(con.execute("""
        select 1 from information_schema.columns where table_schema = 'analytics'
        and table_name = 'provider_freshness' and column_name = 'freshness_status'""").fetchall())
    return ReportData(
        runs=_rows(con, f"""
            select provider, run_id, mode, started_at, finished_at, outcome, requests, fact_rows_changed, message
            from analytics.load_runs
            qualify row_number() over (partition by provider order by started_at desc, run_id desc)
                    <= {RUNS_PER_PROVIDER}
            order by provider, started_at desc, run_id desc"""),
        quality_counts=_rows(con, """
            select provider, count(*) as checks, count(*) filter (where status = 'pass') as passed,
                   count(*) filter (where status is distinct from 'pass') as not_passed
            from analytics.data_quality group by all order by provider"""),
        quality_failing=_rows(con, """
            select check_name, provider, severity, status, failing_rows, detail from analytics.data_quality
            where status is distinct from 'pass' order by status, severity, check_name, provider"""),
        error_providers=[], error_kinds=[],
        weekly=_rows(con, """
            select week_start, provider, campaigns, sent, delivered, clicks_unique, clicks_total,
                   conversions, delivery_rate, click_rate_total, conversion_rate
            from analytics.weekly_provider_metrics where week_start is not null
            order by week_start, provider"""),
        top_conversion=_rows(con, f"""
            select account_id, {campaign_columns}, conversion_rate
            from analytics.campaign_performance where conversion_rate is not null
            order by conversion_rate desc, conversions desc nulls last, provider, campaign_id
            limit {TOP_CAMPAIGNS}"""),
        top_click=_rows(con, f"""
            select account_id, {campaign_columns},
                   coalesce(click_rate_unique, click_rate_total) as click_rate,
                   case when click_rate_unique is not null then 'unique' else 'total' end as click_rate_basis
            from analytics.campaign_performance
            where coalesce(click_rate_unique, click_rate_total) is not null
            order by click_rate desc, coalesce(clicks_unique, clicks_total) desc nulls last, provider, campaign_id
            limit {TOP_CAMPAIGNS}"""),
        accumulation=_accumulation(con),
        freshness=_rows(con, f"""
            select {", ".join(FRESHNESS_COLUMNS)}{", freshness_status" if freshness_status else ""}
            from analytics.provider_freshness order by provider"""),
    )


def _accumulation(con: duckdb.DuckDBPyConnection) -> list[Row]:
    """Per measure (opens and clicks, unique and total): the observed days of the most recently started campaigns
    with that figure on at least two days; when no campaign has it on two days yet, of the most recent ones with
    it on one. One row per (measure, campaign, observed day)."""
    unpivoted = " union all ".join(
        f"select '{m}' as measure, provider, account_id, campaign_id, campaign_name, started_at, observed_date, "
        f"days_after_send, {m} as value from analytics.campaign_accumulation "
        f"where {m} is not null and days_after_send is not null"
        for m in ACCUMULATION_MEASURES)
    return _rows(con, f"""
        with figures as ({unpivoted}),
        observed as (
            select measure, provider, account_id, campaign_id, max(started_at) as started_at,
                   count(distinct observed_date) as days
            from figures group by measure, provider, account_id, campaign_id
        ),
        ranked as (
            select *, row_number() over (partition by measure order by days >= 2 desc, started_at desc nulls last,
                                                                       provider, campaign_id) as rank,
                      max(days) over (partition by measure) as most_days
            from observed
        ),
        chosen as (
            select * from ranked
            where rank <= {ACCUMULATION_CAMPAIGNS} and (days >= 2 or most_days < 2)
        )
        select f.measure, f.provider, f.account_id, f.campaign_id, f.campaign_name, c.started_at, c.days,
               f.observed_date, f.days_after_send, f.value
        from chosen as c
        join figures as f using (measure, provider, account_id, campaign_id)
        order by f.measure, c.started_at desc nulls last, f.provider, f.campaign_id, f.days_after_send""")


def _ordered(providers: Iterable[str]) -> list[str]:
    """Providers in the loader's order, any other name after them."""
    names = set(providers)
    return [p for p in PROVIDER_NAMES if p in names] + sorted(names - set(PROVIDER_NAMES))


# ------------------------------------------------------------------------------------------------- formatting


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def fmt_int(value: Any) -> str:
    """A count: ``12,345``; a count stored as a fractional double keeps two decimals; NULL as ``NULL``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NULL
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def fmt_rate(value: Any) -> str:
    """A ratio 0..1 as a percentage with one decimal: ``3.6%``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NULL
    return f"{float(value) * 100:.1f}%"


def fmt_value(value: Any) -> str:
    """Any other cell: times in UTC to the second, dates as ISO, text as it is."""
    if value is None:
        return NULL
    if isinstance(value, dt.datetime):
        return report.timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def fmt_hours(value: Any) -> str:
    if value is None:
        return NULL
    return f"{float(value):,.1f}"


def _formatter(column: str) -> Callable[[Any], str]:
    if column.endswith("_rate") or column in ("click_rate_unique", "click_rate_total"):
        return fmt_rate
    if column in _COUNTS:
        return fmt_int
    if column == "hours_since_success":
        return fmt_hours
    return fmt_value


_COUNTS = {"campaigns", "sent", "delivered", "opens_unique", "opens_total", "clicks_unique", "clicks_total",
           "conversions", "requests", "fact_rows_changed", "fact_rows", "failing_rows", "open_errors", "errors",
           "checks", "passed", "not_passed", "days", "observed_days"}


# ---------------------------------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Column:
    """A table column: the row key, its header, and whether its values are numbers (right-aligned)."""

    key: str
    header: str = ""
    numeric: bool = False

    @property
    def label(self) -> str:
        return self.header or self.key.replace("_", " ")


def columns(*keys: str) -> list[Column]:
    return [Column(key, numeric=_formatter(key) is not fmt_value or key == "revenue") for key in keys]


def table(cols: Sequence[Column], rows: Sequence[Row], *, row_attrs: Callable[[Row], dict[str, str]] | None = None,
          cell_class: Callable[[str, Any], str] | None = None, css: str = "") -> str:
    """Rows as an HTML table; every cell carries ``data-column``, every value is escaped."""
    head = "".join(f'<th scope="col" class="{"num" if c.numeric else ""}">{esc(c.label)}</th>' for c in cols)
    body = []
    for row in rows:
        attrs = "".join(f' {name}="{esc(value)}"' for name, value in (row_attrs(row) if row_attrs else {}).items())
        cells = []
        for c in cols:
            value = row.get(c.key)
            classes = " ".join(filter(None, ["num" if c.numeric else "", cell_class(c.key, value) if cell_class
                                             else ""]))
            cells.append(f'<td data-column="{esc(c.key)}" class="{classes}">{esc(_formatter(c.key)(value))}</td>')
        body.append(f"<tr{attrs}>{''.join(cells)}</tr>")
    return (f'<div class="scroll"><table class="{css}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _outcome_class(column: str, value: Any) -> str:
    """Green for a good outcome, red for a failed one, amber for the rest of a run's or a check's outcomes (a
    campaign's status: only its good and bad ends are coloured)."""
    if column not in ("outcome", "last_outcome", "status") or value is None:
        return ""
    text = str(value).lower()
    if text in ("ok", "pass", "completed"):
        return "good"
    if text in ("failed", "fail", "error", "cancelled"):
        return "bad"
    return "" if column == "status" else "warn"


def no_data(text: str) -> str:
    return f'<p class="no-data">{esc(text)}</p>'


# ---------------------------------------------------------------------------------------------------- charts


@dataclass
class Series:
    """One line of a chart: its name, colour and points (x, y, tooltip)."""

    name: str
    color: str
    points: list[tuple[float, float, str]]


_W, _H = 600, 280
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 16, 44


def nice_ticks(bottom: float, top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 (or below, for a negative ``bottom``) to at least ``top``: 0, 2,000, 4,000, ..."""
    bottom, top = min(bottom, 0.0), max(top, 0.0)
    if top - bottom <= 0:
        return [0.0, 1.0]
    raw = (top - bottom) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(bottom / step + 1e-9)
    return [i * step for i in range(first, math.ceil(top / step - 1e-9) + 1)]


def compact(value: float) -> str:
    """A tick label in a few characters: ``950``, ``12k``, ``1.5M``."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            text = f"{value / size:.1f}".rstrip("0").rstrip(".")
            return text + suffix
    return f"{value:g}"


def line_chart(title: str, series: Sequence[Series], x_ticks: Sequence[tuple[float, str]], *, x_label: str,
               y_label: str, chart_id: str) -> str:
    """A static SVG line chart: axes with labels and ticks, one line per series with a marker and a ``<title>``
    tooltip per point, and a legend (as HTML under the chart, so long names wrap)."""
    xs = [p[0] for s in series for p in s.points] + [t[0] for t in x_ticks]
    ys = [p[1] for s in series for p in s.points]
    x_min, x_max = (min(xs), max(xs)) if xs else (0.0, 1.0)
    if x_max == x_min:
        x_min, x_max = x_min - 1, x_max + 1
    ticks = nice_ticks(min(ys, default=0.0), max(ys, default=0.0))
    y_min, y_max = ticks[0], ticks[-1]
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def sx(x: float) -> float:
        return _LEFT + (x - x_min) / (x_max - x_min) * plot_w

    def sy(y: float) -> float:
        return _TOP + plot_h - (y - y_min) / (y_max - y_min) * plot_h

    parts = [f'<svg id="{esc(chart_id)}" class="chart" viewBox="0 0 {_W} {_H}" role="img" '
             f'aria-labelledby="{esc(chart_id)}-title">',
             f'<title id="{esc(chart_id)}-title">{esc(title)}</title>']
    for tick in ticks:   # horizontal grid and y tick labels
        y = sy(tick)
        parts.append(f'<line class="grid" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="tick" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{esc(compact(tick))}'
                     f"</text>")
    every = max(1, math.ceil(len(x_ticks) / 8))   # at most 8 x labels: readable at any width
    for i, (x, label) in enumerate(x_ticks):
        if i % every == 0:
            parts.append(f'<text class="tick" x="{sx(x):.1f}" y="{_TOP + plot_h + 16}" text-anchor="middle">'
                         f"{esc(label)}</text>")
    parts.append(f'<line class="axis" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{_TOP + plot_h}" y2="{_TOP + plot_h}"/>'
                 f'<line class="axis" x1="{_LEFT}" x2="{_LEFT}" y1="{_TOP}" y2="{_TOP + plot_h}"/>'
                 f'<text class="axis-label" x="{_LEFT + plot_w / 2:.1f}" y="{_H - 6}" text-anchor="middle">'
                 f"{esc(x_label)}</text>"
                 f'<text class="axis-label" x="14" y="{_TOP + plot_h / 2:.1f}" text-anchor="middle" '
                 f'transform="rotate(-90 14 {_TOP + plot_h / 2:.1f})">{esc(y_label)}</text>')
    for s in series:
        points = sorted(s.points)
        path = " ".join(f"{'M' if i == 0 else 'L'}{sx(x):.1f},{sy(y):.1f}" for i, (x, y, _) in enumerate(points))
        parts.append(f'<g class="series" data-series="{esc(s.name)}" data-points="{len(points)}">'
                     f'<path d="{path}" fill="none" stroke="{s.color}" stroke-width="2"/>')
        for x, y, tip in points:
            parts.append(f'<circle class="point" cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3.5" fill="{s.color}">'
                         f"<title>{esc(tip)}</title></circle>")
        parts.append("</g>")
    parts.append("</svg>")
    legend = "".join(f'<li><span class="swatch" style="background:{s.color}"></span>{esc(s.name)}</li>'
                     for s in series)
    return (f'<figure class="chart-box"><figcaption>{esc(title)}</figcaption>{"".join(parts)}'
            f'<ul class="legend">{legend}</ul></figure>')


def _colors(names: Sequence[str]) -> dict[str, str]:
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


# -------------------------------------------------------------------------------------------------- sections


def section(section_id: str, title: str, intro: str, body: str) -> str:
    return (f'<section id="{esc(section_id)}"><h2>{esc(title)}</h2><p class="intro">{esc(intro)}</p>{body}'
            f"</section>")


def runs_section(data: ReportData) -> str:
    if not data.runs:
        return section("runs", "Runs", "The latest runs of each provider (analytics.load_runs).",
                       no_data("No data: no run has been recorded yet."))
    parts = []
    cols = columns("run_id", "mode", "started_at", "finished_at", "outcome", "requests", "fact_rows_changed",
                   "message")
    for provider in _ordered(r["provider"] for r in data.runs):
        rows = [{**r, "message": report.plain(r["message"]) if r["message"] else None}
                for r in data.runs if r["provider"] == provider]
        latest = rows[0]["outcome"]
        parts.append(f'<h3>{esc(provider)} <span class="badge {_outcome_class("outcome", latest)}">'
                     f"latest: {esc(latest or NULL)}</span></h3>")
        parts.append(table(cols, rows, row_attrs=lambda r: {"data-provider": r["provider"]},
                           cell_class=_outcome_class))
    return section("runs", "Runs", f"The latest {RUNS_PER_PROVIDER} runs of each provider (analytics.load_runs; "
                                   f"times UTC).", "".join(parts))


def quality_section(data: ReportData) -> str:
    intro = "Data-quality checks of the last transform (analytics.data_quality)."
    if not data.quality_counts:
        return section("quality", "Data quality", intro, no_data("No data: no check has run yet."))
    body = table(columns("provider", "checks", "passed", "not_passed"), data.quality_counts,
                 row_attrs=lambda r: {"data-provider": r["provider"]}, css="quality-counts")
    if data.quality_failing:
        body += "<h3>Checks not passing</h3>" + table(
            columns("check_name", "provider", "severity", "status", "failing_rows", "detail"), data.quality_failing,
            row_attrs=lambda r: {"data-provider": r["provider"]}, cell_class=_outcome_class)
    else:
        body += no_data("Every check passed.")
    return section("quality", "Data quality", intro, body)


def errors_section(data: ReportData) -> str:
    intro = ("Open extraction errors: those of each provider's latest run, as 'campaign-etl status' counts them "
             "(analytics.extraction_errors).")
    if not data.error_providers:
        return section("errors", "Extraction errors", intro, no_data("No data: no provider has run yet."))
    body = table(columns("provider", "last_run", "outcome", "open_errors"), data.error_providers,
                 row_attrs=lambda r: {"data-provider": r["provider"]}, cell_class=_outcome_class)
    if data.error_kinds:
        body += "<h3>Open errors by kind</h3>" + table(columns("provider", "kind", "errors", "example"),
                                                       data.error_kinds,
                                                       row_attrs=lambda r: {"data-provider": r["provider"]})
    else:
        body += no_data("No open extraction errors: the latest run of every provider skipped nothing.")
    return section("errors", "Extraction errors", intro, body)


def weekly_section(data: ReportData) -> str:
    intro = ("Per week (starting Monday, UTC) and provider, summed over the campaigns started that week "
             "(analytics.weekly_provider_metrics). Hover a point for its value.")
    if not data.weekly:
        return section("weekly", "Weekly metrics", intro, no_data("No data: no campaign has figures yet."))
    weeks = sorted({r["week_start"] for r in data.weekly})
    index = {week: float(i) for i, week in enumerate(weeks)}
    x_ticks = [(index[w], w.strftime("%b %d")) for w in weeks]
    colors = _colors(_ordered(PROVIDER_NAMES))
    charts = []
    for measure in WEEKLY_MEASURES:
        series = []
        for provider in _ordered(r["provider"] for r in data.weekly):
            points = [(index[r["week_start"]], float(r[measure]),
                       f"{provider}, week of {r['week_start'].isoformat()}: {fmt_int(r[measure])} {measure}")
                      for r in data.weekly if r["provider"] == provider and r[measure] is not None]
            if points:
                series.append(Series(provider, colors.get(provider, PALETTE[-1]), points))
        label = measure.replace("_", " ")
        if series:
            charts.append(line_chart(f"{label} per week", series, x_ticks, x_label="week starting",
                                     y_label=label, chart_id=f"weekly-{measure}"))
        else:
            charts.append(f'<figure class="chart-box"><figcaption>{esc(label)} per week</figcaption>'
                          f"{no_data(f'No provider reports {label} yet.')}</figure>")
    numbers = table(columns("week_start", "provider", "campaigns", "sent", "delivered", "clicks_unique",
                            "clicks_total", "conversions", "delivery_rate", "click_rate_total", "conversion_rate"),
                    data.weekly,
                    row_attrs=lambda r: {"data-provider": r["provider"]})
    return section("weekly", "Weekly metrics", intro,
                   f'<div class="charts">{"".join(charts)}</div><h3>The numbers</h3>{numbers}')


def _campaign_attrs(row: Row) -> dict[str, str]:
    return {"data-provider": str(row["provider"]), "data-account-id": str(row["account_id"]),
            "data-campaign-id": str(row["campaign_id"])}


def top_campaigns_section(data: ReportData) -> str:
    intro = ("The best campaigns by conversion rate (conversions / delivered) and by click rate (unique clicks / "
             "delivered where the provider counts unique clicks, else total clicks / delivered) "
             "(analytics.campaign_performance).")
    base = list(CAMPAIGN_COLUMNS)
    body = f"<h3>Top {TOP_CAMPAIGNS} by conversion rate</h3>"
    body += (table(columns(*base, "conversion_rate"), data.top_conversion, row_attrs=_campaign_attrs,
                   cell_class=_outcome_class, css="campaigns by-conversion") if data.top_conversion
             else no_data("No data: no campaign has a conversion rate yet."))
    body += f"<h3>Top {TOP_CAMPAIGNS} by click rate</h3>"
    body += (table(columns(*base, "click_rate", "click_rate_basis"), data.top_click, row_attrs=_campaign_attrs,
                   cell_class=_outcome_class, css="campaigns by-click") if data.top_click
             else no_data("No data: no campaign has a click rate yet."))
    return section("top-campaigns", "Top campaigns", intro, body)


def accumulation_section(data: ReportData) -> str:
    intro = ("Opens and clicks of the most recently started campaigns as known at the end of each observed day, "
             "by day after send (analytics.campaign_accumulation; campaigns observed on at least two days first).")
    if not data.accumulation:
        return section("accumulation", "Accumulation after send", intro,
                       no_data("No data: no campaign has observed opens or clicks yet."))
    names = {_campaign_key(r): f"{r['campaign_name'] or r['campaign_id']} ({r['provider']})"
             for r in data.accumulation}
    days = sorted({int(r["days_after_send"]) for r in data.accumulation})
    x_ticks = [(float(d), str(d)) for d in range(min(days), max(days) + 1)]
    charts, single = [], []
    for measure in ACCUMULATION_MEASURES:
        rows = [r for r in data.accumulation if r["measure"] == measure]
        if not rows:
            continue
        label = measure.replace("_", " ")
        drawn = list(dict.fromkeys(_campaign_key(r) for r in rows))
        colors = _colors([names[key] for key in drawn])   # at most ACCUMULATION_CAMPAIGNS: a colour each
        series = [Series(names[key], colors[names[key]],
                         [(float(r["days_after_send"]), float(r["value"]),
                           f"{names[key]}, day {r['days_after_send']} ({fmt_value(r['observed_date'])}): "
                           f"{fmt_int(r['value'])} {label}") for r in rows if _campaign_key(r) == key])
                  for key in drawn]
        if all(r["days"] < 2 for r in rows):
            single.append(label)
        charts.append(line_chart(f"{label} by day after send", series, x_ticks, x_label="days after send",
                                 y_label=label, chart_id=f"accumulation-{measure}"))
    note = no_data(f"Only one observed day so far ({', '.join(single)}): each campaign shows a single point; the "
                   f"curves grow with each day's run.") if single else ""
    latest: dict[tuple[str, str, str], Row] = {}
    for r in data.accumulation:   # rows run by day within a campaign: the last one of each measure wins
        row = latest.setdefault(_campaign_key(r), {
            "provider": r["provider"], "account_id": r["account_id"], "campaign_id": r["campaign_id"],
            "campaign_name": r["campaign_name"], "started_at": r["started_at"], "observed_days": 0,
            **dict.fromkeys(ACCUMULATION_MEASURES)})
        row["observed_days"] = max(row["observed_days"], r["days"])
        row[r["measure"]] = r["value"]
    ordered = sorted(latest.values(), key=lambda r: (r["started_at"] is not None, r["started_at"] or 0),
                     reverse=True)
    numbers = table(columns("provider", "campaign_id", "campaign_name", "started_at", "observed_days",
                            *ACCUMULATION_MEASURES), ordered, row_attrs=_campaign_attrs)
    return section("accumulation", "Accumulation after send", intro,
                   f'{note}<div class="charts">{"".join(charts)}</div><h3>Latest figures of these campaigns</h3>'
                   f"{numbers}")


def _campaign_key(row: Row) -> tuple[str, str, str]:
    return (row["provider"], row["account_id"], row["campaign_id"])


def freshness_section(data: ReportData) -> str:
    intro = ("Per provider: its last run, last success and newest figures (analytics.provider_freshness; hours "
             "since success as of the last transform's checks).")
    if not data.freshness:
        return section("freshness", "Freshness", intro, no_data("No data: no provider has run yet."))
    shown = [*FRESHNESS_COLUMNS, *(["freshness_status"] if "freshness_status" in data.freshness[0] else [])]

    def cell_class(column: str, value: Any) -> str:
        return _outcome_class("status" if column == "freshness_status" else column, value)

    body = table(columns(*shown), data.freshness, row_attrs=lambda r: {"data-provider": r["provider"]},
                 cell_class=cell_class)
    return section("freshness", "Freshness", intro, body)


SECTIONS: tuple[tuple[str, str, Callable[[ReportData], str]], ...] = (
    ("runs", "Runs", runs_section),
    ("quality", "Data quality", quality_section),
    ("errors", "Extraction errors", errors_section),
    ("weekly", "Weekly metrics", weekly_section),
    ("top-campaigns", "Top campaigns", top_campaigns_section),
    ("accumulation", "Accumulation", accumulation_section),
    ("freshness", "Freshness", freshness_section),
)

_CSS = """
:root { color-scheme: light; --ink: #1d2430; --muted: #5b6573; --line: #d9dee5; --band: #f5f7fa;
        --good: #1a7f37; --bad: #b42318; --warn: #9a6700; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       background: #fff; }
header { padding: 20px 32px 12px; border-bottom: 1px solid var(--line); background: var(--band); }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 2px 0; color: var(--muted); }
header code { color: var(--ink); word-break: break-all; }
nav { margin-top: 10px; display: flex; flex-wrap: wrap; gap: 4px 16px; }
nav a { color: #0b5cad; text-decoration: none; }
main { max-width: 1240px; margin: 0 auto; padding: 8px 32px 48px; }
section { margin-top: 28px; }
h2 { font-size: 18px; margin: 0 0 4px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; }
.intro { color: var(--muted); margin: 4px 0 10px; }
.no-data { color: var(--muted); font-style: italic; margin: 8px 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--band); font-weight: 600; }
td { white-space: nowrap; }
td[data-column="message"], td[data-column="detail"], td[data-column="example"] { white-space: normal;
  overflow-wrap: anywhere; min-width: 240px; }
td[data-column="campaign_name"] { white-space: normal; overflow-wrap: anywhere; }
/* times and run ids break (date / time) only when a table would not fit otherwise */
td[data-column$="_at"], td[data-column="last_run"], td[data-column$="run_id"] { white-space: normal; }
td[data-column$="run_id"] { overflow-wrap: anywhere; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafbfc; }
.good { color: var(--good); font-weight: 600; }
.bad { color: var(--bad); font-weight: 600; }
.warn { color: var(--warn); font-weight: 600; }
.badge { font-size: 12px; font-weight: 600; padding: 1px 8px; border-radius: 10px; background: var(--band);
         border: 1px solid var(--line); margin-left: 6px; }
.charts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 16px; }
.chart-box { margin: 0; padding: 8px; border: 1px solid var(--line); border-radius: 6px; }
.chart-box figcaption { font-weight: 600; margin-bottom: 4px; }
svg.chart { width: 100%; height: auto; display: block; }
svg .grid { stroke: #e7eaef; stroke-width: 1; }
svg .axis { stroke: #8a94a3; stroke-width: 1; }
svg .tick { font-size: 11px; fill: var(--muted); }
svg .axis-label { font-size: 12px; fill: var(--ink); }
svg .point { stroke: #fff; stroke-width: 1; }
.legend { list-style: none; margin: 6px 0 0; padding: 0; display: flex; flex-wrap: wrap; gap: 2px 14px;
          font-size: 12px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; }
@media (max-width: 900px) { .charts { grid-template-columns: 1fr; } }
"""


def render(data: ReportData, *, warehouse: Path, now: dt.datetime) -> str:
    """The whole page: a header (warehouse, generated-at time, contents), then the sections."""
    nav = "".join(f'<a href="#{esc(sid)}">{esc(title)}</a>' for sid, title, _ in SECTIONS)
    body = "".join(render_section(data) for _, _, render_section in SECTIONS)
    providers = ", ".join(data.providers) if data.providers else "none yet"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Campaign report: {esc(warehouse.name)}</title><style>{_CSS}</style></head><body>"
        f'<header><h1>Campaign report</h1><p>Warehouse: <code id="warehouse">{esc(warehouse)}</code></p>'
        f'<p>Generated at <time id="generated-at" datetime="{esc(now.isoformat())}">{esc(report.timestamp(now))}'
        f"</time> (UTC) · providers: {esc(providers)}</p><nav>{nav}</nav></header>"
        f"<main>{body}</main></body></html>\n")
