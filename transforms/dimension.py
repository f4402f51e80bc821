"""The campaign dimension: the ``dim`` models' observations merged into ``analytics.dim_campaign``.

The merge itself is SQL, ``transforms/sql/_runner/dim_campaign_merge.sql``: the newest non-null attribute wins,
first/last seen widen, status and finished_at move together.
"""

from __future__ import annotations

import duckdb

from core.errors import first_line
from transforms.models import SqlModel, TransformError, runner_sql

DIM_COLUMNS = ("provider", "account_id", "campaign_id", "campaign_name", "channel", "status", "started_at",
               "finished_at", "scheduled_at", "details", "observed_at")


def merge_dim_campaign(con: duckdb.DuckDBPyConnection, dim_models: list[SqlModel]) -> None:
    """Merge the rows of the ``dim`` models (temp views of their names, applied before) into the dimension."""
    if not dim_models:
        return
    columns = ", ".join(DIM_COLUMNS)
    observations = " union all ".join(f'select {columns} from "{m.name}"' for m in dim_models)
    try:
        con.execute(f"create or replace temp view dim_campaign_observations as {observations}")
        con.execute(runner_sql("dim_campaign_merge"))
    except duckdb.Error as exc:
        raise TransformError(f"transform of dim_campaign failed: {first_line(exc)}") from exc
