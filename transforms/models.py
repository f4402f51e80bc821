"""The SQL models: discovery under ``transforms/sql``, their headers and kinds, and the order they run in.

Every ``*.sql`` file below the models folder is a model, except in folders whose name starts with ``_``
(``_runner/`` holds the runner's own statements). Its first line names its kind, ``-- materialize: <kind>``;
models that read raw tables name them on a line ``-- inputs: <raw table>, ...``. See docs/architecture.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import CampaignEtlError

SQL_DIR = Path(__file__).parent / "sql"
RUNNER_SQL_DIR = SQL_DIR / "_runner"

#: kind -> what the runner does with the file (docs/architecture.md, "Transforms", has the table)
KINDS = {
    "macro": "executed as written, before every other model",
    "staging": "a temp view of the file's name over the src_<raw table> relation it names as input",
    "intermediate": "a temp view of the file's name over staging views and other intermediates",
    "batch_table": "a temp table of the file's name, rebuilt for each batch of scopes before the facts read it "
                   "(an intermediate read by several models, computed once)",
    "fact": "a temp view of the file's name; its rows replace, per scope, those of staging.fact_rows",
    "quarantine": "a temp view of the file's name; its rows replace, per scope, those of analytics.quarantined_values",
    "dim": "a temp view of the file's name; its campaign observations are merged into analytics.dim_campaign",
    "view": "a full create or replace view statement, executed every transform",
    "table": "statements that create and fill a table, executed every transform",
    "check": "a select of failing rows (provider, detail), run by run_checks after the run log is written",
}
#: kinds applied as a temp view named after the file
VIEW_KINDS = frozenset({"staging", "intermediate", "fact", "quarantine", "dim"})
#: kinds executed as written
STATEMENT_KINDS = frozenset({"macro", "view", "table"})

# Macros first, then the staging views and the intermediates every other model selects from; the rest in path
# order. Path order alone gives the same within transforms/sql; the kinds keep it for any folder layout.
_KIND_ORDER = {"macro": 0, "staging": 1, "intermediate": 2, "batch_table": 3}

_HEADER_RE = re.compile(r"^--\s*materialize:\s*(\w+)")
_INPUTS_RE = re.compile(r"^--\s*inputs:\s*(.+)$", re.MULTILINE)
_SEVERITY_RE = re.compile(r"^--\s*severity:\s*(\w+)", re.MULTILINE)
_APPLIES_TO_RE = re.compile(r"^--\s*applies_to:\s*(.+)$", re.MULTILINE)
_HEADER_LINE_RE = re.compile(r"^--\s*(materialize|severity|applies_to):")
#: a check's severity says what its failure would mean (analytics.data_quality.severity)
SEVERITIES = {
    "critical": "figures are wrong, missing or stale: look before reporting them",
    "warning": "figures are usable; something changed that needs a look (a new field, a new status)",
}


class TransformError(CampaignEtlError):
    """A SQL model failed; the message names the file. The transaction is rolled back."""


@dataclass(frozen=True)
class SqlModel:
    """One model file: ``name`` is the file stem, the relation it creates or fills."""

    path: Path
    name: str
    kind: str
    inputs: tuple[str, ...]
    sql: str

    @property
    def label(self) -> str:
        """``<folder>/<file>``, how errors name the model."""
        return f"{self.path.parent.name}/{self.path.name}"

    @property
    def body(self) -> str:
        """The statement without its comment lines and trailing semicolon, to be wrapped or prefixed."""
        return strip_comments(self.sql)

    @property
    def severity(self) -> str:
        """A check's severity, what a failure would mean: ``-- severity: critical`` or ``warning`` (``SEVERITIES``;
        ``critical`` when not said)."""
        match = _SEVERITY_RE.search(self.sql)
        severity = match.group(1) if match else "critical"
        if severity not in SEVERITIES:
            raise TransformError(f"{self.label}: unknown severity '{severity}' "
                                 f"(one of {', '.join(SEVERITIES)})")
        return severity

    @property
    def applies_to(self) -> str | None:
        """A check's ``-- applies_to: <select of provider names>``: the providers it is listed for (those with
        facts or runs among them), or None when it applies to every provider."""
        match = _APPLIES_TO_RE.search(self.sql)
        return match.group(1).strip().rstrip(";") if match else None

    @property
    def description(self) -> str:
        """What a check verifies: the comment lines after its headers, up to a ``grain:`` line or the SQL."""
        words: list[str] = []
        for line in self.sql.splitlines():
            if _HEADER_LINE_RE.match(line):
                continue
            text = line.strip()
            if not text.startswith("--") or text[2:].strip().startswith("grain:"):
                break
            words.append(text[2:].strip())
        return " ".join(words) or self.name


def load_models(sql_dir: Path = SQL_DIR) -> list[SqlModel]:
    """Every model under ``sql_dir`` in path order; a file without a known ``materialize`` header is refused."""
    models = []
    for path in sorted(sql_dir.rglob("*.sql")):
        if any(part.startswith("_") for part in path.relative_to(sql_dir).parts[:-1]):
            continue
        text = path.read_text()
        header = _HEADER_RE.search(text.split("\n", 1)[0])
        if not header:
            raise ValueError(f"{path.name}: the first line must be '-- materialize: <kind>'")
        kind = header.group(1)
        if kind not in KINDS:
            raise TransformError(f"{path.name}: unknown materialization '{kind}'")
        inputs_match = _INPUTS_RE.search(text)
        inputs = tuple(i.strip() for i in inputs_match.group(1).split(",") if i.strip()) if inputs_match else ()
        models.append(SqlModel(path, path.stem, kind, inputs, text))
    return models


def run_order(model: SqlModel) -> tuple[int, str]:
    """Sort key of the main pass: macros, staging, intermediate, then everything else in path order."""
    return _KIND_ORDER.get(model.kind, len(_KIND_ORDER)), str(model.path)


def needed_inputs(models: list[SqlModel]) -> list[str]:
    """The raw tables the models read, each once, sorted."""
    return sorted({table for model in models for table in model.inputs})


def runner_sql(name: str) -> str:
    """One of the runner's own SQL files (``transforms/sql/_runner/<name>.sql``), comments kept."""
    return (RUNNER_SQL_DIR / f"{name}.sql").read_text()


def strip_comments(sql: str) -> str:
    """``sql`` without its whole-line comments and trailing semicolon."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return "\n".join(lines).strip().rstrip(";")
