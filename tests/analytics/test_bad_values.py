"""Values that cannot be stored as given, each class injected into one campaign's answers of each provider's
simulator (over loopback, through ``SimApp.mutate``), then ``campaign-etl run``: the run never fails the provider
(exit 0 or 3), the fact equals the simulator's truth except the injected keys (number text is parsed into the
intended number), every bad value has a row in ``analytics.quarantined_values`` with its reason, raw keeps the
value as sent (10**30 as its decimal string), and the other campaigns are untouched. Classes: 10**30, NaN,
Infinity, null, a negative count, 1.7e308, "38,668", "3472", and null or missing metrics blocks.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pendulum
import pytest
from helpers import fact, query

from core.providers import PROVIDER_NAMES
from simulators import experiture, greenarrow, insider, parrot, shoplive
from simulators.base import Request, Response, SimApp, SimServer
from sources.common.raw import storable

NOW = pendulum.now("UTC")
PROVIDERS = PROVIDER_NAMES
MISSING = object()      # "remove the key" instead of setting it

# class -> (value sent, what the quarantine reason starts with)
BAD: dict[str, tuple[Any, str]] = {
    "beyond_64_bits": (10**30, "out of range"),
    "nan": (float("nan"), "not finite: NaN"),
    "infinity": (float("inf"), "not finite: Infinity"),
    "null": (None, "null"),
    "negative_count": (-5, "negative count"),
    "huge_float": (1.7e308, "out of range"),
}
# class -> how the true number is sent as text
TEXT: dict[str, Callable[[int], str]] = {
    "thousands_separators": lambda n: f"{n:,}",        # "38,668"
    "plain_string": lambda n: str(n),                  # "3472"
}


@dataclasses.dataclass
class Case:
    """One provider, prepared for injections into some campaigns' answers (one class of bad value each)."""

    provider: str
    sim: SimApp
    candidates: list[str]                          # warehouse campaign ids that can be victims, largest field first
    field: str                                     # the provider's field name
    metric: str                                    # its metric name in the fact
    endpoint: str                                  # the quarantine row's endpoint ...
    path: str                                      # ... and field
    raw_sql: str                                   # the field's JSON text in raw, one row per record of a campaign
    containers: Callable[[Request, Any], list[tuple[str, dict[str, Any]]]]  # (campaign id, object holding field)
    with_period: bool = False

    @property
    def victim(self) -> str:
        return self.candidates[0]

    def truth(self) -> dict[tuple[Any, ...], float]:
        return self.sim.truth_fact_rows()

    def inject(self, changes: dict[str, Callable[[dict[str, Any]], None]]) -> None:
        """Apply ``changes[campaign]`` to every object of that campaign's answers that holds the field."""
        def mutate(request: Request, response: Response) -> Response:
            if response.status != 200 or response.body is None:
                return response
            body = copy.deepcopy(response.body)       # handlers may hand out shared objects
            targets = [(cid, obj) for cid, obj in self.containers(request, body) if cid in changes]
            for cid, obj in targets:
                changes[cid](obj)
            return dataclasses.replace(response, body=body) if targets else response

        self.sim.mutate = mutate

    def setter(self, value: Any) -> Callable[[dict[str, Any]], None]:
        def change(target: dict[str, Any]) -> None:
            if value is MISSING:
                target.pop(self.field, None)
            elif callable(value):
                target[self.field] = value(target[self.field])
            else:
                target[self.field] = value

        return change

    def set_field(self, value: Any, campaign: str | None = None) -> None:
        self.inject({campaign or self.victim: self.setter(value)})

    def raw_values(self, warehouse: Path, campaign: str | None = None) -> list[Any]:
        return [json.loads(text) if text is not None else MISSING
                for (text,) in query(warehouse, self.raw_sql, [campaign or self.victim])]

    def victim_keys(self, truth: dict[tuple[Any, ...], float], campaign: str | None = None,
                    **match: str) -> set[tuple[Any, ...]]:
        victim = campaign or self.victim
        return {k for k in truth if k[1] == victim and all(k[i] == v for i, v in _positions(match))}


