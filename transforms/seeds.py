"""The metric dictionary (seeds): ``transforms/seeds/conformed_metrics/*.csv`` -> ``staging.conformed_metrics``."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from transforms.models import TransformError

SEEDS_DIR = Path(__file__).parent / "seeds"
SEED_COLUMNS = ("provider", "metric", "conformed_metric", "aggregation", "unit", "source_field", "meaning")
AGGREGATIONS = frozenset({"sum", "unique", "rate", "peak", "snapshot", "average"})

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


def load_seeds(con: duckdb.DuckDBPyConnection, seeds_dir: Path = SEEDS_DIR) -> None:
    """The metric dictionary -> ``staging.conformed_metrics`` (replaced on every transform)."""
    columns = ", ".join(f"{c} varchar" for c in SEED_COLUMNS)
    con.execute(f"create or replace table staging.conformed_metrics ({columns}, primary key (provider, metric))")
    rows = read_seeds(seeds_dir)
    if rows:
        con.executemany(f"insert into staging.conformed_metrics values ({', '.join('?' for _ in SEED_COLUMNS)})",
                        [tuple(r[c] for c in SEED_COLUMNS) for r in rows])
