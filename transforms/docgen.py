"""Generated parts of the docs: a block between two markers, rewritten from data (the metric dictionary, the
analytics catalog) and checked in the tests, so the docs never drift from what the transforms use."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

END = "<!-- END GENERATED -->"


def updated(text: str, begin: str, block: str) -> str:
    """``text`` with the block from ``begin`` to the end marker replaced by ``block`` (appended if absent);
    ``block`` starts with ``begin`` and ends with ``END``."""
    if begin not in text or END not in text.split(begin, 1)[-1]:
        return text.rstrip() + "\n\n" + block + "\n"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(END, 1)
    return head + block + tail


def main(doc: Path, begin: str, render: Callable[[], str], module: str, argv: list[str]) -> int:
    """Rewrite ``doc``'s generated block; with ``--check``, exit 1 when it is out of date instead."""
    text = doc.read_text()
    new = updated(text, begin, render())
    if "--check" in argv:
        if new != text:
            print(f"docs/{doc.name} is out of date: run python -m {module}", file=sys.stderr)
            return 1
        return 0
    doc.write_text(new)
    return 0
