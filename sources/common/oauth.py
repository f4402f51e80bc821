"""OAuth 2.0 client-credentials grant (RFC 6749 §4.4): an ``Authenticator`` whose Bearer tokens renew themselves.

``ClientCredentials`` asks the token endpoint for a token the first time a request needs one, keeps it in memory
for its lifetime (``expires_in``) and asks for a new one a little before it expires (``refresh_margin``: 10 % of
the lifetime, at most 30 s), or once after a 401 to a token the server no longer accepts (revoked, or expired on
a server whose clock runs ahead). It is shared by every thread of a provider's ``HttpClient``: one renewal at a
time, the others wait for it and use the new token.

The token request goes through its own ``HttpClient`` (so it has the provider's timeouts, retries on 5xx / 429 /
dropped connections and redaction): ``POST`` of the form ``grant_type=client_credentials``, the client
authenticated with HTTP Basic, client id and secret form-urlencoded first (RFC 6749 §2.3.1). The client secret and
every token issued are registered with ``core.redact`` before they could appear anywhere.
"""

from __future__ import annotations

import base64
import dataclasses
import json as jsonlib
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

import httpx

from core import interrupt
from core.errors import ProviderAuthError, ProviderError
from core.redact import redact, register_secret
from sources.common.http import DeadlineTransport, HttpClient, HttpPolicy, HttpResponse

log = logging.getLogger("campaign_etl.oauth")

# Renew this long before the token expires: the smaller of MAX_MARGIN_SECONDS and MARGIN_SHARE of its lifetime.
MAX_MARGIN_SECONDS = 30.0
MARGIN_SHARE = 0.1
# RFC 6749 §5.2 error codes that mean the client id or secret is wrong (or the client may not use this grant).
_REFUSED_CLIENT = frozenset({"invalid_client", "unauthorized_client", "invalid_grant", "access_denied"})


def refresh_margin(lifetime: float) -> float:
    """Seconds before expiry a token of ``lifetime`` seconds is renewed."""
    return min(MAX_MARGIN_SECONDS, MARGIN_SHARE * max(0.0, lifetime))


