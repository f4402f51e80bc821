"""``campaign-etl report``: the page of a demo warehouse opened in headless Chromium (Debian's ``chromium``, driven
by Playwright; no browser is downloaded), read back as a person and a scraper would; and the page of a warehouse
with nothing loaded, and the refusals, without a browser.

Under ``CI=true`` a missing Chromium or Playwright fails the browser tests instead of skipping them (``.ci/run``
installs Chromium; the ``test`` extra installs Playwright). ``CAMPAIGN_ETL_CHROMIUM`` names another Chromium.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar, NoReturn

import pendulum
import pytest
from helpers import cli, demo_copy, one_sentence, query, unavailable

from pipelines import html_report
from pipelines.html_report import ReportData, render, write_report
from pipelines.warehouse import WorkArea

SECTIONS = ("runs", "quality", "errors", "weekly", "top-campaigns", "accumulation", "freshness")
CHART_SECTIONS = ("weekly", "accumulation")
NULL = "\u2013"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
                 "--disable-default-apps", "--mute-audio"]
CAMPAIGN_COUNTS = ("sent", "delivered", "clicks_unique", "clicks_total", "conversions")


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def demo_warehouse(built_demo: tuple[Path, subprocess.CompletedProcess[str]],
                   tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse of the five simulators, built by ``campaign-etl demo`` (the session's, copied for the module)."""
    return demo_copy(built_demo, tmp_path_factory, "demo")[0]


@pytest.fixture(scope="module")
def written(demo_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path,
                                                                                      subprocess.CompletedProcess[str]]:
    """The demo's report written through the CLI, as a scheduler would run it."""
    output = tmp_path_factory.mktemp("report") / "report.html"
    result = cli("report", "--warehouse", str(demo_warehouse), "--output", str(output), cwd=output.parent)
    return output, result


@pytest.fixture(scope="module")
def report_file(written: tuple[Path, subprocess.CompletedProcess[str]]) -> Path:
    output, result = written
    assert result.returncode == 0, result.stderr
    return output


def _unavailable(reason: str) -> NoReturn:
    """A missing browser: a failure under CI (the report test must run there), a skip elsewhere."""
    unavailable(reason, "under CI the report test must run (.ci/run installs Debian's chromium, the test extra "
                        "installs Playwright)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (``CAMPAIGN_ETL_CHROMIUM``, else Debian's /usr/bin/chromium) under Playwright."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install -e '.[test]')")
    executable = os.environ.get("CAMPAIGN_ETL_CHROMIUM", "/usr/bin/chromium")
    if not (Path(executable).is_file() and os.access(executable, os.X_OK)):
        _unavailable(f"no Chromium at {executable} (Debian package 'chromium', or set CAMPAIGN_ETL_CHROMIUM)")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        except PlaywrightError as exc:
            _unavailable(f"Chromium at {executable} does not start: {str(exc).strip().splitlines()[0]}")
        yield chromium
        chromium.close()


@dataclass
class Loaded:
    """The report open in a page, and what the page did while loading: console errors, page errors, requests."""

    page: Any
    url: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def loaded(browser: Any, report_file: Path) -> Iterator[Loaded]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    opened = Loaded(page=page, url=report_file.as_uri())
    page.on("console", lambda m: opened.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: opened.page_errors.append(str(exc)))
    page.on("request", lambda request: opened.requests.append(request.url))
    page.goto(opened.url, wait_until="load")
    yield opened
    context.close()


# ------------------------------------------------------------------------------------------ reading the page