def _positions(match: dict[str, str]) -> list[tuple[int, str]]:
    index = {"breakdown_type": 2, "breakdown_value": 3, "metric": 4}
    return [(index[name], value) for name, value in match.items()]


# -- providers ---------------------------------------------------------------------------------------------------

def _greenarrow(configure: Callable[..., SimServer]) -> Case:
    sim = greenarrow.GreenArrowSim(now=NOW, lists=1, campaigns_per_list=10, days=30, max_links=520)
    started = sorted((c for c in sim.campaigns.values() if c.started_at is not None), key=lambda c: -c.recipients)
    configure(sim, start_days=40, SOURCES__GREENARROW__LINK_STATS_PER_PAGE="500")

    def containers(request: Request, body: Any) -> list[tuple[str, dict[str, Any]]]:
        campaign = request.path.rsplit("/", 1)[-1]
        if request.path == f"{greenarrow.API}/campaigns/{campaign}" and body["data"].get("stat_summary"):
            return [(campaign, body["data"]["stat_summary"])]
        return []

    return Case("greenarrow", sim, [str(c.campaign_id) for c in started], "messages_sent", "messages_sent", "campaigns",
                "stat_summary.messages_sent",
                "select payload -> '$.stat_summary.messages_sent' from raw.greenarrow_campaigns where campaign_id = ?",
                containers)


def _insider(configure: Callable[..., SimServer]) -> Case:
    sim = insider.InsiderSim(now=NOW, rate_period=1.0, campaigns=10, days=12)
    ranked = sorted(sim.campaigns.values(), key=lambda c: -c.daily_targeted)
    configure(sim, start_days=14)

    def containers(request: Request, body: Any) -> list[tuple[str, dict[str, Any]]]:
        if request.path == insider.OVERALL_PATH:
            return [(str(item["builderId"]), item) for item in body["data"]]
        return []

    case = Case("insider", sim, [str(c.builder_id) for c in ranked], "sent", "sent", "overall_metrics", "sent",
                "select payload -> '$.sent' from raw.insider_overall_metrics where campaign_id = ?", containers,
                with_period=True)
    return case


def _shoplive(configure: Callable[..., SimServer]) -> Case:
    sim = shoplive.ShopliveSim(now=NOW, campaigns=10, days=10)
    ranked = sorted(sim.active_keys(), key=lambda k: -sim.campaigns[k].base_viewers)
    configure(sim, start_days=12)

    def containers(request: Request, body: Any) -> list[tuple[str, dict[str, Any]]]:
        if request.path.endswith("/campaign/stats"):
            return [(item["campaignKey"], item) for item in body["results"]]
        return []

    return Case("shoplive", sim, ranked, "totalViewers", "total_viewers", "campaign_stats", "totalViewers",
                "select payload -> '$.totalViewers' from raw.shoplive_campaign_stats where campaign_id = ?",
                containers, with_period=True)


def _experiture(configure: Callable[..., SimServer]) -> Case:
    sim = experiture.ExperitureSim(now=NOW, campaigns=14, days=30, journeys=False)
    ranked = sorted((c for c in sim.loadable() if c.executions), key=lambda c: -c.reach)
    configure(sim, start_days=40)

    def containers(request: Request, body: Any) -> list[tuple[str, dict[str, Any]]]:
        parts = request.path.split("/")
        if request.path.endswith("/metrics") and isinstance(body["data"].get("counts"), dict):
            return [(parts[-2], body["data"]["counts"])]
        return []

    return Case("experiture", sim, [c.campaign_id for c in ranked], "scheduled", "scheduled", "metrics",
                "counts.scheduled",
                "select payload -> '$.counts.scheduled' from raw.experiture_metrics where campaign_id = ?",
                containers)


