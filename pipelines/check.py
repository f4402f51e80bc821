"""``campaign-etl check``: every enabled provider's configuration and credentials, one cheap request each.

The configuration is resolved exactly as a run resolves it (``pipelines.runner.configured``), so a bad key is the
same sentence and exit 2 before any request. Then each provider's ``ProviderSpec.probe`` (the provider describes
one cheap authenticated request; this module does the rest) is sent through the shared ``HttpClient`` with the
provider's policy, auth headers and authenticator (Experiture's grant: the token request, then the probe). One line
per provider on stdout: ``greenarrow  ok  (GET /ga/api/v2/mailing_lists 200, 0.03 s)``, or ``FAILED`` and one
sentence naming the key to fix: refused credentials name the secret's key, an unreachable host or a 404 name
``base_url``. Nothing is loaded and nothing is written (no warehouse, no ``.etl`` folder, no raw rows).

A check should answer quickly and spend almost none of a provider's budget: each request is tried at most
``MAX_ATTEMPTS`` times and a 429 waits at most ``MAX_RETRY_AFTER_SECONDS`` (Insider's own 60 s otherwise).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import re
import time
from dataclasses import dataclass
from typing import Any

import pendulum

from core.errors import CampaignEtlError, TransientHttpError, first_line
from core.redact import redact
from pipelines.config import env_name
from pipelines.runner import Progress, configured, select_specs
from sources.common.http import HttpClient, HttpResponse
from sources.common.provider import Probe, ProviderSettings, ProviderSpec

MAX_ATTEMPTS = 2
MAX_RETRY_AFTER_SECONDS = 10.0


@dataclass
class CheckResult:
    """One provider's check: ``ok``, and the line printed for it."""

    provider: str
    ok: bool
    detail: str


def run_check(names: list[str] | None, progress: Progress) -> int:
    """Check the chosen (default: every configured) providers; 0 when all are ok, 1 otherwise.

    Raises:
        ConfigError: a configuration problem, found before any request (exit 2), or no provider configured.
    """
    now = pendulum.now("UTC")
    chosen = configured(names, now)
    names_chosen = {spec.name for spec, _ in chosen}
    missing = [spec.name for spec in select_specs(names) if spec.name not in names_chosen]
    progress(f"checking {len(chosen)} provider(s): {', '.join(sorted(names_chosen))}")
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(chosen), thread_name_prefix="check") as pool:
        results = list(pool.map(lambda pair: check_provider(*pair, now=now), chosen))
    width = max(len(result.provider) for result in results)
    for result in results:
        print(redact(f"{result.provider:<{width}}  {'ok' if result.ok else 'FAILED'}  {result.detail}"), flush=True)
    if missing:
        print(f"not configured (not checked): {', '.join(missing)}", flush=True)
    return 0 if all(result.ok for result in results) else 1


def check_provider(spec: ProviderSpec, settings: ProviderSettings, *, now: pendulum.DateTime) -> CheckResult:
    """Send the provider's probe and read its answer into one line."""
    name = spec.name
    probe = spec.probe
    if probe is None:
        return CheckResult(name, True, "(configuration valid; no probe request defined for this provider)")
    base_key = env_name(name, "base_url")
    try:
        path, params, json = _request(probe, settings, now)
    except KeyError as exc:
        return CheckResult(name, False, f"the probe needs {env_name(name, str(exc.args[0]))}, which is not set.")
    policy = dataclasses.replace(
        settings.policy, max_attempts=min(settings.policy.max_attempts, MAX_ATTEMPTS),
        max_throttled_attempts=min(settings.policy.max_throttled_attempts, MAX_ATTEMPTS),
        max_retry_after_seconds=min(settings.policy.max_retry_after_seconds, MAX_RETRY_AFTER_SECONDS),
        default_retry_after_seconds=min(settings.policy.default_retry_after_seconds, MAX_RETRY_AFTER_SECONDS))
    what = f"{probe.method} {path}"
    started = time.monotonic()
    http: HttpClient | None = None
    try:
        auth = spec.authenticator(settings) if spec.authenticator is not None else None
        http = HttpClient(name, settings.values["base_url"], headers=spec.auth_headers(settings.secret, settings),
                          secrets=[settings.secret], policy=policy, auth=auth, **spec.http_options)
        response = http.request(probe.method, path, params=params or None, json=json)
    except TransientHttpError as exc:
        reason = _reason(str(exc))
        if exc.status is None:
            return CheckResult(name, False, f"{what} could not reach {settings.values['base_url']} ({reason}); "
                                            f"check {base_key}.")
        if exc.status == 429:
            return CheckResult(name, False, f"{what} is still throttled (HTTP 429, {reason}); the credentials "
                                            f"were not refused, try again later.")
        return CheckResult(name, False, f"{what} keeps failing ({reason}); the provider may be down, or check "
                                        f"{base_key}.")
    except CampaignEtlError as exc:
        # a credential refused before the probe (an OAuth grant, a token made for another key): it names its key
        message = first_line(exc)
        return CheckResult(name, False, message[len(name) + 2:] if message.startswith(f"{name}: ") else message)
    finally:
        if http is not None:
            http.close()
    seconds = time.monotonic() - started
    return _read(spec, settings, probe, response, what, seconds)


