"""How a provider plugs into the runner: one ``ProviderSpec`` per provider, listed in ``sources.registry``.

The spec says which config keys the provider reads, how to build its auth headers, the API's window limit and
its default HTTP policy; its dlt source takes those keys as arguments. The runner does everything else (config
resolution and validation, window planning and the ledger, the HTTP client and its counters, loading, errors).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pendulum

from sources.common.http import Authenticator, HttpPolicy, HttpResponse
from sources.common.raw import RawBatch


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
    url: bool = False              # an http(s) URL with a host, checked like ``base_url`` before any request


@dataclass(frozen=True)
class CredentialSet:
    """Another way a provider authenticates: keys given together instead of its ``secret_key`` (an OAuth 2.0
    client-credentials grant instead of a ready token).

    The provider is enabled when its ``secret_key`` or every key of the set is configured; some but not all keys
    of the set is a configuration error (exit 2). When both are configured, the set wins (a renewable credential
    beats a ready one that expires) and the ready secret is not used.

    Attributes:
        keys: the set's config keys (each also listed in ``ProviderSpec.config_keys``, not required there).
        secret: the set's secret key, read like ``secret_key`` (``.dlt/secrets.toml`` or the environment); its
            value becomes ``ProviderSettings.secret``.
        what: the set's name in messages (``the OAuth client-credentials grant``).
    """

    keys: tuple[str, ...]
    secret: str
    what: str = "the alternative credentials"

    @property
    def all_keys(self) -> tuple[str, ...]:
        return (*self.keys, self.secret)


@dataclass(frozen=True)
class Probe:
    """The one cheap authenticated request ``campaign-etl check`` sends to tell a working configuration.

    The provider only describes it; ``pipelines/check.py`` sends it through the shared ``HttpClient`` (the
    provider's policy and auth) and reads the status. In ``path`` and in the string values of ``params`` and
    ``json``, ``{<key>}`` is replaced by the provider's config value of that name, ``{today}`` and
    ``{yesterday}`` by UTC dates (``YYYY-MM-DD``), ``{now}`` and ``{day_ago}`` by UTC times (ISO, ``Z``).

    Attributes:
        path: relative to ``base_url``.
        accept: reads a 2xx JSON answer: None when it is what a working configuration gets, else what is wrong
            with it (a phrase); None: any 2xx JSON answer will do.
        on_404: config keys of the path a 404 may point at, named besides ``base_url`` (``access_key``).
    """

    path: str
    method: str = "GET"
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    accept: Callable[[HttpResponse], str | None] | None = None
    on_404: tuple[str, ...] = ()


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
    max_records_per_load: int = 50_000
    settle_days: int = 7       # the nightly's settle policy (pipelines/ledger.py); 0 turns it off
    recheck_days: int = 7
    # the key ``secret`` came from: the spec's ``secret_key``, or its ``alt_credentials.secret`` when those are used
    secret_key: str = ""

    def get(self, key: str, default: Any = None) -> Any:
        value = self.values.get(key)
        return default if value is None else value


@dataclass(frozen=True)
class CampaignSettling:
    """How a source that pulls every campaign of its scope each run tells that a campaign's figures stopped moving
    (``transforms.settled_campaigns``): the campaign twin of the window settle policy.

    Attributes:
        states: ``dim_campaign.status`` values after which its figures may stop moving.
        since: the ``dim_campaign`` column the settle period counts from (``finished_at``: its last execution
            ended; ``started_at``: it was published).
        endpoint: the raw fetches that carry its figures; None: every fetch of the campaign.
        figures: SQL over a raw record's ``payload`` (and ``fetch_id``): what two pulls compare. It leaves out
            what changes without the figures changing (a refresh time, how a poll went); a pull whose figures
            cannot be trusted (a stale answer) yields its ``fetch_id``, so it agrees with no other pull.
        tables: the raw tables (without the provider prefix) whose records ``figures`` reads.
        probes_all: the source probes every listed campaign, even one outside its windows, to see whether it moves
            again; then a campaign that ended before the nightly's windows goes unprobed while its newest pull is
            less than ``recheck_days`` old, and is pulled whole once it is older (``transforms.dormant_campaigns``).
        static_states: ``dim_campaign.status`` values of a campaign with no execution at all (a draft), which a
            source that probes every campaign treats the same way whatever its dates.
    """

    states: tuple[str, ...]
    since: str = "finished_at"
    endpoint: str | None = None
    figures: str = "payload"
    tables: tuple[str, ...] = ("metrics", "summaries")
    probes_all: bool = False
    static_states: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderSpec:
    """Everything the runner needs to know about one provider (its ``spec.py``).

    Attributes:
        name: the contract's slug (``greenarrow``); also the dlt source name and raw table prefix.
        secret_key: the secret's key under ``[sources.<name>]`` (``api_key``); also the source's argument.
        auth_headers: (secret, settings or None) -> the headers of every request.
        config_keys: further keys (``base_url`` is always required and need not be listed); each is also an
            argument of the provider's dlt source, under the same name.
        max_window_days: the API's longest date window; None when the API takes no dates.
        default_window_days: grid cell length used unless ``window_days`` is configured.
        default_policy: timeouts, retries, rate limit, concurrency unless configured.
        http_options: extra ``HttpClient`` keyword arguments (``is_throttle``, ``extra_retry``).
        authenticator: (settings) -> the credentials asked for before every request when they change during a
            run (``sources.common.http.Authenticator``), or None to send ``auth_headers`` only.
        alt_credentials: another way to authenticate, instead of ``secret_key`` (``CredentialSet``); None: none.
        probe: the one cheap request ``campaign-etl check`` sends (``Probe``); None: the check cannot probe it.
        settle_windows: a nightly may skip settled windows (``pipelines/ledger.py``): what a pull of a window
            found is in rows of that window, or of the campaigns they list, so two pulls can be compared.
        settling: for a source that pulls every campaign each run, how its settled campaigns are told, which a
            nightly may leave out (``ExtractPlan.settled``); None: it has none.
        source: the provider's ``@dlt.source`` function (``<name>_source``), attached by ``sources.registry``.
        rows: the provider's extraction, ``<name>_rows(run, **config keys)``: the stream of raw rows the source
            wraps and the runner cuts into loads; attached by ``sources.registry``.
    """

    name: str
    secret_key: str
    auth_headers: Callable[[str, ProviderSettings | None], dict[str, str]]
    config_keys: tuple[ConfigKey, ...] = ()
    max_window_days: int | None = None
    default_window_days: int = 7
    default_policy: HttpPolicy = field(default_factory=HttpPolicy)
    http_options: dict[str, Any] = field(default_factory=dict)
    authenticator: Callable[[ProviderSettings], Authenticator | None] | None = None
    alt_credentials: CredentialSet | None = None
    probe: Probe | None = None
    settle_windows: bool = False
    settling: CampaignSettling | None = None
    source: Callable[..., Any] | None = None
    rows: Callable[..., Iterator[RawBatch]] | None = None
