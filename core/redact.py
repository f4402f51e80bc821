"""Secret redaction for every log line, exception message and stored request parameter.

Secrets are registered once (when a provider's HTTP client is built) and then scrubbed from any text that
leaves the process: the logging filter below covers log records, ``redact`` covers messages we build.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from typing import Any

MASK = "***"
_lock = threading.Lock()
_secrets: set[str] = set()
# Authorization values never reach a log even when the secret itself was not registered.
_AUTH_RE = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}")
# the password of a connection URL (postgresql://user:password@host/db)
_URL_PASSWORD_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/@:\s]*):[^/@\s]+@")
_SECRET_PARAM_RE = re.compile(r"(?i)((?:api_?key|token|secret|password|access_token)=)[^&\s]+")
SECRET_PARAM_NAMES = frozenset({"api_key", "apikey", "token", "access_token", "api_token", "secret", "password",
                                "authorization"})


def register_secret(value: str | None) -> None:
    """Remember a secret (and its base64 forms) so it is masked wherever it would appear."""
    if not value or len(value) < 4:
        return
    forms = {value, base64.b64encode(value.encode()).decode()}
    if ":" in value:  # an <id>:<key> pair: the key half alone is secret too
        key = value.split(":", 1)[1]
        if len(key) >= 4:
            forms.add(key)
    with _lock:
        _secrets.update(forms)


def redact(text: Any) -> str:
    """Return ``text`` as a string with every known secret and auth header value masked."""
    s = str(text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in s:
            s = s.replace(secret, MASK)
    s = _AUTH_RE.sub(lambda m: f"{m.group(1)} {MASK}", s)
    s = _URL_PASSWORD_RE.sub(lambda m: f"{m.group(1)}:{MASK}@", s)
    return _SECRET_PARAM_RE.sub(lambda m: f"{m.group(1)}{MASK}", s)


def scrub_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Request parameters as they may be stored: secret-named keys dropped, values redacted."""
    out: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if key.lower() in SECRET_PARAM_NAMES:
            continue
        out[key] = redact(value) if isinstance(value, str) else value
    return out


class RedactingFilter(logging.Filter):
    """Logging filter that formats the record's message once and masks secrets in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a broken format string must not hide the log line
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