_SECTION_JS = """ids => ids.map(id => {
  const s = document.getElementById(id);
  if (!s) return null;
  return {
    tag: s.tagName.toLowerCase(), h2: (s.querySelector('h2') || {}).textContent || '',
    tables: [...s.querySelectorAll('table')].map(t => t.querySelectorAll('tbody tr').length),
    noData: [...s.querySelectorAll('.no-data')].map(p => p.textContent),
    charts: [...s.querySelectorAll('svg.chart')].map(svg => ({
      id: svg.id, width: svg.getBoundingClientRect().width, height: svg.getBoundingClientRect().height,
      axisLabels: [...svg.querySelectorAll('.axis-label')].map(t => t.textContent),
      legend: [...svg.closest('figure').querySelectorAll('.legend li')].map(li => li.textContent),
      series: [...svg.querySelectorAll('g.series')].map(g => ({
        name: g.dataset.series, paths: g.querySelectorAll('path').length,
        points: g.querySelectorAll('circle.point').length,
        titled: [...g.querySelectorAll('circle.point')].filter(c => {
          const t = c.querySelector('title'); return t && t.textContent.trim().length > 0; }).length,
      })),
    })),
  };
})"""

_ROWS_JS = """selector => [...document.querySelectorAll(selector + ' tbody tr')].map(tr => ({
  provider: tr.dataset.provider, account: tr.dataset.accountId, campaign: tr.dataset.campaignId,
  cells: Object.fromEntries([...tr.querySelectorAll('td[data-column]')].map(td => [td.dataset.column,
                                                                                   td.textContent])),
}))"""


def sections(loaded: Loaded) -> dict[str, dict[str, Any]]:
    found = loaded.page.evaluate(_SECTION_JS, list(SECTIONS))
    return dict(zip(SECTIONS, found, strict=True))


