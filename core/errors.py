"""The project's error tree and what each error means to the command line.

=========================  ====================================================  =========
class                      raised when                                           exit code
=========================  ====================================================  =========
``ConfigError``            bad command line or configuration, before any request  2
``ProviderError``          an answer the provider's run cannot go on from        1
  ``ProviderAuthError``    the provider refuses the credentials or a scope       1
``EntityError``            one entity (campaign, window, listing) not pulled     3
  ``EntitySkipped``        skipped for good (404, 409, 406, malformed answer)    3
    ``ResponseTooLarge``   an answer above ``max_response_bytes``                3
  ``EntityFailed``         failed now, pulled again next run                     3
    ``TransientHttpError`` retries exhausted on 5xx, 429, timeouts, drops        3
    ``HttpStatusError``    a status the provider's client did not expect         3
``WarehouseBusy``          another run holds the warehouse                       1
``DiskFull``               no space left where the loader writes                 1
=========================  ====================================================  =========

An ``EntityError`` carries a machine-readable ``code`` (``not_found``, ``unsupported_type``, ``not_ready``,
``malformed_answer``, ``too_old``, ``refused``, ``response_too_large``, ``retries_exhausted``, ``http_<status>``),
the HTTP ``status`` when there was one, and ``retry``: whether the entity's window must be pulled again. A source
turns one into an ``analytics.extraction_errors`` row with ``RawWriter.failed`` and goes on; an entity error a
source does not handle, and every ``ProviderError``, stops that provider's run (the others go on).

``core.interrupt.Interrupted`` (SIGINT / SIGTERM) is not in this tree: it is a ``BaseException`` so that no
handler of ours or of dlt mistakes it for a provider failure; the CLI exits 130 / 143.

Every message is one sentence, already free of secrets (see ``core.redact``).
"""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, for one-sentence errors; an exception without one is said in
    words (never by its class name)."""
    text = str(exc).strip()
    if text:
        return text.splitlines()[0]
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionError):
        return "the connection failed"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return "an error without a message (run with -v for details)"


def with_provider(provider: str, message: str) -> str:
    """``provider: message``, the provider said once even when the message already starts with it."""
    prefix = f"{provider}: "
    while message.startswith(prefix):
        message = message[len(prefix):]
    return prefix + message


class CampaignEtlError(Exception):
    """Base of our errors."""

    exit_code = 1


class ConfigError(CampaignEtlError):
    """Bad CLI/config input: exit 2."""

    exit_code = 2


class ProviderError(CampaignEtlError):
    """A provider answered something its run cannot go on from: exit 1."""

    def __init__(self, provider: str, message: str, *, endpoint: str | None = None,
                 status: int | None = None) -> None:
        self.provider = provider
        self.endpoint = endpoint
        self.status = status
        super().__init__(message)


class ProviderAuthError(ProviderError):
    """Credentials refused (or a scope missing): exit 1, the message names the key to check."""


class EntityError(CampaignEtlError):
    """One entity could not be pulled; recorded in extraction_errors, the run goes on: exit 3.

    Args:
        reason: one sentence (free of secrets) for the error row and the log.
        code: machine-readable kind, see the module docstring; subclasses give a default.
        status: the HTTP status behind it, if any.
        retry: whether the entity's window must be pulled again next run; subclasses give a default.
    """

    exit_code = 3
    default_code = "entity_error"
    default_retry = False

    def __init__(self, reason: str, *, code: str | None = None, status: int | None = None,
                 retry: bool | None = None) -> None:
        self.reason = reason
        self.code = code or self.default_code
        self.status = status
        self.retry = self.default_retry if retry is None else retry
        super().__init__(reason)


class EntitySkipped(EntityError):
    """Skipped for good (deleted, unsupported, older than the API keeps, malformed): not pulled again for it."""

    default_code = "skipped"


class ResponseTooLarge(EntitySkipped):
    """An answer larger than the configured cap: an error for that entity, never a memory spike."""

    default_code = "response_too_large"


class EntityFailed(EntityError):
    """Failed this time; its window is pulled again by the next run."""

    default_code = "failed"
    default_retry = True


class TransientHttpError(EntityFailed):
    """Retries exhausted on a transient failure (5xx, 429, timeout, dropped connection)."""

    default_code = "retries_exhausted"

    def __init__(self, provider: str, message: str, *, endpoint: str | None = None, status: int | None = None,
                 retry: bool | None = None) -> None:
        self.provider = provider
        self.endpoint = endpoint
        super().__init__(message, status=status, retry=retry)


class HttpStatusError(EntityFailed):
    """A status the provider's client did not expect for this entity (code ``http_<status>``)."""

    def __init__(self, provider: str, message: str, *, endpoint: str | None = None, status: int | None = None,
                 body: object = None, retry: bool | None = None) -> None:
        self.provider = provider
        self.endpoint = endpoint
        self.body = body
        super().__init__(message, code=f"http_{status}" if status else "unexpected_answer", status=status,
                         retry=retry)


class WarehouseBusy(CampaignEtlError):
    """Another campaign-etl process holds the warehouse: exit 1."""


class DiskFull(CampaignEtlError):
    """No space left on the device the loader writes to: exit 1, the published warehouse untouched."""