def _parrot(configure: Callable[..., SimServer]) -> Case:
    # fresh metrics answer `ready` at once: no refresh cycle to wait for
    sim = parrot.ParrotSim(now=NOW, campaigns=13, warmth="fresh", refresh_delay=0.1)
    ranked = sorted(sim.published(), key=lambda c: -c.recipients)
    configure(sim, start_days=70, SOURCES__PARROT__POLL_INTERVAL_SECONDS="0.1")

    def containers(request: Request, body: Any) -> list[tuple[str, dict[str, Any]]]:
        parts = request.path.split("/")
        if request.path.endswith("/metrics") and isinstance(body["data"].get("metrics"), dict):
            return [(parts[-2], body["data"]["metrics"])]
        return []

    return Case("parrot", sim, [c.campaign_id for c in ranked], "recipients", "recipients", "metrics",
                "metrics.recipients",
                "select payload -> '$.data.metrics.recipients' from raw.parrot_metrics where campaign_id = ?",
                containers)


SETUPS = {"greenarrow": _greenarrow, "insider": _insider, "shoplive": _shoplive, "experiture": _experiture,
          "parrot": _parrot}


@pytest.fixture
def prepare(configure):
    """``prepare(provider)``: that provider's simulator, served and configured (the only provider enabled)."""
    def _prepare(provider: str) -> Case:
        return SETUPS[provider](configure)

    return _prepare


def run(run_cli, warehouse: Path) -> int:
    code = run_cli("run", "--warehouse", warehouse)
    assert code in (0, 3), f"a bad value must never fail the provider (exit {code})"
    return code


def loaded(case: Case, warehouse: Path) -> dict[tuple[Any, ...], float]:
    return fact(warehouse, case.provider, with_period=case.with_period)


def assert_fact(case: Case, warehouse: Path, expected: dict[tuple[Any, ...], float]) -> None:
    got = loaded(case, warehouse)
    assert got.keys() == expected.keys(), (sorted(got.keys() - expected.keys(), key=repr)[:5],
                                           sorted(expected.keys() - got.keys(), key=repr)[:5])
    wrong = {k: (got[k], v) for k, v in expected.items() if got[k] != pytest.approx(v, rel=1e-12, abs=1e-12)}
    assert not wrong


def quarantined(case: Case, warehouse: Path) -> list[tuple[Any, ...]]:
    return query(warehouse, "select campaign_id, endpoint, field, raw_value, reason from analytics.quarantined_values "
                            "where provider = ? order by all", [case.provider])


# -- the classes of bad values -----------------------------------------------------------------------------------

@pytest.mark.parametrize("provider", PROVIDERS)
def test_each_class_of_bad_value_is_quarantined_and_everything_else_loads(prepare, run_cli,
                                                                          warehouse: Path, provider: str) -> None:
    """One run per provider; each class goes into its own campaign's answers, so each must stay alone."""
    case = prepare(provider)
    classes = [*TEXT, *BAD]          # number text first: the largest values, so "38,668" has a separator
    assert len(case.candidates) >= len(classes)
    victims = dict(zip(classes, case.candidates, strict=False))
    case.inject({victims[kind]: case.setter(TEXT[kind] if kind in TEXT else BAD[kind][0]) for kind in classes})
    run(run_cli, warehouse)

    truth = case.truth()
    injected = {kind: case.victim_keys(truth, victims[kind], breakdown_type="total", metric=case.metric)
                for kind in classes}
    assert all(injected.values()), "every victim has the metric in the simulator's truth"
    # number text is parsed into the intended number; every bad value leaves the fact and nothing else does
    assert_fact(case, warehouse, {k: v for k, v in truth.items() if not any(k in injected[kind] for kind in BAD)})

    rows = quarantined(case, warehouse)
    assert {r[0] for r in rows} == {victims[kind] for kind in BAD}, "only the bad values are quarantined"
    for kind, (bad, reason) in BAD.items():
        mine = [r for r in rows if r[0] == victims[kind]]
        assert len(mine) == len(injected[kind]), f"{kind}: one row per value (one per window for date ranges)"
        for _, endpoint, field, raw_value, why in mine:
            assert (endpoint, field) == (case.endpoint, case.path), kind
            assert json.loads(raw_value) == storable(bad), kind
            assert why.startswith(reason), f"{kind}: {why}"
        raw = case.raw_values(warehouse, victims[kind])
        assert raw and all(v == storable(bad) for v in raw), f"{kind}: raw keeps the value as sent: {raw[:3]}"
    assert case.raw_values(warehouse, victims["beyond_64_bits"])[0] == "1000000000000000000000000000000"
    for kind in TEXT:
        raw = case.raw_values(warehouse, victims[kind])
        assert raw and all(isinstance(v, str) for v in raw), f"{kind}: raw keeps the text as sent"
    assert any("," in v for v in case.raw_values(warehouse, victims["thousands_separators"]))
    errors = query(warehouse, "select count(*) from analytics.extraction_errors")
    assert errors == [(0,)], "a bad value is no extraction error"