def table_rows(loaded: Loaded, selector: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = loaded.page.evaluate(_ROWS_JS, selector)
    return rows


def count(text: str) -> int | None:
    """A displayed count back to a number: ``12,345`` -> 12345, the en dash -> None."""
    return None if text == NULL else int(text.replace(",", ""))


def rate(text: str) -> float | None:
    """A displayed percentage back to a ratio: ``3.6%`` -> 0.036 (to the 0.1 % shown)."""
    return None if text == NULL else float(text.removesuffix("%")) / 100


def shown_rate(value: float | None) -> str:
    return NULL if value is None else f"{value * 100:.1f}%"


# ------------------------------------------------------------------------------------------------- the CLI


@pytest.mark.slow
def test_report_prints_the_path_of_the_file_it_wrote(written: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    output, result = written
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(output)
    assert "Traceback" not in result.stderr
    assert output.stat().st_size > 10_000


@pytest.mark.slow
def test_the_file_names_no_external_resource(report_file: Path) -> None:
    text = report_file.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert not re.search(r"(?i)https?://|\bsrc\s*=|<link\b|@import|url\(|<img\b|<iframe\b|<object\b", text)
    assert "<style>" in text
    assert not re.search(r"(?i)<script[^>]*\bsrc", text)   # a script, if any, is inline


# ------------------------------------------------------------------------------------------ in Chromium


@pytest.mark.slow
def test_the_page_loads_with_no_error_and_no_request_but_itself(loaded: Loaded, tmp_path: Path) -> None:
    assert loaded.console_errors == []
    assert loaded.page_errors == []
    assert loaded.requests == [loaded.url]
    # readable at 1280 px: nothing wider than the window
    assert loaded.page.evaluate("document.documentElement.scrollWidth") <= 1280
    screenshot = tmp_path / "report.png"
    loaded.page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.exists() and screenshot.stat().st_size > 50_000
    assert loaded.requests == [loaded.url], "the screenshot made the page fetch something"


@pytest.mark.slow
def test_the_header_names_the_warehouse_and_the_time(loaded: Loaded, demo_warehouse: Path) -> None:
    assert loaded.page.text_content("#warehouse") == str(demo_warehouse)
    generated = loaded.page.text_content("#generated-at") or ""
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z", generated), generated


@pytest.mark.slow
def test_every_section_is_there_with_data(loaded: Loaded) -> None:
    found = sections(loaded)
    for sid, s in found.items():
        assert s is not None, f"no section #{sid}"
        assert s["tag"] == "section" and s["h2"].strip(), sid
        assert s["tables"] and all(rows >= 1 for rows in s["tables"]), (sid, s["tables"])
        assert not [t for t in s["noData"] if t.startswith("No data")], (sid, s["noData"])
    for sid in CHART_SECTIONS:
        charts = found[sid]["charts"]
        assert charts, f"#{sid} has no chart"
        for chart in charts:
            assert chart["width"] > 300 and chart["height"] > 100, chart["id"]
            assert len(chart["axisLabels"]) == 2, chart["id"]
            assert chart["series"], f"{chart['id']} plots nothing"
            assert [s["name"] for s in chart["series"]] == chart["legend"], chart["id"]
            for line in chart["series"]:
                assert line["paths"] == 1 and line["points"] >= 1, (chart["id"], line)
                assert line["titled"] == line["points"], f"{chart['id']}: a point without a tooltip"


@pytest.mark.slow
def test_weekly_has_a_chart_per_measure_with_data_and_the_numbers_of_the_view(loaded: Loaded,
                                                                             demo_warehouse: Path) -> None:
    measures = [m for m in html_report.WEEKLY_MEASURES
                if query(demo_warehouse, f"select count({m}) from analytics.weekly_provider_metrics")[0][0]]
    charts = sections(loaded)["weekly"]["charts"]
    assert [c["id"] for c in charts] == [f"weekly-{m}" for m in measures]
    for chart, measure in zip(charts, measures, strict=True):
        providers = {r[0] for r in query(demo_warehouse, f"select distinct provider from "
                                                         f"analytics.weekly_provider_metrics where {measure} "
                                                         f"is not null")}
        assert {s["name"] for s in chart["series"]} == providers, measure
    view = {(str(r[0]), r[1]): r[2:] for r in query(demo_warehouse, """
        select week_start, provider, sent, delivered, clicks_total, conversions
        from analytics.weekly_provider_metrics""")}
    shown = {(r["cells"]["week_start"], r["cells"]["provider"]): tuple(count(r["cells"][m]) for m in
                                                                       html_report.WEEKLY_MEASURES)
             for r in table_rows(loaded, "#weekly")}
    assert shown == view


@pytest.mark.slow
def test_accumulation_plots_recent_campaigns_day_by_day(loaded: Loaded, demo_warehouse: Path) -> None:
    found = sections(loaded)["accumulation"]
    charts = {chart["id"].removeprefix("accumulation-"): chart for chart in found["charts"]}
    assert charts and set(charts) <= set(html_report.ACCUMULATION_MEASURES)
    for measure, chart in charts.items():
        most_days = query(demo_warehouse, f"""
            select coalesce(max(days), 0) from (select count(distinct observed_date) as days
            from analytics.campaign_accumulation where {measure} is not null
            group by provider, account_id, campaign_id)""")[0][0]
        lines = chart["series"]
        assert 1 <= len(lines) <= html_report.ACCUMULATION_CAMPAIGNS, measure
        if most_days >= 2:   # curves: every campaign drawn has the figure on two days or more
            assert all(line["points"] >= 2 for line in lines), (measure, lines)
        else:
            assert any("Only one observed day so far" in text for text in found["noData"]), measure
    assert table_rows(loaded, "#accumulation")


@pytest.mark.slow
def test_runs_and_freshness_cover_every_provider(loaded: Loaded, demo_warehouse: Path) -> None:
    providers = {r[0] for r in query(demo_warehouse, "select distinct provider from analytics.load_runs")}
    runs = table_rows(loaded, "#runs")
    assert {r["provider"] for r in runs} == providers
    outcomes = {(r[0], r[1]): r[2] for r in query(demo_warehouse, "select provider, run_id, outcome from "
                                                                  "analytics.load_runs")}
    assert all(outcomes[(r["provider"], r["cells"]["run_id"])] == r["cells"]["outcome"] for r in runs)
    fresh = {r["provider"]: r["cells"] for r in table_rows(loaded, "#freshness")}
    view = {r[0]: r[1:] for r in query(demo_warehouse, "select provider, last_outcome, fact_rows, campaigns "
                                                       "from analytics.provider_freshness")}
    assert {p: (c["last_outcome"], count(c["fact_rows"]), count(c["campaigns"])) for p, c in fresh.items()} == view
    quality = {r["provider"]: r["cells"] for r in table_rows(loaded, "#quality table.quality-counts")}
    checks = {r[0]: r[1:] for r in query(demo_warehouse, """select provider, count(*),
        count(*) filter (where status = 'pass') from analytics.data_quality group by all""")}
    assert {p: (count(c["checks"]), count(c["passed"])) for p, c in quality.items()} == checks


@pytest.mark.slow
def test_top_campaigns_show_the_warehouse_values(loaded: Loaded, demo_warehouse: Path) -> None:
    columns = ", ".join(html_report.CAMPAIGN_COLUMNS)
    for selector, rate_sql in (("table.by-conversion", "conversion_rate"),
                               ("table.by-click", "coalesce(click_rate_unique, click_rate_total)")):
        rows = table_rows(loaded, selector)
        top = [r[0] for r in query(demo_warehouse, f"select {rate_sql} from analytics.campaign_performance "
                                                   f"where {rate_sql} is not null order by 1 desc limit 10")]
        assert rows and len(rows) == len(top), selector
        shown = [r["cells"]["conversion_rate" if "conversion" in selector else "click_rate"] for r in rows]
        assert shown == [shown_rate(v) for v in top], f"{selector} is not the top 10 by rate"
        for row in rows:
            assert row["provider"] and row["campaign"] and row["account"] is not None, row
            (record,) = query(demo_warehouse, f"""
                select {columns}, conversion_rate, click_rate_unique, click_rate_total
                from analytics.campaign_performance where provider = ? and account_id = ? and campaign_id = ?""",
                              [row["provider"], row["account"], row["campaign"]])
            want = dict(zip([*html_report.CAMPAIGN_COLUMNS, "conversion_rate", "click_rate_unique",
                             "click_rate_total"], record, strict=True))
            cells = row["cells"]
            assert cells["provider"] == want["provider"] and cells["campaign_id"] == want["campaign_id"]
            assert cells["campaign_name"] == (want["campaign_name"] or NULL)
            assert cells["status"] == (want["status"] or NULL)
            for column in CAMPAIGN_COUNTS:
                assert count(cells[column]) == want[column], (row["campaign"], column, cells[column])
            if "conversion" in selector:
                assert abs((rate(cells["conversion_rate"]) or 0) - want["conversion_rate"]) <= 0.0005
            else:
                basis = "unique" if want["click_rate_unique"] is not None else "total"
                assert cells["click_rate_basis"] == basis
                assert abs((rate(cells["click_rate"]) or 0) - want[f"click_rate_{basis}"]) <= 0.0005


# -------------------------------------------------------------------------------------- without a browser


class _Outline(HTMLParser):
    """Per section: its "no data" lines and table rows; and whether every element that was opened was closed."""

    VOID: ClassVar[frozenset[str]] = frozenset({"meta", "br", "hr", "img", "input", "link", "circle", "path", "line",
                                                "rect", "polyline"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.balanced = True
        self.section: str | None = None
        self.no_data: dict[str, list[str]] = {}
        self.rows: dict[str, int] = {}
        self._in_no_data = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section":
            self.section = found.get("id") or ""
            self.no_data[self.section], self.rows[self.section] = [], 0
        if tag == "tr" and self.section and "tbody" in self.open:
            self.rows[self.section] += 1
        self._in_no_data = "no-data" in (found.get("class") or "").split()
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.open or self.open.pop() != tag:
            self.balanced = False

    def handle_data(self, data: str) -> None:
        if self._in_no_data and self.section:
            self.no_data[self.section].append(data)
            self._in_no_data = False


def test_a_warehouse_with_nothing_loaded_gets_a_page_of_no_data_lines(tmp_path: Path) -> None:
    warehouse = tmp_path / "empty.duckdb"
    area = WorkArea(warehouse)
    with area.publishing():
        area.prepare()   # a work file and no provider store: as before any provider loaded
    result = cli("transform", "--warehouse", str(warehouse), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    output = write_report(warehouse)
    assert output == warehouse.parent / "campaign_report.html"
    outline = _Outline()
    outline.feed(output.read_text(encoding="utf-8"))
    assert outline.balanced and outline.open == []
    assert list(outline.no_data) == list(SECTIONS)
    for sid in SECTIONS:
        assert outline.rows[sid] == 0, sid
        assert any(text.startswith("No data") for text in outline.no_data[sid]), (sid, outline.no_data[sid])


def test_text_from_the_warehouse_is_escaped(tmp_path: Path) -> None:
    hostile = '<script>alert("x")</script> & <img src=x>'
    campaign = {"provider": "greenarrow", "account_id": "a&b", "campaign_id": '"7"', "campaign_name": hostile,
                "status": "completed", "sent": 1200, "delivered": 1000, "clicks_unique": None, "clicks_total": 50,
                "conversions": 5, "conversion_rate": 0.005}
    data = ReportData(runs=[], quality_counts=[], quality_failing=[], error_providers=[], error_kinds=[],
                      weekly=[], top_conversion=[campaign], top_click=[], accumulation=[], freshness=[])
    page = render(data, warehouse=tmp_path / "<w>.duckdb", now=pendulum.now("UTC"))
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src=x&gt;" in page
    assert 'data-account-id="a&amp;b" data-campaign-id="&quot;7&quot;"' in page
    assert '<td data-column="sent" class="num">1,200</td>' in page
    assert f'<td data-column="clicks_unique" class="num">{NULL}</td>' in page
    assert '<td data-column="conversion_rate" class="num">0.5%</td>' in page


def test_checks_not_passing_and_open_errors_are_listed_as_the_warehouse_has_them(tmp_path: Path) -> None:
    failing = {"check_name": "delivered_le_sent", "provider": "insider", "severity": "critical", "status": "fail",
               "failing_rows": 3, "detail": "3 campaigns delivered more than they sent"}
    data = ReportData(runs=[], quality_counts=[{"provider": "insider", "checks": 8, "passed": 7, "not_passed": 1}],
                      quality_failing=[failing],
                      error_providers=[{"provider": "insider", "last_run": None, "outcome": "partial",
                                        "open_errors": 1200}],
                      error_kinds=[{"provider": "insider", "kind": "not_found", "errors": 1200,
                                    "example": "campaign 7 is gone"}],
                      weekly=[], top_conversion=[], top_click=[], accumulation=[], freshness=[])
    page = render(data, warehouse=tmp_path / "w.duckdb", now=pendulum.now("UTC"))
    for column, value in [("check_name", "delivered_le_sent"), ("severity", "critical"), ("failing_rows", "3"),
                          ("detail", "3 campaigns delivered more than they sent"), ("open_errors", "1,200"),
                          ("kind", "not_found"), ("example", "campaign 7 is gone")]:
        assert re.search(rf'<td data-column="{column}" class="[^"]*">{re.escape(value)}</td>', page), column
    assert re.search(r'<td data-column="status" class="bad">fail</td>', page)


@pytest.mark.parametrize("name, needle", [("missing.duckdb", "no warehouse"),
                                          ("not-a-warehouse.duckdb", "not a published campaign-etl warehouse"),
                                          ("old.duckdb", "lacks analytics.data_quality")])
def test_a_warehouse_that_cannot_be_reported_is_one_sentence(tmp_path: Path, name: str, needle: str) -> None:
    import duckdb

    path = tmp_path / name
    if name != "missing.duckdb":
        with duckdb.connect(str(path)) as con:
            con.execute("create table t (a integer)")
            if name == "old.duckdb":   # a warehouse of a version before the report's views
                con.execute("create schema analytics; create table analytics.load_runs (provider varchar)")
    result = cli("report", "--warehouse", str(path), cwd=tmp_path)
    assert result.returncode != 0
    assert needle in one_sentence(result)
    assert result.stdout == ""
    assert not (tmp_path / "campaign_report.html").exists()