def _read(spec: ProviderSpec, settings: ProviderSettings, probe: Probe, response: HttpResponse, what: str,
          seconds: float) -> CheckResult:
    name, status = spec.name, response.status
    base_key = env_name(name, "base_url")
    if 200 <= status < 300:
        problem = "the answer is not JSON" if response.data is None else (
            probe.accept(response) if probe.accept is not None else None)
        if problem is None:
            return CheckResult(name, True, f"({what} {status}, {seconds:.2f} s)")
        return CheckResult(name, False, f"{what} answered HTTP {status} but {problem}; check {base_key}.")
    if status in (401, 403):
        refused = "refused the credentials" if status == 401 else "refused the credentials or a scope they need"
        return CheckResult(name, False, f"{what} {refused} (HTTP {status}); check {_credential_keys(spec, settings)}.")
    if status == 404:
        keys = [base_key, *(env_name(name, key) for key in probe.on_404)]
        return CheckResult(name, False, f"{what} answered HTTP 404 (no such path); check {_or(keys)}.")
    return CheckResult(name, False, f"{what} answered HTTP {status}; check {base_key} and the provider's keys.")


def _credential_keys(spec: ProviderSpec, settings: ProviderSettings) -> str:
    """The env names of the credential in use: the secret, or the non-URL keys of the alternative set too."""
    alt = spec.alt_credentials
    if alt is not None and settings.secret_key == alt.secret:
        urls = {key.name for key in spec.config_keys if key.url}
        keys = [key for key in alt.keys if key not in urls] + [alt.secret]
        return " and ".join(env_name(spec.name, key) for key in keys)
    return env_name(spec.name, settings.secret_key or spec.secret_key)


def _or(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _reason(message: str) -> str:
    """``2 attempts, ConnectError`` from ``... still failing after 2 attempts (ConnectError)``."""
    match = re.search(r"after (\d+) attempts \(([^()]*)\)\s*$", message)
    return f"{match.group(2)}, {match.group(1)} attempt(s)" if match else message


def _request(probe: Probe, settings: ProviderSettings, now: pendulum.DateTime) -> tuple[str, dict[str, Any], Any]:
    """The probe's path, params and JSON body with ``{key}`` placeholders filled (KeyError: a value is unset)."""
    values: dict[str, Any] = {key: value for key, value in settings.values.items() if value is not None}
    values.update(today=now.to_date_string(), yesterday=now.subtract(days=1).to_date_string(),
                  now=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                  day_ago=now.subtract(days=1).strftime("%Y-%m-%dT%H:%M:%SZ"))

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.format_map(_Strict(values))
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [fill(item) for item in value]
        return value

    return fill(probe.path), fill(dict(probe.params)), fill(probe.json)


class _Strict(dict[str, Any]):
    def __missing__(self, key: str) -> Any:
        raise KeyError(key)


__all__ = ["CheckResult", "check_provider", "run_check"]
