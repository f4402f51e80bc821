"""The metric dictionary as documentation: renders the seed into docs/metrics.md.

    .venv/bin/python -m transforms.dictionary          # rewrite the generated part of docs/metrics.md
    .venv/bin/python -m transforms.dictionary --check  # exit 1 when docs/metrics.md is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

from core.providers import PROVIDER_NAMES
from transforms import docgen
from transforms.docgen import END
from transforms.seeds import read_seeds

DOC = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"
BEGIN = "<!-- BEGIN GENERATED: python -m transforms.dictionary -->"
ORDER = PROVIDER_NAMES


def render() -> str:
    rows = read_seeds()
    providers = sorted({str(r["provider"]) for r in rows}, key=lambda p: (ORDER.index(p) if p in ORDER else 99, p))
    out = [BEGIN, ""]
    for provider in providers:
        out += [f"### {provider}", "",
                "| source field | metric | conformed_metric | unit | aggregation | meaning |",
                "|---|---|---|---|---|---|"]
        for r in rows:
            if r["provider"] != provider:
                continue
            cells = [f"`{r['source_field']}`" if r["source_field"] else "", f"`{r['metric']}`",
                     f"`{r['conformed_metric']}`" if r["conformed_metric"] else "(provider-only)",
                     r["unit"] or "", r["aggregation"] or "", (r["meaning"] or "").replace("|", "\\|")]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    out.append(END)
    return "\n".join(out)


def updated(text: str) -> str:
    return docgen.updated(text, BEGIN, render())


def main(argv: list[str]) -> int:
    return docgen.main(DOC, BEGIN, render, "transforms.dictionary", argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
