"""Configuration: every key through dlt's config providers, validated before any request.

Lookup order for a key ``k`` of provider ``p``: ``sources.p.k``, then (shared keys only) ``sources.k`` and the
top-level ``k``; each in the environment (``SOURCES__P__K``, ``SOURCES__K``, ``K``) first, then
``.dlt/secrets.toml`` and ``.dlt/config.toml``. A provider is enabled when its secret is present, or every key of
its alternative credentials (``ProviderSpec.alt_credentials``: Experiture's client-credentials grant).

Before anything runs, ``check_files`` and ``check_keys`` refuse (exit 2, one sentence) a TOML file that does not
parse (naming the file and line) and a key under ``[sources]`` / ``[sources.<provider>]`` (or ``SOURCES__...``
in the environment) that no provider reads, naming the nearest known key: a typo is never silently ignored.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import dlt
import httpx
import pendulum
from dlt.common.configuration.providers.toml import TomlProviderReadException

from core.errors import ConfigError
from core.redact import redact
from sources.common.provider import ConfigKey, ProviderSettings, ProviderSpec
from sources.common.windows import check_date_range, utc

DEFAULT_WAREHOUSE = "campaign_metrics.duckdb"
DEFAULT_LOOKBACK_DAYS = 30
DEFAULT_START_DAYS_AGO = 90
# rows per dlt load: a crash costs at most one load, and memory holds at most one (a few tens of MB)
DEFAULT_RECORDS_PER_LOAD = 20_000
# the settle policy (pipelines/ledger.py): a window pulled this long after its end, with no change since the pull
# before, is skipped by the nightly until its re-check, this often
DEFAULT_SETTLE_DAYS = 7
DEFAULT_RECHECK_DAYS = 7

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
    "max_response_bytes": (int, "max_response_bytes"),
    "max_records_per_load": (int, None),
    "settle_days": (int, None),
    "recheck_days": (int, None),
}
# Keys read under [sources] only (not per provider).
SOURCES_ONLY_KEYS = ("freshness_hours",)

# Smallest accepted value of a numeric shared key, and whether the value must be strictly above it.
_MINIMUM: dict[str, tuple[float, bool]] = {
    "lookback_days": (0, False), "rate_limit_requests": (1, False), "rate_limit_period_seconds": (0, True),
    "max_concurrency": (1, False), "timeout_seconds": (0, True), "max_attempts": (1, False),
    "max_throttled_attempts": (1, False), "backoff_base_seconds": (0, False), "backoff_max_seconds": (0, False),
    "default_retry_after_seconds": (0, False), "max_retry_after_seconds": (0, True),
    "max_response_bytes": (1024, False),
    "max_records_per_load": (100, False),
    "settle_days": (0, False), "recheck_days": (1, False),
}


def env_name(provider: str, key: str) -> str:
    return f"SOURCES__{provider.upper()}__{key.upper()}"


def _lookup(provider: str, key: str, *, shared: bool, secret: bool = False) -> Any:
    accessor = dlt.secrets if secret else dlt.config
    value: Any = accessor.get(f"sources.{provider}.{key}")
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


def use_project_dir(value: str | None) -> None:
    """Point dlt at the project folder's ``.dlt/`` (dlt's own ``DLT_PROJECT_DIR``), before any config is read."""
    if not value:
        return
    folder = Path(value).expanduser().resolve()
    if not folder.is_dir():
        raise ConfigError(f"--project-dir {value} is not a folder.")
    os.environ["DLT_PROJECT_DIR"] = str(folder)


def warehouse_path(cli_value: str | None, *, for_writing: bool = True) -> Path:
    """``--warehouse``, else dlt's ``destination.duckdb.credentials``, else ``campaign_metrics.duckdb``: a DuckDB
    file path. A URL (``md:``, ``postgresql://``, ...) is refused in one sentence, its password never echoed: the
    PostgreSQL target is configured with ``destination.postgres.credentials``, other warehouses are not supported."""
    value = cli_value or dlt.config.get("destination.duckdb.credentials")
    source = "--warehouse" if cli_value else "destination.duckdb.credentials"
    if isinstance(value, dict):
        value = value.get("database")
    text = str(value or DEFAULT_WAREHOUSE)
    if text.startswith("duckdb:///"):
        text = text[len("duckdb:///"):]
    if not text.strip():
        raise ConfigError("the warehouse path is empty.")
    scheme = _URL_SCHEME.match(text)
    if scheme:
        shown = _URL_USERINFO.sub(r"\1***@", text)
        name = scheme.group(1).lower()
        hint = ("configure a PostgreSQL warehouse with destination.postgres.credentials "
                "(DESTINATION__POSTGRES__CREDENTIALS) instead" if name.startswith("postgres")
                else f"'{name}' is not a supported target (the targets are a DuckDB file and PostgreSQL, see "
                     f"docs/warehouse.md)")
        raise ConfigError(f"{source} '{redact(shown)}' is not a DuckDB file path; {hint}.")
    return check_warehouse_file(Path(text).expanduser().resolve(), source, for_writing=for_writing)


def check_warehouse_file(path: Path, source: str = "--warehouse", *, for_writing: bool = True) -> Path:
    """Refuse, before anything starts (no simulator, no folder created), a warehouse path that cannot be one: a
    folder, a missing or read-only parent folder, something that is not a file."""
    if path.is_dir():
        raise ConfigError(f"{source} {path} is a folder; give the path of a DuckDB file, for example "
                          f"{path / DEFAULT_WAREHOUSE}.")
    if path.exists() and not path.is_file():
        raise ConfigError(f"{source} {path} is not a regular file.")
    if not path.parent.is_dir():
        raise ConfigError(f"the warehouse folder {path.parent} does not exist ({source} {path}).")
    if for_writing and not os.access(path.parent, os.W_OK | os.X_OK):
        raise ConfigError(f"the warehouse folder {path.parent} is not writable ({source} {path}).")
    return path


# a URL scheme (two letters at least, so that no file name with a colon later in it is taken for one)
_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
_URL_USERINFO = re.compile(r"(//[^/@:]*):[^/@]*@")
# dlt destinations the loader does not publish to: set, they are refused rather than silently ignored
UNSUPPORTED_DESTINATIONS = ("motherduck", "bigquery", "snowflake", "redshift", "mssql", "synapse", "databricks",
                            "clickhouse", "athena", "dremio", "filesystem", "sqlalchemy", "lancedb", "qdrant",
                            "weaviate", "fabric", "ducklake")


def check_destinations() -> None:
    """Refuse a dlt destination the loader cannot publish to (``DESTINATION__BIGQUERY__...``, say) in one sentence,
    instead of loading into the DuckDB file as if it were not there."""
    names = {key.split("__")[1].lower() for key in os.environ
             if key.upper().startswith("DESTINATION__") and key.count("__") >= 2}
    for name in UNSUPPORTED_DESTINATIONS:
        if name in names or dlt.secrets.get(f"destination.{name}.credentials") is not None:
            raise ConfigError(f"destination '{name}' is configured, but the loader publishes only to a DuckDB file "
                              f"(--warehouse) and to PostgreSQL (destination.postgres.credentials); see "
                              f"docs/warehouse.md, 'Targets'.")


def check_files() -> None:
    """Load dlt's config providers now, so that a TOML file that does not parse is one sentence, exit 2."""
    try:
        _ = dlt.config.config_providers  # the first access reads .dlt/config.toml and secrets.toml
    except TomlProviderReadException as exc:
        raise ConfigError(_toml_problem(exc)) from None


def _toml_problem(exc: TomlProviderReadException) -> str:
    for name in exc.full_paths:
        path = Path(name)
        if not path.is_file():
            continue
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            return f"{path.resolve()} is not valid TOML: {error}."
    return f"{exc.file_name} is not valid TOML ({str(exc).splitlines()[-1]})."


def known_keys(spec: ProviderSpec) -> list[str]:
    """Every key ``[sources.<provider>]`` may hold for this provider."""
    alt = [spec.alt_credentials.secret] if spec.alt_credentials is not None else []
    return ["base_url", spec.secret_key, *alt, *(k.name for k in spec.config_keys), *SHARED_KEYS]


def check_keys(specs: Iterable[ProviderSpec]) -> None:
    """Refuse a key under ``[sources]`` / ``[sources.<provider>]`` (file or environment) that nothing reads."""
    by_name = {spec.name: spec for spec in specs}
    shared = [*SHARED_KEYS, *SOURCES_ONLY_KEYS]
    for origin, sources in _sources_sections():
        for key, value in sources.items():
            if isinstance(value, dict):
                spec = by_name.get(key)
                if spec is None:
                    _unknown(f"[sources.{key}]", "in " + origin, key, list(by_name), "provider section")
                else:
                    for sub in value:
                        if sub not in known_keys(spec):
                            _unknown(f"'{sub}'", f"under [sources.{key}] in {origin}", sub, known_keys(spec))
            elif key not in shared:
                _unknown(f"'{key}'", f"under [sources] in {origin}", key, [*shared, *by_name])
    for variable in sorted(os.environ):
        if not variable.startswith("SOURCES__"):
            continue
        parts = variable[len("SOURCES__"):].lower().split("__")
        if len(parts) == 1:
            if parts[0] not in shared:
                _unknown(variable, "in the environment", parts[0], shared, prefix="SOURCES__")
        elif len(parts) == 2 and parts[0] in by_name:
            if parts[1] not in known_keys(by_name[parts[0]]):
                _unknown(variable, "in the environment", parts[1], known_keys(by_name[parts[0]]),
                         prefix=f"SOURCES__{parts[0].upper()}__")
        elif len(parts) == 2:
            _unknown(variable, "in the environment", parts[0], list(by_name), "provider",
                     prefix="SOURCES__", suffix=f"__{parts[1].upper()}")
        else:
            raise ConfigError(f"unknown setting {variable} in the environment: provider keys are "
                              f"SOURCES__<PROVIDER>__<KEY>.")


def _unknown(what: str, where: str, key: str, known: list[str], kind: str = "key", *, prefix: str = "",
             suffix: str = "") -> None:
    match = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
    hint = f"; did you mean {prefix + match[0].upper() + suffix if prefix else repr(match[0])}?" if match else (
        f"; known: {', '.join(sorted(known))}.")
    label = "setting" if prefix else kind
    raise ConfigError(f"unknown {label} {what} {where}{hint}")


def _sources_sections() -> list[tuple[str, dict[str, Any]]]:
    """The ``[sources]`` tables of the TOML config providers (config.toml, secrets.toml), with their file name."""
    found = []
    for provider in dlt.config.config_providers:
        to_toml = getattr(provider, "to_toml", None)
        if to_toml is None:
            continue
        try:
            document = tomllib.loads(to_toml())
        except (tomllib.TOMLDecodeError, TypeError):
            continue
        sources = document.get("sources")
        if isinstance(sources, dict):
            found.append((provider.name, sources))
    return found


def check_credential(provider: str, key: str, value: Any) -> str:
    """The credential as it will be sent, or ConfigError naming the key (never echoing the value)."""
    name = env_name(provider, key)
    text = str(value).strip()
    if not text:
        raise ConfigError(f"{name} is empty: set the {provider} {key}, or remove the key to leave {provider} off.")
    if text.startswith("<") and text.endswith(">"):
        raise ConfigError(f"{name} still holds the placeholder of .dlt/secrets.toml.example: set the real "
                          f"{provider} {key}.")
    if not text.isascii() or not text.isprintable() or any(c.isspace() for c in text):
        raise ConfigError(f"{name} holds a character that cannot be sent in an HTTP header (non-ASCII, a space or "
                          f"a control character): check it for a pasting mistake.")
    return text


def resolve(spec: ProviderSpec, *, now: pendulum.DateTime, required: bool) -> ProviderSettings | None:
    """The provider's settings, or None when it is not configured (no secret) and not ``required``.

    Raises:
        ConfigError: the provider is asked for but lacks its secret or base URL, or a value is invalid.
    """
    chosen = _credentials(spec)
    if chosen is None:
        if required:
            raise ConfigError(f"{spec.name} is not configured: set {env_name(spec.name, spec.secret_key)} "
                              f"(or [sources.{spec.name}] {spec.secret_key} in .dlt/secrets.toml)"
                              + (f", or {_env_list(spec.name, spec.alt_credentials.all_keys)} for "
                                 f"{spec.alt_credentials.what}" if spec.alt_credentials is not None else "") + ".")
        return None
    secret_key, raw_secret = chosen
    secret = check_credential(spec.name, secret_key, raw_secret)
    values: dict[str, Any] = {}
    base_url = _lookup(spec.name, "base_url", shared=False)
    if base_url is None or not str(base_url).strip():
        raise ConfigError(f"{spec.name} has credentials but no base URL: set {env_name(spec.name, 'base_url')}.")
    values["base_url"] = check_url(spec.name, "base_url", base_url)
    alt_keys = spec.alt_credentials.keys if spec.alt_credentials is not None else ()
    for config_key in spec.config_keys:
        value = _resolve_key(spec.name, config_key)
        if config_key.name in alt_keys and secret_key != spec.secret_key:
            value = check_credential(spec.name, config_key.name, value)   # sent with the secret: same rules
        if config_key.url and value is not None:
            value = check_url(spec.name, config_key.name, value)
        values[config_key.name] = value
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
    for key, (minimum, strictly) in _MINIMUM.items():
        value = policy_overrides.get(key, shared.get(key))
        if value is not None and (value <= minimum if strictly else value < minimum):
            bound = f"greater than {minimum:g}" if strictly else f"at least {minimum:g}"
            raise ConfigError(f"{env_name(spec.name, key)} must be {bound}, got {value:g}.")
    policy = dataclasses.replace(spec.default_policy, **policy_overrides)
    start = shared.get("start_date")
    try:
        start_date = utc(start) if start else now.subtract(days=DEFAULT_START_DAYS_AGO).start_of("day")
    except ConfigError:
        raise ConfigError(f"start_date for {spec.name} is '{start}', not a date in the form YYYY-MM-DD "
                          f"(set {env_name(spec.name, 'start_date')} or START_DATE).") from None
    check_date_range(start_date.date(), f"start_date of {spec.name}")
    if start_date > now:
        raise ConfigError(f"start_date {start_date.to_date_string()} for {spec.name} is in the future.")
    window_days = int(shared["window_days"] if shared.get("window_days") is not None else spec.default_window_days)
    if window_days != 1 and (window_days < 7 or window_days % 7):
        raise ConfigError(f"{env_name(spec.name, 'window_days')} must be 1 (days) or a multiple of 7 (weeks from "
                          f"Monday), got {window_days}.")
    if spec.max_window_days is not None and window_days > spec.max_window_days:
        raise ConfigError(f"{env_name(spec.name, 'window_days')} is {window_days} but {spec.name} accepts windows "
                          f"of at most {spec.max_window_days} days.")
    lookback = shared.get("lookback_days")
    return ProviderSettings(name=spec.name, values=values, secret=str(secret).strip(), secret_key=secret_key,
                            start_date=start_date,
                            lookback_days=int(DEFAULT_LOOKBACK_DAYS if lookback is None else lookback),
                            window_days=window_days, policy=policy,
                            max_records_per_load=int(shared.get("max_records_per_load") or DEFAULT_RECORDS_PER_LOAD),
                            settle_days=int(_given(shared.get("settle_days"), DEFAULT_SETTLE_DAYS)),
                            recheck_days=int(_given(shared.get("recheck_days"), DEFAULT_RECHECK_DAYS)))


def _credentials(spec: ProviderSpec) -> tuple[str, Any] | None:
    """(key, raw value) of the secret the provider authenticates with, or None when it has none.

    A provider with ``alt_credentials`` (``CredentialSet``) uses them when all their keys are set (they win over a
    ready ``secret_key``, which is then not used); some but not all of them is refused, whatever else is set.
    """
    raw_secret = _lookup(spec.name, spec.secret_key, shared=False, secret=True)
    alt = spec.alt_credentials
    if alt is None:
        return None if raw_secret is None else (spec.secret_key, raw_secret)
    found = {key: _lookup(spec.name, key, shared=False, secret=key == alt.secret) for key in alt.all_keys}
    present = [key for key, value in found.items() if value is not None]
    if present and len(present) < len(found):
        missing = [key for key in alt.all_keys if key not in present]
        raise ConfigError(f"{spec.name} has {_env_list(spec.name, present)} but not {_env_list(spec.name, missing)}: "
                          f"{alt.what} needs all of {_env_list(spec.name, alt.all_keys)} (or remove them"
                          + (f" to use {env_name(spec.name, spec.secret_key)})." if raw_secret is not None else ")."))
    if present:
        return alt.secret, found[alt.secret]
    return None if raw_secret is None else (spec.secret_key, raw_secret)


def _env_list(provider: str, keys: Iterable[str]) -> str:
    names = [env_name(provider, key) for key in keys]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def check_url(provider: str, key: str, value: Any) -> str:
    """An http(s) URL with a host, or ConfigError naming the key."""
    text = str(value).strip()
    if not text.startswith(("http://", "https://")):
        raise ConfigError(f"{env_name(provider, key)} must start with http:// or https://, got '{redact(text)}'.")
    try:
        if not httpx.URL(text).host:
            raise httpx.InvalidURL("no host")
    except httpx.InvalidURL:
        raise ConfigError(f"{env_name(provider, key)} is not a valid URL: '{redact(text)}'.") from None
    return text


def _given(value: Any, default: int) -> Any:
    return default if value is None else value


def _resolve_key(provider: str, key: ConfigKey) -> Any:
    value = _coerce(provider, key.name, _lookup(provider, key.name, shared=False), key.kind)
    if value is None or value == "" or value == []:
        if key.required:
            raise ConfigError(f"{provider} needs {env_name(provider, key.name)}"
                              + (f" ({key.help})." if key.help else "."))
        return key.default
    if key.kind in (int, float):
        low, high = key.minimum, key.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            span = f"{low:g}..{high:g}" if low is not None and high is not None else (
                f"at least {low:g}" if low is not None else f"at most {high:g}")
            raise ConfigError(f"{env_name(provider, key.name)} must be {span}, got {value:g}.")
    return value


def freshness_hours() -> float:
    """Hours after the last successful load past which a provider's data counts as stale (``freshness_hours``,
    also read under ``[sources]``; default 26: a nightly plus two hours of slack)."""
    value: Any = dlt.config.get("freshness_hours")
    if value is None:
        value = dlt.config.get("sources.freshness_hours")
    try:
        return float(value) if value is not None else 26.0
    except (TypeError, ValueError):
        raise ConfigError(f"FRESHNESS_HOURS must be a number, got '{value}'.") from None
