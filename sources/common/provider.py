"""How a provider plugs into the runner: one ``ProviderSpec`` per provider, listed in ``sources.registry``.

The spec says which config keys the provider reads, how to build its auth headers, the API's window limit and
its default HTTP policy, and how to build its dlt source for one run. The runner does everything else (config
resolution and validation, window planning and the ledger, the HTTP client and its counters, loading, errors).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pendulum

from sources.common.http import HttpClient, HttpPolicy
from sources.common.raw import ExtractPlan, ExtractReport


@dataclass(frozen=True)
class ConfigKey:
    """One provider config key (``SOURCES__<PROVIDER>__<NAME>``)."""

    name: str
    required: bool = False
    default: Any = None
    kind: type = str          # str, int, float, list (comma-separated or TOML array)
    help: str = ""
    minimum: float | None = None   # numeric keys: accepted range (inclusive), checked before any request
    maximum: float | None = None


@dataclass
class ProviderSettings:
    """A provider's resolved configuration for one run (the secret is held here and nowhere else)."""

    name: str
    values: dict[str, Any]
    secret: str
    start_date: pendulum.DateTime
    lookback_days: int
    window_days: int
    policy: HttpPolicy

    def get(self, key: str, default: Any = None) -> Any:
        value = self.values.get(key)
        return default if value is None else value


@dataclass(frozen=True)
class ProviderSpec:
    """Everything the runner needs to know about one provider.

    Attributes:
        name: the contract's slug (``greenarrow``); also the dlt source name and raw table prefix.
        secret_key: the secret's key under ``[sources.<name>]`` (``api_key``).
        config_keys: further keys (``base_url`` is always required and need not be listed).
        max_window_days: the API's longest date window; None when the API takes no dates.
        default_window_days: grid cell length used unless ``window_days`` is configured.
        default_policy: timeouts, retries, rate limit, concurrency unless configured.
        auth_headers: secret -> headers of every request.
        build_source: (settings, http, plan, report) -> the dlt source for this run.
        refresh_sql: SQL over the warehouse returning (account_id, campaign_id) rows to re-pull every run
            whatever their window (campaigns still sending); run before extraction, may be None.
        lifetime: True when metrics are lifetime totals (period NULL), False for date-range metrics.
        windows_per_load: windows extracted per dlt load (a crash costs at most one load); None = all at once,
            for providers that list every campaign each time anyway.
        http_options: extra ``HttpClient`` keyword arguments (``is_throttle``, ``extra_retry``).
    """

    name: str
    secret_key: str
    auth_headers: Callable[[str, ProviderSettings], dict[str, str]]
    build_source: Callable[[ProviderSettings, HttpClient, ExtractPlan, ExtractReport], Any]
    config_keys: tuple[ConfigKey, ...] = ()
    max_window_days: int | None = None
    default_window_days: int = 7
    default_policy: HttpPolicy = field(default_factory=HttpPolicy)
    refresh_sql: str | None = None
    lifetime: bool = True
    windows_per_load: int | None = 8
    http_options: Callable[[ProviderSettings], dict[str, Any]] | None = None


def standalone(spec: ProviderSpec, *, base_url: str, secret: str, http: HttpClient | None = None,
               plan: ExtractPlan | None = None,
               report: ExtractReport | None = None) -> tuple[HttpClient, ExtractPlan, ExtractReport]:
    """What a source uses when it runs outside the runner (a plain dlt pipeline): its own HTTP client with the
    provider's default policy, the last seven days, a fresh report. The runner always passes all three."""
    from sources.common.raw import now_utc
    from sources.common.windows import plan_windows

    if http is None:
        options = spec.http_options(None) if spec.http_options else {}  # type: ignore[arg-type]
        http = HttpClient(spec.name, base_url, headers=spec.auth_headers(secret, None),  # type: ignore[arg-type]
                          secrets=[secret], policy=spec.default_policy, **options)
    if plan is None:
        now = now_utc()
        plan = ExtractPlan(run_id="adhoc", mode="nightly", now=now,
                           windows=plan_windows(now.subtract(days=7), now, window_days=spec.default_window_days,
                                                now=now))
    return http, plan, report or ExtractReport()
