"""Configuration resolution on its own: lookup order, defaults, coercion and every refusal (exit 2)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pendulum
import pytest

from core.errors import ConfigError
from pipelines.config import check_keys, resolve, warehouse_path
from sources import registry

NOW = pendulum.datetime(2026, 11, 25, 12, tz="UTC")


@pytest.fixture(autouse=True)
def fresh_dlt_providers() -> Iterator[None]:
    """dlt reads .dlt/*.toml once per process: tests that write one reload, and the next test starts clean."""
    yield
    reload()
SPEC = registry.available()["greenarrow"]
INSIDER = registry.available()["insider"]


@pytest.fixture
def greenarrow(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("SOURCES__GREENARROW__API_KEY", "1:secret-key")
    monkeypatch.setenv("SOURCES__GREENARROW__BASE_URL", "http://127.0.0.1:9")
    return monkeypatch


def reload() -> None:
    """Make dlt read the .dlt folder of the current working directory again."""
    from dlt.common.configuration.container import Container
    from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

    Container()[PluggableRunContext].reload_providers()


def test_a_provider_without_its_secret_is_off_unless_asked_for() -> None:
    assert resolve(SPEC, now=NOW, required=False) is None
    with pytest.raises(ConfigError, match="SOURCES__GREENARROW__API_KEY"):
        resolve(SPEC, now=NOW, required=True)


def test_defaults_and_the_provider_policy(greenarrow: pytest.MonkeyPatch) -> None:
    settings = resolve(SPEC, now=NOW, required=True)
    assert settings is not None
    assert settings.secret == "1:secret-key" and settings.values["base_url"] == "http://127.0.0.1:9"
    assert settings.lookback_days == 30 and settings.window_days == 7
    assert settings.start_date == NOW.subtract(days=90).start_of("day")
    assert settings.policy == SPEC.default_policy
    assert settings.values["link_stats_per_page"] == 500


def test_the_provider_key_wins_over_sources_and_the_top_level(greenarrow: pytest.MonkeyPatch) -> None:
    greenarrow.setenv("LOOKBACK_DAYS", "5")
    assert resolve(SPEC, now=NOW, required=True).lookback_days == 5
    greenarrow.setenv("SOURCES__LOOKBACK_DAYS", "6")
    assert resolve(SPEC, now=NOW, required=True).lookback_days == 6
    greenarrow.setenv("SOURCES__GREENARROW__LOOKBACK_DAYS", "7")
    assert resolve(SPEC, now=NOW, required=True).lookback_days == 7
    greenarrow.setenv("SOURCES__GREENARROW__TIMEOUT_SECONDS", "2.5")
    greenarrow.setenv("SOURCES__GREENARROW__MAILING_LIST_IDS", "[1, 2]")
    settings = resolve(SPEC, now=NOW, required=True)
    assert settings.policy.timeout_seconds == 2.5 and settings.values["mailing_list_ids"] == ["1", "2"]


@pytest.mark.parametrize("key,value,message", [
    ("LOOKBACK_DAYS", "many", "must be a number"),
    ("LOOKBACK_DAYS", "-1", "must not be negative"),
    ("WINDOW_DAYS", "0", "must be 1 (days) or a multiple of 7"),
    ("WINDOW_DAYS", "10", "must be 1 (days) or a multiple of 7"),
    ("TIMEOUT_SECONDS", "0", "must be greater than 0"),
    ("MAX_ATTEMPTS", "0", "must be at least 1"),
    ("RATE_LIMIT_REQUESTS", "0", "must be at least 1"),
    ("MAX_RESPONSE_BYTES", "10", "must be at least 1024"),
    ("LINK_STATS_PER_PAGE", "0", "must be 1..500"),
    ("START_DATE", "2026-02-31", "not a date"),
    ("START_DATE", "1970-01-01", "outside the supported dates"),
    ("START_DATE", "2027-01-01", "in the future"),
    ("BASE_URL", "ftp://example", "must start with http"),
    ("BASE_URL", "http://", "not a valid URL"),
    ("API_KEY", "", "is empty"),
    ("API_KEY", "1:kéy", "cannot be sent in an HTTP header"),
    ("API_KEY", "<organization_id>:<api_key>", "placeholder"),
])
def test_bad_values_are_refused_naming_the_key(greenarrow: pytest.MonkeyPatch, key: str, value: str,
                                               message: str) -> None:
    greenarrow.setenv(f"SOURCES__GREENARROW__{key}", value)
    with pytest.raises(ConfigError, match=re.escape(message)) as refused:
        resolve(SPEC, now=NOW, required=True)
    assert f"SOURCES__GREENARROW__{key}" in str(refused.value) or key == "START_DATE"
    assert "kéy" not in str(refused.value), "a refused credential is never echoed"


def test_a_required_provider_key_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__INSIDER__API_KEY", "secret-key")
    monkeypatch.setenv("SOURCES__INSIDER__BASE_URL", "http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="SOURCES__INSIDER__PARTNER_ID"):
        resolve(INSIDER, now=NOW, required=True)


@pytest.mark.parametrize("toml,message", [
    ("[sources]\nlookback_daze = 3\n", "did you mean 'lookback_days'"),
    ("[sources.insider]\npartner = '1'\n", "did you mean 'partner_id'"),
    ("[sources.mailchimp]\napi_key = 'x'\n", "unknown provider section [sources.mailchimp]"),
])
def test_unknown_keys_in_files_name_the_nearest_known_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          toml: str, message: str) -> None:
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text(toml)
    monkeypatch.chdir(tmp_path)
    reload()
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_keys(registry.available().values())


def test_known_keys_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text("[sources]\nlookback_days = 3\nfreshness_hours = 30\n"
                                                    "[sources.shoplive]\nwindow_days = 7\naccess_key = 'k'\n")
    monkeypatch.chdir(tmp_path)
    reload()
    monkeypatch.setenv("SOURCES__PARROT__MAX_POLL_SECONDS", "3")
    check_keys(registry.available().values())


def test_the_warehouse_path_comes_from_the_flag_then_dlt_then_the_default(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert warehouse_path(None) == tmp_path / "campaign_metrics.duckdb"
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", "duckdb:///elsewhere.duckdb")
    assert warehouse_path(None) == tmp_path / "elsewhere.duckdb"
    assert warehouse_path("x.duckdb") == tmp_path / "x.duckdb"
