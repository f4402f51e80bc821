"""The analytics catalog (``transforms/catalog.toml``): every relation of schema ``analytics`` and every column's
type and meaning, as ``COMMENT ON`` statements for the warehouses and as the generated part of docs/warehouse.md.

    .venv/bin/python -m transforms.catalog          # rewrite the generated part of docs/warehouse.md
    .venv/bin/python -m transforms.catalog --check  # exit 1 when docs/warehouse.md is out of date
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

from transforms import docgen
from transforms.docgen import END
from transforms.models import TransformError
from transforms.seeds import read_status_seeds

CATALOG = Path(__file__).parent / "catalog.toml"
DOC = Path(__file__).resolve().parent.parent / "docs" / "warehouse.md"
BEGIN = "<!-- BEGIN GENERATED: python -m transforms.catalog -->"
SCHEMA = "analytics"


@dataclass(frozen=True)
class Column:
    name: str
    type: str       # the DuckDB type (the PostgreSQL target maps it: pipelines/postgres.py)
    meaning: str


@dataclass(frozen=True)
class Relation:
    name: str
    kind: str       # table or view
    summary: str
    grain: str
    columns: tuple[Column, ...]
    notes: str = ""

    @property
    def comment(self) -> str:
        """The relation's ``COMMENT ON`` text: what it holds and its grain."""
        return f"{self.summary} Grain: {self.grain}."


@cache
def relations(path: Path = CATALOG) -> tuple[Relation, ...]:
    """The catalog's relations in document order; a malformed entry is a ``TransformError`` naming it."""
    data = tomllib.loads(path.read_text())
    common: dict[str, Any] = data.get("common", {})
    out = []
    for entry in data.get("relation", []):
        name = entry.get("name", "?")
        columns = []
        for spec in entry.get("columns", []):
            if isinstance(spec, str):
                if spec not in common:
                    raise TransformError(f"{path.name}: {name} lists column '{spec}', which [common] lacks")
                column = Column(spec, *common[spec])
            elif isinstance(spec, list) and len(spec) == 3:
                column = Column(*spec)
            else:
                raise TransformError(f"{path.name}: {name} has a column that is neither a name nor "
                                     f"[name, type, meaning]: {spec!r}")
            columns.append(column)
        if entry.get("kind") not in ("table", "view") or not columns:
            raise TransformError(f"{path.name}: {name} needs kind = 'table' or 'view' and columns")
        out.append(Relation(name, entry["kind"], entry["summary"].strip(), entry["grain"].strip(), tuple(columns),
                            entry.get("notes", "").strip()))
    return tuple(out)


def comment_statements(*, present: dict[str, tuple[str, set[str]]] | None = None,
                       schema: str = SCHEMA) -> list[str]:
    """``COMMENT ON`` every relation and column of the catalog. ``present`` maps each relation a target holds to
    the kind it holds it as (``table`` / ``view``) and its columns, and limits the statements to those (a
    relation or column the target lacks is left alone); by default every relation and column, as the catalog
    says. The texts are SQL string literals, so the same statements serve DuckDB and PostgreSQL."""
    out = []
    for relation in relations():
        if present is None:
            kind, columns = relation.kind, {c.name for c in relation.columns}
        elif relation.name in present:
            kind, columns = present[relation.name]
        else:
            continue
        out.append(f'comment on {kind} {schema}."{relation.name}" is {_literal(relation.comment)}')
        out += [f'comment on column {schema}."{relation.name}"."{c.name}" is {_literal(c.meaning)}'
                for c in relation.columns if c.name in columns]
    return out


def apply_comments(con: duckdb.DuckDBPyConnection) -> None:
    """Comment every relation and column of schema ``analytics`` the DuckDB connection has (views lose their
    comments when they are recreated, so each transform comments them again)."""
    present: dict[str, tuple[str, set[str]]] = {}
    for table, table_type, column in con.execute("""
            select t.table_name, t.table_type, c.column_name
            from information_schema.tables as t
            join information_schema.columns as c
              on c.table_catalog = t.table_catalog and c.table_schema = t.table_schema
             and c.table_name = t.table_name
            where t.table_schema = ? and t.table_catalog = current_database()""", [SCHEMA]).fetchall():
        present.setdefault(table, ("view" if table_type == "VIEW" else "table", set()))[1].add(column)
    for statement in comment_statements(present=present):
        con.execute(statement)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# -- docs/warehouse.md ---------------------------------------------------------------------------------------------


def render() -> str:
    out = [BEGIN, ""]
    for relation in relations():
        out += [f"### `{SCHEMA}.{relation.name}` ({relation.kind})", "",
                f"{relation.summary} Grain: {relation.grain}.", "",
                "| column | type | meaning |", "|---|---|---|"]
        out += [f"| `{c.name}` | {c.type} | {_cell(c.meaning)} |" for c in relation.columns]
        out.append("")
        if relation.notes:
            out += [relation.notes, ""]
    out += ["### Campaign status mapping", "",
            "`campaign_performance.status` is the conformed status of the provider's own word "
            "(`dim_campaign.status`), from the seed files in `transforms/seeds/campaign_status/`. A provider status "
            "not listed gives a NULL status and a failing `unmapped_statuses` check (warning).", "",
            "| provider | provider status | status | meaning |", "|---|---|---|---|"]
    out += [f"| {r['provider']} | `{r['provider_status']}` | `{r['status']}` | {r['meaning'] or ''} |"
            for r in read_status_seeds()]
    out += ["", END]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    return docgen.main(DOC, BEGIN, render, "transforms.catalog", argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
