"""Experiture's OAuth 2.0 client-credentials grant: tokens that expire or are revoked during a run renew themselves,
a refused grant names its keys, the grant's secrets are nowhere, a ready access token still works."""

from __future__ import annotations

import base64
import threading
import time
from pathlib import Path
from urllib.parse import parse_qsl, unquote_plus

import httpx
import pendulum
import pytest
from helpers import cli, fact, one_sentence, query

from core.errors import ProviderAuthError
from simulators.base import Faults, Request, Response
from simulators.experiture import API, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TOKEN, ExperitureSim
from sources.common.oauth import ClientCredentials, refresh_margin

NOW = pendulum.now("UTC")
FAST = {"SOURCES__EXPERITURE__RATE_LIMIT_REQUESTS": "1000", "SOURCES__EXPERITURE__BACKOFF_BASE_SECONDS": "0.01",
        "SOURCES__EXPERITURE__BACKOFF_MAX_SECONDS": "0.05",
        "SOURCES__EXPERITURE__START_DATE": NOW.subtract(days=40).to_date_string()}


def granting(**kwargs) -> ExperitureSim:
    return ExperitureSim(now=NOW, campaigns=24, days=30, journeys=False, client_id=DEFAULT_CLIENT_ID,
                         client_secret=DEFAULT_CLIENT_SECRET, **kwargs)


def assert_no_secret(sim: ExperitureSim, tmp_path: Path, *outputs: str) -> None:
    """Neither the client secret nor any token issued is in the outputs or in any file the run left."""
    secrets = [DEFAULT_CLIENT_SECRET, *sim.issued]
    assert sim.issued, "the grant was used"
    for output in outputs:
        for secret in secrets:
            assert secret not in output
    for path in tmp_path.rglob("*"):   # warehouse, raw stores (fetch log included), work file, dlt state, traces
        if path.is_file():
            data = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in data, f"a secret of the grant found in {path}"


def test_tokens_expiring_during_a_nightly_are_renewed_and_the_facts_equal_truth(tmp_path: Path, serve) -> None:
    # tokens live 1 s and the run lasts several: each expires halfway and is renewed before the API refuses it
    sim = granting(token_lifetime=1)
    sim.latency = 0.05
    server = serve(sim)
    started = time.monotonic()
    result = cli("-v", "run", cwd=tmp_path, env={**sim.loader_env(server.url), **FAST})
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    warehouse = tmp_path / "campaign_metrics.duckdb"
    assert fact(warehouse, "experiture") == sim.truth_fact_rows()
    assert sim.tokens_issued >= 2, f"a run of {took:.1f}s with 1 s tokens renewed them"
    assert "access token renewed before it expired" in result.stderr
    assert sim.grant_refusals == 0
    status = cli("status", "--json", cwd=tmp_path)
    assert status.returncode == 0
    raw = query(warehouse, "select string_agg(cast(request_params as varchar), '') from raw.experiture_fetches")
    assert_no_secret(sim, tmp_path, result.stdout, result.stderr, status.stdout, str(raw))


def test_a_token_that_expires_before_the_client_expects_is_renewed_after_its_401(configure, run_cli,
                                                                                 warehouse: Path) -> None:
    # the server's clock runs ahead: the token it issued for 3600 s is refused after 0.3 s, with a 401
    sim = granting()
    ahead = {"seconds": 0.3}

    def early_expiry(request: Request, response: Response) -> Response:
        if request.path == sim.token_path and response.status == 200:
            sim.issued[response.body["access_token"]] = time.monotonic() + ahead["seconds"]
        return response

    sim.mutate = early_expiry
    sim.latency = 0.05
    configure(sim, start_days=40)
    assert run_cli("run", "--warehouse", warehouse) == 0
    assert fact(warehouse, "experiture") == sim.truth_fact_rows()
    assert sim.expired_refusals >= 1 and sim.tokens_issued >= 2


