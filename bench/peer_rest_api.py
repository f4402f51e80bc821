"""The peer of ``bench/scale.py``: what a user would write instead of campaign-etl, a plain dlt ``rest_api``
configuration of the same GreenArrow endpoints, run serially with dlt's defaults into its own DuckDB file.

mailing lists -> the campaigns of each list started in the range -> the details of each campaign -> its
link_stats pages (from page 0, until ``num_pages``). No windows, ledger, raw lineage, transforms or fact table:
the figures it gives are the floor a hand-written pipeline sets for the same requests.

    .venv/bin/python bench/peer_rest_api.py --base-url URL --api-key ORG:KEY --start 2026-01-01 --end 2026-03-31 \\
        --warehouse /tmp/peer.duckdb [--pipelines-dir DIR] [--report figures.json]

With ``--report`` it writes its dlt step times (from ``pipeline.last_trace``) and the rows dlt normalized per
table as JSON, for the parent benchmark to print.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

# Before dlt is imported, like the loader: no usage telemetry leaves a benchmark on loopback.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt
from dlt.sources.rest_api import RESTAPIConfig, rest_api_source

API_PREFIX = "/ga/api/v2"
# the API's largest page (more is ``requested_too_many``); the loader asks for the same
LINK_STATS_PER_PAGE = 500


def peer_config(base_url: str, api_key: str, start: dt.date, end: dt.date) -> RESTAPIConfig:
    """The ``rest_api`` configuration of the four GreenArrow endpoints for campaigns started in ``start..end``.

    Args:
        base_url: the Studio host (paths start with ``/ga/api/v2``).
        api_key: ``<organization_id>:<api_key>``, sent as HTTP Basic.
        start: first day of the range (UTC).
        end: last day of the range (UTC, inclusive).

    Returns:
        The configuration for ``rest_api_source``.
    """
    username, _, password = api_key.partition(":")
    started_from = int(dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC).timestamp())
    # the API's bounds are inclusive: the range's last second, as the loader sends it
    started_to = int(dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC).timestamp()) - 1
    return {
        "client": {
            "base_url": base_url.rstrip("/") + API_PREFIX + "/",
            "auth": {"type": "http_basic", "username": username, "password": password},
        },
        "resource_defaults": {"endpoint": {"paginator": "single_page", "data_selector": "data"}},
        "resources": [
            {"name": "mailing_lists", "endpoint": {"path": "mailing_lists"}},
            {
                "name": "campaigns",
                "endpoint": {
                    "path": "mailing_lists/{resources.mailing_lists.id}/campaigns",
                    "params": {"started_at__start": started_from, "started_at__end": started_to},
                },
            },
            {"name": "campaign_details", "endpoint": {"path": "campaigns/{resources.campaigns.id}"}},
            {
                "name": "link_stats",
                "endpoint": {
                    "path": "campaigns/{resources.campaign_details.id}/link_stats",
                    "params": {"per_page": LINK_STATS_PER_PAGE},
                    "data_selector": "data.links",
                    "paginator": {"type": "page_number", "base_page": 0, "page_param": "page",
                                  "total_path": "num_pages"},
                },
            },
        ],
    }


def run(base_url: str, api_key: str, start: dt.date, end: dt.date, warehouse: Path,
        pipelines_dir: Path | None = None) -> dict[str, Any]:
    """Load the range into ``warehouse`` and return the run's figures.

    Args:
        base_url: the Studio host.
        api_key: ``<organization_id>:<api_key>``.
        start: first day of the range (UTC).
        end: last day of the range (UTC, inclusive).
        warehouse: the DuckDB file to load into.
        pipelines_dir: where dlt keeps the pipeline's state (dlt's default when None).

    Returns:
        ``steps``: seconds per dlt step (extract, normalize, load); ``rows``: rows normalized per table.
    """
    destination = dlt.destinations.duckdb(str(warehouse))
    if pipelines_dir is None:
        pipeline = dlt.pipeline(pipeline_name="greenarrow_peer", destination=destination, dataset_name="greenarrow")
    else:
        pipeline = dlt.pipeline(pipeline_name="greenarrow_peer", destination=destination, dataset_name="greenarrow",
                                pipelines_dir=str(pipelines_dir))
    pipeline.run(rest_api_source(peer_config(base_url, api_key, start, end), name="greenarrow"))
    trace = pipeline.last_trace
    if trace is None:  # a run that returned has a trace; without one there are no figures to give
        return {"steps": {}, "rows": {}}
    steps = {step.step: (step.finished_at - step.started_at).total_seconds()
             for step in trace.steps if step.finished_at is not None}
    normalized = trace.last_normalize_info
    rows = dict(normalized.row_counts) if normalized is not None else {}
    return {"steps": steps, "rows": rows}


def main() -> None:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True, help="<organization_id>:<api_key>")
    parser.add_argument("--start", required=True, type=dt.date.fromisoformat, metavar="YYYY-MM-DD")
    parser.add_argument("--end", required=True, type=dt.date.fromisoformat, metavar="YYYY-MM-DD",
                        help="inclusive")
    parser.add_argument("--warehouse", required=True, type=Path)
    parser.add_argument("--pipelines-dir", type=Path, help="dlt's pipeline state (default: dlt's own)")
    parser.add_argument("--report", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    figures = run(args.base_url, args.api_key, args.start, args.end, args.warehouse, args.pipelines_dir)
    if args.report is not None:
        args.report.write_text(json.dumps(figures))
    else:
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
