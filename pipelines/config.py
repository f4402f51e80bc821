"""Configuration: every key through dlt's config providers, validated before any request.

Lookup order for a key ``k`` of provider ``p``: ``sources.p.k``, then (shared keys only) ``sources.k`` and the
top-level ``k``; each in the environment (``SOURCES__P__K``, ``SOURCES__K``, ``K``) first, then
``.dlt/secrets.toml`` and ``.dlt/config.toml``. A provider is enabled when its secret is present.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import dlt
import pendulum

from sources.common.errors import ConfigError
from sources.common.http import HttpPolicy
from sources.common.provider import ConfigKey, ProviderSettings, ProviderSpec
from sources.common.windows import utc

DEFAULT_WAREHOUSE = "campaign_metrics.duckdb"
DEFAULT_LOOKBACK_DAYS = 30
DEFAULT_START_DAYS_AGO = 90

# shared keys: name -> (type, HttpPolicy field or None)
SHARED_KEYS: dict[str, tuple[type, str | None]] = {
    "start_date": (str, None),
    "lookback_days": (int, None),
    "window_days": (int, None),
    "rate_limit_requests": (int, "rate_limit_requests"),
    "rate_limit_period_seconds": (float, "rate_limit_period_seconds"),
    "max_concurrency": (int, "max_concurrency"),
    "timeout_seconds": (float, "timeout_seconds"),
    "max_attempts": (int, "max_attempts"),
    "max_throttled_attempts": (int, "max_throttled_attempts"),
    "backoff_base_seconds": (float, "backoff_base_seconds"),
    "backoff_max_seconds": (float, "backoff_max_seconds"),
    "default_retry_after_seconds": (float, "default_retry_after_seconds"),
    "max_retry_after_seconds": (float, "max_retry_after_seconds"),
}


def env_name(provider: str, key: str) -> str:
    return f"SOURCES__{provider.upper()}__{key.upper()}"


def _lookup(provider: str, key: str, *, shared: bool, secret: bool = False) -> Any:
    accessor = dlt.secrets if secret else dlt.config
    value = accessor.get(f"sources.{provider}.{key}")
    if value is None and shared:
        value = dlt.config.get(f"sources.{key}")
        if value is None:
            value = dlt.config.get(key)
    return value


def _coerce(provider: str, key: str, value: Any, kind: type) -> Any:
    if value is None:
        return None
    name = env_name(provider, key)
    if kind is list:
        if isinstance(value, str):
            items = [part.strip() for part in value.strip("[]").split(",") if part.strip()]
        elif isinstance(value, (list, tuple)):
            items = [str(part).strip() for part in value]
        else:
            items = [str(value)]
        return [item.strip("'\"") for item in items]
    if kind in (int, float):
        try:
            number = kind(str(value).strip())
        except ValueError:
            raise ConfigError(f"{name} must be a number, got '{value}'.") from None
        if number < 0:
            raise ConfigError(f"{name} must not be negative, got {value}.")
        return number
    text = str(value).strip()
    return text


def warehouse_path(cli_value: str | None) -> Path:
    """``--warehouse``, else dlt's ``destination.duckdb.credentials``, else ``campaign_metrics.duckdb``."""
    value = cli_value or dlt.config.get("destination.duckdb.credentials")
    if isinstance(value, dict):
        value = value.get("database")
    text = str(value or DEFAULT_WAREHOUSE)
    if text.startswith("duckdb:///"):
        text = text[len("duckdb:///"):]
    if not text.strip():
        raise ConfigError("the warehouse path is empty.")
    return Path(text).expanduser().resolve()


def resolve(spec: ProviderSpec, *, now: pendulum.DateTime, required: bool) -> ProviderSettings | None:
    """The provider's settings, or None when it is not configured (no secret) and not ``required``.

    Raises:
        ConfigError: the provider is asked for but lacks its secret or base URL, or a value is invalid.
    """
    secret = _lookup(spec.name, spec.secret_key, shared=False, secret=True)
    if secret is None or not str(secret).strip():
        if required:
            raise ConfigError(f"{spec.name} is not configured: set {env_name(spec.name, spec.secret_key)} "
                              f"(or [sources.{spec.name}] {spec.secret_key} in .dlt/secrets.toml).")
        return None
    values: dict[str, Any] = {}
    base_url = _lookup(spec.name, "base_url", shared=False)
    if base_url is None or not str(base_url).strip():
        raise ConfigError(f"{spec.name} has credentials but no base URL: set {env_name(spec.name, 'base_url')}.")
    base_url = str(base_url).strip()
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"{env_name(spec.name, 'base_url')} must start with http:// or https://, "
                          f"got '{base_url}'.")
    values["base_url"] = base_url
    for key in spec.config_keys:
        values[key.name] = _resolve_key(spec.name, key)
    policy_overrides: dict[str, Any] = {}
    shared: dict[str, Any] = {}
    for key, (kind, policy_field) in SHARED_KEYS.items():
        value = _coerce(spec.name, key, _lookup(spec.name, key, shared=True), kind)
        if value is None:
            continue
        if policy_field:
            policy_overrides[policy_field] = value
        else:
            shared[key] = value
    policy = dataclasses.replace(spec.default_policy, **policy_overrides)
    if policy.max_attempts < 1:
        raise ConfigError(f"{env_name(spec.name, 'max_attempts')} must be at least 1.")
    if policy.rate_limit_requests is not None and policy.rate_limit_requests < 1:
        raise ConfigError(f"{env_name(spec.name, 'rate_limit_requests')} must be at least 1.")
    if policy.rate_limit_period_seconds <= 0:
        raise ConfigError(f"{env_name(spec.name, 'rate_limit_period_seconds')} must be greater than 0.")
    start = shared.get("start_date")
    try:
        start_date = utc(start) if start else now.subtract(days=DEFAULT_START_DAYS_AGO).start_of("day")
    except ConfigError:
        raise ConfigError(f"start_date for {spec.name} is '{start}', not a date in the form YYYY-MM-DD "
                          f"(set {env_name(spec.name, 'start_date')} or START_DATE).") from None
    if start_date > now:
        raise ConfigError(f"start_date {start_date.to_date_string()} for {spec.name} is in the future.")
    window_days = int(shared.get("window_days") or spec.default_window_days)
    if window_days < 1:
        raise ConfigError(f"{env_name(spec.name, 'window_days')} must be at least 1.")
    if spec.max_window_days is not None and window_days > spec.max_window_days:
        raise ConfigError(f"{env_name(spec.name, 'window_days')} is {window_days} but {spec.name} accepts windows "
                          f"of at most {spec.max_window_days} days.")
    lookback = shared.get("lookback_days")
    return ProviderSettings(name=spec.name, values=values, secret=str(secret).strip(), start_date=start_date,
                            lookback_days=int(DEFAULT_LOOKBACK_DAYS if lookback is None else lookback),
                            window_days=window_days, policy=policy)


def _resolve_key(provider: str, key: ConfigKey) -> Any:
    value = _coerce(provider, key.name, _lookup(provider, key.name, shared=False), key.kind)
    if value is None or value == "" or value == []:
        if key.required:
            raise ConfigError(f"{provider} needs {env_name(provider, key.name)}"
                              + (f" ({key.help})." if key.help else "."))
        return key.default
    return value


def policy_summary(policy: HttpPolicy) -> dict[str, Any]:
    return dataclasses.asdict(policy)