def test_an_unknown_field_beyond_64_bits_is_quarantined(prepare, run_cli, warehouse: Path) -> None:
    case = prepare("insider")
    case.field = "unsubsTotal"          # not a field Insider documents: an unknown numeric field
    case.set_field(10**30)
    run(run_cli, warehouse)
    truth = case.truth()
    assert_fact(case, warehouse, truth)
    rows = quarantined(case, warehouse)
    assert rows and {r[:4] for r in rows} == {(case.victim, "overall_metrics", "unsubsTotal",
                                               '"1000000000000000000000000000000"')}
    assert all(r[4].startswith("out of range") for r in rows)


@pytest.mark.parametrize("provider", ["greenarrow", "insider"])
def test_beyond_64_bits_in_a_counter_of_every_campaign_still_loads_the_rest(prepare, run_cli,
                                                                             warehouse: Path, provider: str) -> None:
    """The reported failure: one 10**30 used to fail the provider every night. Here every answer has one."""
    case = prepare(provider)
    field = "unsubs_total" if provider == "greenarrow" else "clicks"
    metric = field

    def everywhere(request: Request, response: Response) -> Response:
        if response.status != 200:
            return response
        body = copy.deepcopy(response.body)
        if provider == "greenarrow" and request.path.startswith(f"{greenarrow.API}/campaigns/") \
                and not request.path.endswith("link_stats") and body["data"].get("stat_summary"):
            body["data"]["stat_summary"][field] = 10**30
        if provider == "insider" and request.path == insider.OVERALL_PATH:
            for item in body["data"]:
                item[field] = 10**30
        return dataclasses.replace(response, body=body)

    case.sim.mutate = everywhere
    run(run_cli, warehouse)
    truth = case.truth()
    injected = {k for k in truth if k[2] == "total" and k[4] == metric}
    assert len({k[1] for k in injected}) > 1
    assert_fact(case, warehouse, {k: v for k, v in truth.items() if k not in injected})
    assert len(quarantined(case, warehouse)) == len(injected)


# -- metrics blocks that are missing or null -------------------------------------------------------------------

