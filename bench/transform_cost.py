"""Transform cost against history size: a nightly transform must grow with the run's new raw data, not with
the whole history. Builds a warehouse with 1x and 10x of GreenArrow-shaped raw history, brings analytics up to
date, lands the same new batch in both and times the incremental transform (and, separately, the quality
checks, which read the whole fact table by design). Prints figures; asserts nothing.

    .venv/bin/python bench/transform_cost.py [--campaigns 300] [--fetches 8] [--links 25] [--new 40]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

from transforms import run_checks, run_transforms

RAW_DDL = """
create schema if not exists raw;
create table if not exists raw.{t} (
    provider varchar, account_id varchar, campaign_id varchar, endpoint varchar,
    window_start timestamptz, window_end timestamptz, request_params json, fetched_at timestamptz,
    run_id varchar, fetch_id varchar, scope_key varchar, payload json, records bigint, _dlt_load_id varchar
);
"""


def land(con: duckdb.DuckDBPyConnection, *, first: int, campaigns: int, fetches: int, links: int,
         load_id: float, day_offset: int) -> None:
    """Land ``fetches`` pulls of campaigns ``first..first+campaigns`` (details and links), like the source does."""
    con.execute(f"""
        create or replace temp table pulls as
        select c as campaign_id, f as fetch_no,
               'c' || c || '-f' || f || '-' || {load_id!r} as fetch_id,
               timestamptz '2026-01-01 00:00:00+00' + to_days({day_offset} + f) + to_seconds(c % 3600) as fetched_at
        from range({first}, {first + campaigns}) t(c), range({fetches}) u(f)""")
    summary = ", ".join(f"'{m}', (campaign_id * 7 + fetch_no * 13 + {i}) % 50000"
                        for i, m in enumerate(["messages_sent", "total_messages", "total_success", "accepted",
                                               "opens_unique", "opens_total", "clicks_unique", "clicks_total",
                                               "bounces_unique", "unsubs_unique", "scomps_unique", "in_queue"]))
    con.execute(f"""insert into raw.greenarrow_campaigns
        select 'greenarrow', '1', cast(campaign_id as varchar), 'campaigns', null, null, '{{}}', fetched_at, 'bench',
               fetch_id, 'greenarrow|1|' || campaign_id || '|details',
               json_object('id', campaign_id, 'name', 'Campaign ' || campaign_id,
                           'dispatch', json_object('state', 'finished', 'started_at', '2025-12-01T00:00:00Z'),
                           'stat_summary', json_object({summary}, 'open_rate', 0.25, 'click_rate', 0.05,
                                                       'bounces_unique_by_code', json_object('5.1.1', 3)),
                           'content_stats', [json_object('content', json_object('id', 1, 'name', 'A'),
                                                         'stat_summary', json_object('messages_sent', 10))]),
               null, {load_id!r}
        from pulls""")
    con.execute(f"""insert into raw.greenarrow_link_stats
        select 'greenarrow', '1', cast(campaign_id as varchar), 'link_stats', null, null, '{{}}', fetched_at, 'bench',
               fetch_id || '-links', 'greenarrow|1|' || campaign_id || '|link_stats',
               json_object('link_id', campaign_id * 1000 + l, 'url', 'https://x.test/' || l,
                           'clicks_total', l + fetch_no, 'clicks_unique', l, 'clicks_unique_by_link', l),
               null, {load_id!r}
        from pulls, range({links}) t(l)""")
    con.execute(f"""insert into raw.greenarrow_fetches
        select 'greenarrow', '1', cast(campaign_id as varchar), e.endpoint, null, null, '{{}}', fetched_at, 'bench',
               fetch_id || e.suffix, 'greenarrow|1|' || campaign_id || '|' || e.scope, null,
               case when e.endpoint = 'campaign' then 1 else {links} end, {load_id!r}
        from pulls, (values ('campaign', '', 'details'), ('link_stats', '-links', 'link_stats'))
                    e(endpoint, suffix, scope)""")


def measure(scale: int, args: argparse.Namespace, folder: Path) -> dict[str, float]:
    path = folder / f"bench_{scale}x.duckdb"
    con = duckdb.connect(str(path))
    for table in ("greenarrow_campaigns", "greenarrow_link_stats", "greenarrow_fetches"):
        con.execute(RAW_DDL.format(t=table))
    started = time.perf_counter()
    land(con, first=0, campaigns=args.campaigns * scale, fetches=args.fetches, links=args.links,
         load_id=1000.0, day_offset=0)
    build = time.perf_counter() - started
    started = time.perf_counter()
    run_transforms(con, full=True)
    full = time.perf_counter() - started
    raw_rows = con.execute("select count(*) from raw.greenarrow_link_stats").fetchone()[0] + \
        con.execute("select count(*) from raw.greenarrow_campaigns").fetchone()[0]
    history_rows = con.execute("select count(*) from staging.fact_history_rows").fetchone()[0]
    # the nightly: the same new batch for every scale (re-pulls of the newest campaigns, one fetch each)
    land(con, first=args.campaigns * scale - args.new, campaigns=args.new, fetches=1, links=args.links,
         load_id=2000.0, day_offset=args.fetches + 1)
    started = time.perf_counter()
    result = run_transforms(con, full=False)
    incremental = time.perf_counter() - started
    started = time.perf_counter()
    con.execute("create table if not exists analytics.load_runs (provider varchar, finished_at timestamp, "
                "outcome varchar)")
    run_checks(con)
    checks = time.perf_counter() - started
    con.close()
    return {"scale": scale, "raw_rows": raw_rows, "history_rows": history_rows, "build_s": build,
            "full_rebuild_s": full, "nightly_transform_s": incremental, "dirty_scopes": result.dirty_scopes,
            "checks_s": checks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=300)
    parser.add_argument("--fetches", type=int, default=8, help="pulls per campaign in the history")
    parser.add_argument("--links", type=int, default=25)
    parser.add_argument("--new", type=int, default=40, help="campaigns re-pulled by the nightly run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rows = [measure(scale, args, Path(folder)) for scale in (1, 10)]
    print("transform cost: same nightly batch "
          f"({args.new} campaigns x (details + {args.links} links)) on 1x and 10x history")
    print(f"{'history':>8} {'raw rows':>10} {'history rows':>13} {'full rebuild':>13} {'nightly transform':>18} "
          f"{'scopes':>7} {'quality checks':>15}")
    for r in rows:
        print(f"{r['scale']:>7}x {r['raw_rows']:>10,} {r['history_rows']:>13,} {r['full_rebuild_s']:>12.2f}s "
              f"{r['nightly_transform_s']:>17.3f}s {r['dirty_scopes']:>7} {r['checks_s']:>14.3f}s")
    ratio = rows[1]["nightly_transform_s"] / max(rows[0]["nightly_transform_s"], 1e-9)
    print(f"nightly transform 10x/1x: {ratio:.2f} (history grew 10x; full rebuild grew "
          f"{rows[1]['full_rebuild_s'] / max(rows[0]['full_rebuild_s'], 1e-9):.1f}x)")


if __name__ == "__main__":
    main()