def basic_credentials(client_id: str, client_secret: str) -> str:
    """The ``Authorization`` value of RFC 6749 §2.3.1: Basic over the form-urlencoded id and secret."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


class ClientCredentials:
    """Bearer tokens from a client-credentials grant, renewed before they expire (``sources.common.http``'s
    ``Authenticator``).

    Args:
        provider: the provider slug (messages, logs).
        token_url: the token endpoint (absolute http(s) URL).
        client_id, client_secret: the client's credentials.
        id_key, secret_key: the names of the keys to check when the grant is refused (``SOURCES__X__CLIENT_ID``).
        url_key: the name of the token URL's key (for a 404 or an unreachable endpoint).
        scope: the ``scope`` to ask for; None asks for the client's default scopes.
        policy: timeouts and retries of the token request (the provider's); its rate limit is not applied (the
            token endpoint is another endpoint class) and one request is in flight at a time.
        transport, sleep: for tests, as ``HttpClient`` takes them.
        clock: monotonic seconds (tests).
    """

    def __init__(self, provider: str, token_url: str, client_id: str, client_secret: str, *,
                 id_key: str = "client_id", secret_key: str = "client_secret", url_key: str = "token_url",
                 scope: str | None = None, policy: HttpPolicy | None = None,
                 transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = interrupt.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.provider = provider
        self.id_key, self.secret_key, self.url_key = id_key, secret_key, url_key
        self._scope = scope
        self._clock = clock
        register_secret(client_secret)
        url = httpx.URL(token_url)
        self._path = url.raw_path.decode("ascii") or "/"
        self._origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        self._policy = dataclasses.replace(policy or HttpPolicy(), rate_limit_requests=None, max_concurrency=1)
        self._client_headers = {"Authorization": basic_credentials(client_id, client_secret),
                                "Accept": "application/json"}
        self._client_secret = client_secret
        self._transport = transport
        self._sleep = sleep
        self._lock = threading.Lock()
        self._header: str | None = None      # "Bearer <token>" of the current token
        self._renew_at = 0.0
        self.issued = 0                      # tokens obtained so far (the first one included)

    # -- Authenticator ----------------------------------------------------------------------------------------

    def headers(self) -> dict[str, str]:
        """The current token's header, renewed first when there is none or it is about to expire."""
        with self._locked():
            if self._header is None or self._clock() >= self._renew_at:
                self._fetch("expired" if self._header is not None else "first")
            assert self._header is not None
            return {"Authorization": self._header}

    def renew(self, sent: dict[str, str]) -> bool:
        """After a 401 to ``sent``: a new token, unless another thread already got one since; True either way."""
        with self._locked():
            if self._header is None or sent.get("Authorization") == self._header:
                self._fetch("refused")
            return True

    def close(self) -> None:
        """Nothing stays open between renewals (each token request has its own connection)."""

    # -- internals --------------------------------------------------------------------------------------------

    def _locked(self) -> Any:
        """The renewal lock, waited for in slices so a stop request is noticed by the threads waiting on it."""
        lock = self._lock

        class _Held:
            def __enter__(self) -> None:
                while not lock.acquire(timeout=interrupt.SLICE_SECONDS):
                    interrupt.check()

            def __exit__(self, *exc: object) -> None:
                lock.release()

        return _Held()

    def _fetch(self, why: str) -> None:
        form = {"grant_type": "client_credentials"}
        if self._scope:
            form["scope"] = self._scope
        asked = self._clock()
        # a client per token request: renewals are minutes apart, so no connection is kept open between them
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        inner = self._transport if self._transport is not None else DeadlineTransport(limits=limits)
        with HttpClient(self.provider, self._origin, headers=self._client_headers, secrets=[self._client_secret],
                        policy=self._policy, transport=_FormBody(inner, close_inner=self._transport is None),
                        sleep=self._sleep) as http:
            response = http.post(self._path, json=form)
        token, token_type, lifetime = self._read(response)
        register_secret(token)
        scheme = "Bearer" if token_type.lower() == "bearer" else token_type
        self._header = f"{scheme} {token}"
        # counted from when it was asked for: the server's clock started before the answer reached us
        self._renew_at = asked + lifetime - refresh_margin(lifetime) if lifetime is not None else math.inf
        self.issued += 1
        reason = {"first": "obtained", "expired": "renewed before it expired",
                  "refused": "renewed after the API refused the previous one (HTTP 401)"}[why]
        life = f"valid {lifetime:g} s" if lifetime is not None else "no expires_in: kept until refused"
        log.info(redact(f"{self.provider}: access token {reason} ({life})"))

    def _read(self, response: HttpResponse) -> tuple[str, str, float | None]:
        """(access_token, token_type, expires_in or None) of a token answer, or the error naming the key."""
        body = response.data if isinstance(response.data, dict) else {}
        status = response.status
        if status >= 400:
            code = str(body.get("error") or "")
            described = f" ({redact(code)})" if code else ""
            if status in (400, 401, 403) and (code in _REFUSED_CLIENT or (not code and status != 400)):
                raise ProviderAuthError(
                    self.provider, f"{self.provider} refused the client credentials at the token endpoint (HTTP "
                                   f"{status}{described}); check {self.id_key} and {self.secret_key}.",
                    endpoint=response.path, status=status)
            if status == 404:
                raise ProviderAuthError(
                    self.provider, f"{self.provider}: the token endpoint answered HTTP 404; check {self.url_key}.",
                    endpoint=response.path, status=status)
            raise ProviderAuthError(
                self.provider, f"{self.provider}: the token endpoint refused the client-credentials grant (HTTP "
                               f"{status}{described}); check {self.url_key}, {self.id_key} and {self.secret_key}.",
                endpoint=response.path, status=status)
        token, token_type, expires_in = body.get("access_token"), body.get("token_type"), body.get("expires_in")
        if not isinstance(token, str) or not token.strip() or not isinstance(token_type, str):
            raise ProviderError(self.provider, f"{self.provider}: the token endpoint answered HTTP {status} without "
                                               f"an access_token and token_type; check {self.url_key}.",
                                endpoint=response.path, status=status)
        register_secret(token)
        if token_type.lower() != "bearer":
            raise ProviderError(self.provider, f"{self.provider}: the token endpoint issued a '{redact(token_type)}' "
                                               f"token; only Bearer tokens are supported.",
                                endpoint=response.path, status=status)
        lifetime: float | None = None
        if isinstance(expires_in, str) and expires_in.strip().isdigit():
            expires_in = int(expires_in)    # some servers send it as a string
        if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool) and expires_in > 0:
            lifetime = float(expires_in)
        return token.strip(), token_type, lifetime


class _FormBody(httpx.BaseTransport):
    """Sends the token request's JSON object as ``application/x-www-form-urlencoded`` (RFC 6749 §4.4.2).

    ``HttpClient.request`` sends JSON bodies only; this shim re-encodes the built request before it reaches the
    wrapped transport (which keeps the per-attempt deadline), so the token request has every guarantee of the
    shared HTTP layer without a second copy of it.
    """

    def __init__(self, inner: httpx.BaseTransport, *, close_inner: bool = True) -> None:
        self._inner = inner
        self._close_inner = close_inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()
        if content and request.headers.get("content-type", "").startswith("application/json"):
            form = jsonlib.loads(content)
            headers = [(k, v) for k, v in request.headers.raw if k.lower() not in (b"content-type", b"content-length")]
            request = httpx.Request(request.method, request.url, headers=headers,
                                    data={str(k): str(v) for k, v in form.items()}, extensions=request.extensions)
        return self._inner.handle_request(request)

    def close(self) -> None:
        if self._close_inner:
            self._inner.close()
