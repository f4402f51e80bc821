"""The project's error tree and what each error means to the command line.

=====================  =====================================================  =========
class                  raised when                                            exit code
=====================  =====================================================  =========
``ConfigError``        bad command line or configuration, before any request  2
``ProviderAuthError``  a provider refuses the credentials or a scope          1
``ProviderError``      a provider answer the loader cannot continue from      1
``TransientHttpError`` retries exhausted on 5xx, 429, timeouts, drops          1 (or a skip)
``EntitySkipped``      one campaign/window skipped (404/409/424, not ready)   3
``ResponseTooLarge``   one answer above ``max_response_bytes`` (an entity)    3
``WarehouseBusy``      another run holds the warehouse                         1
``DiskFull``           no space left where the loader writes                   1
=====================  =====================================================  =========

``core.interrupt.Interrupted`` (SIGINT / SIGTERM) is not in this tree: it is a ``BaseException`` so that
no handler of ours or of dlt mistakes it for a provider failure; the CLI exits 130 / 143.

Every message is one sentence, already free of secrets (see ``core.redact``).
"""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its class name when it has none): one-sentence errors."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class CampaignEtlError(Exception):
    """Base of our errors."""

    exit_code = 1


class ConfigError(CampaignEtlError):
    """Bad CLI/config input: exit 2."""

    exit_code = 2


class ProviderError(CampaignEtlError):
    """A provider answered something the run cannot go on from: exit 1."""

    def __init__(self, provider: str, message: str, *, endpoint: str | None = None,
                 status: int | None = None) -> None:
        self.provider = provider
        self.endpoint = endpoint
        self.status = status
        super().__init__(message)


class ProviderAuthError(ProviderError):
    """Credentials refused (or a scope missing): exit 1, the message names the key to check."""


class TransientHttpError(ProviderError):
    """Retries exhausted on a transient failure (5xx, 429, timeout, dropped connection)."""


class HttpStatusError(ProviderError):
    """A non-retryable HTTP status the provider client did not expect."""

    def __init__(self, provider: str, message: str, *, endpoint: str | None = None,
                 status: int | None = None, body: object = None) -> None:
        super().__init__(provider, message, endpoint=endpoint, status=status)
        self.body = body


class EntitySkipped(CampaignEtlError):
    """One entity (campaign, window) skipped and recorded in extraction_errors: exit 3."""

    exit_code = 3

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        self.reason = reason
        self.status = status
        super().__init__(reason)


class ResponseTooLarge(EntitySkipped):
    """An answer larger than the configured cap: an error for that entity, never a memory spike."""


class WarehouseBusy(CampaignEtlError):
    """Another campaign-etl process holds the warehouse: exit 1."""


class DiskFull(CampaignEtlError):
    """No space left on the device the loader writes to: exit 1, the published warehouse untouched."""
