"""The one shape of a provider's dlt source: an HTTP client, a plan, a report and a raw writer around one resource.

Every provider's ``@dlt.source`` function is three lines: ``extraction(...)`` (the runner's objects, or for a
plain dlt pipeline outside the runner: its own HTTP client with the provider's default policy, the last seven
days, a fresh report), the provider's client over ``run.http``, and ``run.resource(name, rows)`` with the
generator that yields the raw rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from sources.common.http import HttpClient
from sources.common.provider import ProviderSpec
from sources.common.raw import ExtractPlan, ExtractReport, RawWriter, now_utc
from sources.common.windows import plan_windows

STANDALONE_DAYS = 7


@dataclass
class Extraction:
    """What a provider's extraction works with for one run."""

    http: HttpClient
    plan: ExtractPlan
    report: ExtractReport
    writer: RawWriter

    def resource(self, name: str, rows: Callable[[], Iterator[Any]]) -> DltResource:
        """The source's one resource: ``rows()`` yields every raw row (records, fetch log, errors)."""
        return dlt.resource(rows, name=name, write_disposition="append")


def extraction(spec: ProviderSpec, *, base_url: str, secret: str, http: HttpClient | None = None,
               plan: ExtractPlan | None = None, report: ExtractReport | None = None) -> Extraction:
    """The runner's HTTP client, plan and report, or standalone defaults for those it did not pass."""
    if http is None:
        http = HttpClient(spec.name, base_url, headers=spec.auth_headers(secret, None), secrets=[secret],
                          policy=spec.default_policy, **spec.http_options)
    if plan is None:
        now = now_utc()
        plan = ExtractPlan(run_id="adhoc", mode="nightly", now=now,
                           windows=plan_windows(now.subtract(days=STANDALONE_DAYS), now,
                                                window_days=spec.default_window_days, now=now))
    report = report or ExtractReport()
    return Extraction(http, plan, report, RawWriter(spec.name, plan, report))