def test_greenarrow_null_or_missing_stat_summary_is_one_quarantine_row(prepare, run_cli,
                                                                       warehouse: Path) -> None:
    case = prepare("greenarrow")
    sim = case.sim
    others = [c for c in sim.campaigns.values()
              if c.started_at is not None and str(c.campaign_id) != case.victim and c.contents]
    absent, sliced = others[0], others[-1]
    slice_id = str(sliced.contents[0].content_id)

    def blocks(request: Request, response: Response) -> Response:
        if response.status != 200:
            return response
        body = copy.deepcopy(response.body)
        if request.path == f"{greenarrow.API}/campaigns/{case.victim}":
            body["data"]["stat_summary"] = None
        elif request.path == f"{greenarrow.API}/campaigns/{absent.campaign_id}":
            del body["data"]["stat_summary"]
        elif request.path == f"{greenarrow.API}/campaigns/{sliced.campaign_id}":
            body["data"]["content_stats"][0]["stat_summary"] = None
        return dataclasses.replace(response, body=body)

    sim.mutate = blocks
    assert run(run_cli, warehouse) == 0
    truth = sim.truth_fact_rows()
    lost = ({k for k in truth if k[1] in (case.victim, str(absent.campaign_id)) and k[2] in ("total", "bounce_code")}
            | {k for k in truth if k[1] == str(sliced.campaign_id)
               and ((k[2] == "content" and k[3] == slice_id)
                    or (k[2] == "content_bounce_code" and k[3].startswith(slice_id + "/")))})
    assert_fact(case, warehouse, {k: v for k, v in truth.items() if k not in lost})
    assert quarantined(case, warehouse) == sorted([
        (case.victim, "campaigns", "stat_summary", "null", "null block"),
        (str(absent.campaign_id), "campaigns", "stat_summary", None, "missing block"),
        (str(sliced.campaign_id), "campaigns", f"content_stats[{slice_id}].stat_summary", "null", "null block"),
    ], key=lambda r: tuple("" if x is None else x for x in r))
    raw = query(warehouse, "select payload -> '$.stat_summary' from raw.greenarrow_campaigns where campaign_id = ?",
                [case.victim])
    assert raw == [("null",)], "raw keeps the null block as sent"


def test_insider_null_device_block_is_quarantined(prepare, run_cli, warehouse: Path) -> None:
    case = prepare("insider")

    def null_devices(request: Request, response: Response) -> Response:
        if response.status != 200 or request.path != insider.CAMPAIGN_PATH \
                or request.body.get("campaign_id") != case.victim:
            return response
        return dataclasses.replace(response, body={**copy.deepcopy(response.body), "deviceMetrics": None})

    case.sim.mutate = null_devices
    run(run_cli, warehouse)
    truth = case.truth()
    lost = case.victim_keys(truth, breakdown_type="device")
    assert lost
    assert_fact(case, warehouse, {k: v for k, v in truth.items() if k not in lost})
    rows = quarantined(case, warehouse)
    windows = {k[5] for k in lost}
    assert len(rows) == len(windows)
    assert {r for r in rows} == {(case.victim, "campaign_metrics", "deviceMetrics", "null", "null block")}


def test_experiture_missing_counts_is_quarantined(prepare, run_cli, warehouse: Path) -> None:
    case = prepare("experiture")
    never = next((c for c in case.sim.loadable() if not c.executions), None)

    def no_counts(request: Request, response: Response) -> Response:
        if response.status != 200 or request.path != f"{experiture.API}/campaigns/{case.victim}/metrics":
            return response
        body = copy.deepcopy(response.body)
        del body["data"]["counts"]
        return dataclasses.replace(response, body=body)

    case.sim.mutate = no_counts
    assert run(run_cli, warehouse) == 0
    truth = case.truth()
    assert_fact(case, warehouse, {k: v for k, v in truth.items() if k[1] != case.victim})
    assert quarantined(case, warehouse) == [(case.victim, "metrics", "counts", None, "missing block")]
    if never is not None:   # DOC: counts = null means never executed: nothing to load, nothing quarantined
        raw = query(warehouse, "select payload -> '$.counts' from raw.experiture_metrics where campaign_id = ?",
                    [never.campaign_id])
        assert raw == [("null",)]


def test_parrot_null_metrics_block_is_an_extraction_error(prepare, run_cli, warehouse: Path) -> None:
    case = prepare("parrot")

    def null_metrics(request: Request, response: Response) -> Response:
        if response.status != 200 or not request.path.endswith(f"/post_campaigns/{case.victim}/metrics"):
            return response
        body = copy.deepcopy(response.body)
        body["data"]["metrics"] = None
        return dataclasses.replace(response, body=body)

    case.sim.mutate = null_metrics
    assert run(run_cli, warehouse) == 3
    truth = case.truth()
    assert_fact(case, warehouse, {k: v for k, v in truth.items() if k[1] != case.victim})
    errors = query(warehouse, "select campaign_id, reason from analytics.extraction_errors where provider = 'parrot'")
    assert [e[0] for e in errors] == [case.victim] and "metrics" in errors[0][1]