@pytest.mark.parametrize("when", ["listing", "campaigns in flight"])
def test_a_token_revoked_mid_run_is_renewed_once(configure, run_cli, warehouse: Path, when: str) -> None:
    sim = granting()
    if when == "listing":
        sim.after_list_request(1, lambda app: app.revoke_tokens())
    else:
        # revoked while four threads read campaigns: each gets a 401, only one asks for a new token
        statuses = {"n": 0}

        def revoke_on_fifth(request: Request, response: Response) -> Response:
            if request.path.endswith("/status"):
                statuses["n"] += 1
                if statuses["n"] == 5:
                    sim.revoke_tokens()
            return response

        sim.mutate = revoke_on_fifth
        sim.latency = 0.03
    configure(sim, start_days=40)
    assert run_cli("run", "--warehouse", warehouse) == 0
    assert fact(warehouse, "experiture") == sim.truth_fact_rows()
    assert sim.revoked_refusals >= 1
    assert sim.tokens_issued == 2, "one renewal for every thread refused with the revoked token"


def test_a_wrong_client_secret_is_exit_1_naming_the_keys(tmp_path: Path, serve) -> None:
    sim = granting()
    server = serve(sim)
    wrong = "not-the-client-secret-51ac"
    env = {**sim.loader_env(server.url), **FAST, "SOURCES__EXPERITURE__CLIENT_SECRET": wrong}
    result = cli("-v", "run", "--warehouse", tmp_path / "w.duckdb", cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stderr
    assert "experiture refused the client credentials at the token endpoint (HTTP 401 (invalid_client)); check " \
           "SOURCES__EXPERITURE__CLIENT_ID and SOURCES__EXPERITURE__CLIENT_SECRET." in result.stderr
    assert sim.grant_refusals == 1, "a refused grant is not retried"
    assert sim.request_count(API) == 0, "no API request without a token"
    for output in (result.stdout, result.stderr):
        assert wrong not in output and DEFAULT_CLIENT_SECRET not in output
        assert base64.b64encode(f"{DEFAULT_CLIENT_ID}:{wrong}".encode()).decode() not in output


@pytest.mark.parametrize("env,needle", [
    ({"SOURCES__EXPERITURE__TOKEN_URL": "ftp://auth.example/token"},
     "SOURCES__EXPERITURE__TOKEN_URL must start with http:// or https://"),
    ({"SOURCES__EXPERITURE__TOKEN_URL": None},
     "experiture has SOURCES__EXPERITURE__CLIENT_ID and SOURCES__EXPERITURE__CLIENT_SECRET but not "
     "SOURCES__EXPERITURE__TOKEN_URL"),
    ({"SOURCES__EXPERITURE__CLIENT_SECRET": None},
     "but not SOURCES__EXPERITURE__CLIENT_SECRET: the OAuth client-credentials grant needs all of"),
    ({"SOURCES__EXPERITURE__CLIENT_SECRET": "has a space"}, "SOURCES__EXPERITURE__CLIENT_SECRET holds a character"),
    ({"SOURCES__EXPERITURE__CLIENT_SECRET": ""}, "SOURCES__EXPERITURE__CLIENT_SECRET is empty"),
])
def test_a_bad_grant_configuration_is_exit_2_before_any_request(tmp_path: Path, serve, env: dict,
                                                                needle: str) -> None:
    sim = granting()
    server = serve(sim)
    config = {**sim.loader_env(server.url), **FAST, **env}
    result = cli("run", cwd=tmp_path, env={k: v for k, v in config.items() if v is not None})
    assert result.returncode == 2, result.stderr
    line = one_sentence(result)
    assert needle in line
    assert DEFAULT_CLIENT_SECRET not in line
    assert sim.request_count() == 0
    assert not list(tmp_path.glob("*.duckdb")) and not list(tmp_path.glob(".*.etl"))


def test_a_ready_access_token_still_works(configure, run_cli, warehouse: Path) -> None:
    sim = ExperitureSim(now=NOW, campaigns=12, days=30, journeys=False)
    configure(sim, start_days=40)
    assert run_cli("run", "--warehouse", warehouse) == 0
    assert fact(warehouse, "experiture") == sim.truth_fact_rows()
    assert sim.token_requests == 0 and sim.tokens_issued == 0


def test_with_both_configured_the_grant_wins(configure, run_cli, warehouse: Path) -> None:
    sim = granting(token=None)       # only issued tokens are accepted
    configure(sim, start_days=40, SOURCES__EXPERITURE__ACCESS_TOKEN=DEFAULT_TOKEN)
    assert run_cli("run", "--warehouse", warehouse) == 0
    assert fact(warehouse, "experiture") == sim.truth_fact_rows()
    assert sim.tokens_issued == 1


# -- ClientCredentials alone ------------------------------------------------------------------------------------


class _TokenServer:
    """A token endpoint as an httpx transport: checks the RFC 6749 request, counts tokens."""

    def __init__(self, lifetime: int = 3600, delay: float = 0.0) -> None:
        self.lifetime = lifetime
        self.delay = delay
        self.issued: list[str] = []
        self.forms: list[dict[str, str]] = []
        self.auth: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        form = dict(parse_qsl(request.read().decode()))
        user, password = base64.b64decode(request.headers["authorization"].split(" ", 1)[1]).decode().split(":")
        time.sleep(self.delay)
        with self._lock:
            self.forms.append(form)
            self.auth.append(f"{unquote_plus(user)}:{unquote_plus(password)}")
            token = f"token-{len(self.issued) + 1:04d}-abcdef"
            self.issued.append(token)
        return httpx.Response(200, json={"access_token": token, "token_type": "bearer", "expires_in": self.lifetime})


def test_client_credentials_request_cache_and_renewal() -> None:
    server = _TokenServer(lifetime=100)
    clock = {"now": 1000.0}
    grant = ClientCredentials("experiture", "https://auth.example/oauth/token?x=1", "id with:colon", "s3cret/+=",
                              transport=httpx.MockTransport(server), clock=lambda: clock["now"])
    first = grant.headers()
    assert first == {"Authorization": "Bearer token-0001-abcdef"}
    assert server.forms == [{"grant_type": "client_credentials"}]
    assert server.auth == ["id with:colon:s3cret/+="], "id and secret form-urlencoded, then Basic (RFC 6749 2.3.1)"
    clock["now"] += 100 - refresh_margin(100) - 1
    assert grant.headers() == first, "cached for its lifetime"
    clock["now"] += 1
    assert grant.headers() == {"Authorization": "Bearer token-0002-abcdef"}, "renewed a margin before expiry"
    assert refresh_margin(100) == 10 and refresh_margin(3600) == 30
    assert grant.renew(first) is True and len(server.issued) == 2, "a 401 to an old token: already renewed"
    assert grant.renew({"Authorization": "Bearer token-0002-abcdef"}) is True and len(server.issued) == 3


def test_client_credentials_threads_share_one_renewal() -> None:
    server = _TokenServer(delay=0.2)
    grant = ClientCredentials("experiture", "http://auth.example/token", "id", "secret-xyz",
                              transport=httpx.MockTransport(server))
    seen: list[dict[str, str]] = []
    threads = [threading.Thread(target=lambda: seen.append(grant.headers())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(server.issued) == 1 and len({h["Authorization"] for h in seen}) == 1
    sent = seen[0]
    renewals = [threading.Thread(target=grant.renew, args=(sent,)) for _ in range(8)]
    for thread in renewals:
        thread.start()
    for thread in renewals:
        thread.join()
    assert len(server.issued) == 2, "eight 401s to the same token: one renewal"


@pytest.mark.parametrize("status,body,needle", [
    (401, {"error": "invalid_client"}, "refused the client credentials at the token endpoint (HTTP 401 "
                                       "(invalid_client)); check CID and CSECRET."),
    (400, {"error": "invalid_client"}, "check CID and CSECRET."),
    (404, {}, "the token endpoint answered HTTP 404; check TURL."),
    (400, {"error": "invalid_scope"}, "check TURL, CID and CSECRET."),
])
def test_a_refused_grant_names_the_keys(status: int, body: dict, needle: str) -> None:
    grant = ClientCredentials("experiture", "http://auth.example/token", "id", "secret-xyz", id_key="CID",
                              secret_key="CSECRET", url_key="TURL",
                              transport=httpx.MockTransport(lambda request: httpx.Response(status, json=body)))
    with pytest.raises(ProviderAuthError) as caught:
        grant.headers()
    assert needle in str(caught.value) and "secret-xyz" not in str(caught.value)


def test_a_token_endpoint_failing_transiently_is_retried(configure, run_cli, warehouse: Path) -> None:
    sim = granting()
    sim.set_faults(Faults(burst_429=2, retry_after=0.05))   # the first two requests, the token request among them
    configure(sim, start_days=40)
    assert run_cli("run", "--warehouse", warehouse) == 0
    assert fact(warehouse, "experiture") == sim.truth_fact_rows()
    assert sim.request_count(sim.token_path) == 3 and sim.tokens_issued == 1
