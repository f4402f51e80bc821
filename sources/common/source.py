"""The one shape of a provider's extraction: an HTTP client, a plan, a report and a raw writer.

A provider's extraction is a generator ``<name>_rows(run, **config keys)`` of ``RawBatch`` es over an
``Extraction``. The runner builds the ``Extraction`` (its own HTTP client, plan and report) and cuts the stream
into loads; the provider's ``@dlt.source`` wraps the same generator for a plain dlt pipeline, with
``extraction(...)`` standalone defaults (the provider's default policy, the last seven days, a fresh report) and
``run.resource(name, rows)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from dlt.extract.resource import DltResource

from sources.common.http import Authenticator, HttpClient
from sources.common.provider import ProviderSettings, ProviderSpec
from sources.common.raw import ExtractPlan, ExtractReport, RawBatch, RawWriter, dlt_items, now_utc, raw_resource
from sources.common.windows import plan_windows

STANDALONE_DAYS = 7


@dataclass
class Extraction:
    """What a provider's extraction works with for one run."""

    http: HttpClient
    plan: ExtractPlan
    report: ExtractReport
    writer: RawWriter

    def resource(self, name: str, rows: Callable[[], Iterator[RawBatch]]) -> DltResource:
        """The source's one resource: ``rows()`` yields every raw row (records, fetch log, errors)."""
        return raw_resource(name, lambda: dlt_items(rows()))


def extraction(spec: ProviderSpec, *, base_url: str, secret: str, http: HttpClient | None = None,
               plan: ExtractPlan | None = None, report: ExtractReport | None = None,
               auth: Authenticator | None = None) -> Extraction:
    """The runner's HTTP client, plan and report, or standalone defaults for those it did not pass.

    With ``auth`` (credentials that renew themselves, an OAuth grant) the standalone client asks it for the
    Authorization header of every request instead of building one from ``secret``.
    """
    if http is None:
        headers = {key: value for key, value in spec.auth_headers(secret, None).items()
                   if auth is None or key.lower() != "authorization"}
        http = HttpClient(spec.name, base_url, headers=headers, secrets=[secret], policy=spec.default_policy,
                          auth=auth, **spec.http_options)
    if plan is None:
        now = now_utc()
        plan = ExtractPlan(run_id="adhoc", mode="nightly", now=now,
                           windows=plan_windows(now.subtract(days=STANDALONE_DAYS), now,
                                                window_days=spec.default_window_days, now=now))
    report = report or ExtractReport()
    return Extraction(http, plan, report, RawWriter(spec.name, plan, report))


def provider_rows(spec: ProviderSpec, settings: ProviderSettings, run: Extraction) -> Iterator[RawBatch]:
    """The provider's raw rows for one run: its extraction's arguments are its config keys, by name."""
    if spec.rows is None:
        raise TypeError(f"{spec.name}: no extraction attached (use sources.registry.available())")
    return spec.rows(run, **{key.name: settings.values.get(key.name) for key in spec.config_keys})
