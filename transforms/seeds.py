"""The seeds, data the transforms read: the metric dictionary (``transforms/seeds/conformed_metrics/*.csv`` ->
``staging.conformed_metrics``) and the campaign status mapping (``transforms/seeds/campaign_status/*.csv`` ->
``staging.campaign_status``)."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from transforms.models import TransformError

SEEDS_DIR = Path(__file__).parent / "seeds"
SEED_COLUMNS = ("provider", "metric", "conformed_metric", "aggregation", "unit", "source_field", "meaning")
AGGREGATIONS = frozenset({"sum", "unique", "rate", "peak", "snapshot", "average"})
STATUS_COLUMNS = ("provider", "provider_status", "status", "meaning")
#: the conformed campaign statuses (analytics.campaign_performance.status)
STATUSES = ("draft", "scheduled", "sending", "completed", "cancelled", "failed")

SeedRow = dict[str, str | None]


def read_seeds(seeds_dir: Path = SEEDS_DIR) -> list[SeedRow]:
    """The metric dictionary: ``conformed_metrics.csv`` and ``conformed_metrics/*.csv``, one row per
    (provider, metric). ``conformed_metric`` empty = provider-only metric. ``aggregation`` says how a metric
    combines across date windows: ``sum`` (additive count), ``unique`` / ``rate`` / ``peak`` / ``average`` /
    ``snapshot`` (never summed)."""
    rows: dict[tuple[str, str], SeedRow] = {}
    files = [seeds_dir / "conformed_metrics.csv", *sorted((seeds_dir / "conformed_metrics").glob("*.csv"))]
    for path in files:
        if not path.exists():
            continue
        with path.open(newline="") as handle:
            for record in csv.DictReader(handle):
                row: SeedRow = {c: ((record.get(c) or "").strip() or None) for c in SEED_COLUMNS}
                provider, metric, aggregation = row["provider"], row["metric"], row["aggregation"]
                if not provider or not metric:
                    continue
                if aggregation is not None and aggregation not in AGGREGATIONS:
                    raise TransformError(f"seed {path.name}: {provider}.{metric} has unknown "
                                         f"aggregation '{aggregation}'")
                if (provider, metric) in rows:
                    raise TransformError(f"seed {path.name}: {provider}.{metric} is listed twice")
                rows[(provider, metric)] = row
    conformed: dict[tuple[str, str], str] = {}
    for (provider, metric), row in rows.items():
        name = row["conformed_metric"]
        if name:
            other = conformed.setdefault((provider, name), metric)
            if other != metric:
                raise TransformError(f"metric dictionary: {provider} maps both {other} and {metric} to "
                                     f"{name}; one conformed name per provider")
    return [rows[k] for k in sorted(rows)]


def read_status_seeds(seeds_dir: Path = SEEDS_DIR) -> list[SeedRow]:
    """The campaign status mapping: one row per (provider, provider_status) -> conformed ``status`` (one of
    ``STATUSES``) with its meaning. A provider status not listed is published with a NULL conformed status and
    reported by the ``unmapped_statuses`` check."""
    rows: dict[tuple[str, str], SeedRow] = {}
    for path in sorted((seeds_dir / "campaign_status").glob("*.csv")):
        with path.open(newline="") as handle:
            for record in csv.DictReader(handle):
                row: SeedRow = {c: ((record.get(c) or "").strip() or None) for c in STATUS_COLUMNS}
                provider, provider_status, status = row["provider"], row["provider_status"], row["status"]
                if not provider or not provider_status:
                    continue
                if status not in STATUSES:
                    raise TransformError(f"seed {path.name}: {provider} status '{provider_status}' maps to "
                                         f"'{status}', not one of {', '.join(STATUSES)}")
                if (provider, provider_status) in rows:
                    raise TransformError(f"seed {path.name}: {provider} status '{provider_status}' is listed twice")
                rows[(provider, provider_status)] = row
    return [rows[k] for k in sorted(rows)]


def load_seeds(con: duckdb.DuckDBPyConnection, seeds_dir: Path = SEEDS_DIR) -> None:
    """The metric dictionary -> ``staging.conformed_metrics``, the status mapping -> ``staging.campaign_status``
    (both replaced on every transform: a mapping change needs no reload)."""
    _replace_table(con, "staging.conformed_metrics", SEED_COLUMNS, ("provider", "metric"), read_seeds(seeds_dir))
    _replace_table(con, "staging.campaign_status", STATUS_COLUMNS, ("provider", "provider_status"),
                   read_status_seeds(seeds_dir))


def _replace_table(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...], key: tuple[str, ...],
                   rows: list[SeedRow]) -> None:
    definition = ", ".join(f"{c} varchar" for c in columns)
    con.execute(f"create or replace table {table} ({definition}, primary key ({', '.join(key)}))")
    if rows:
        con.executemany(f"insert into {table} values ({', '.join('?' for _ in columns)})",
                        [tuple(r[c] for c in columns) for r in rows])
