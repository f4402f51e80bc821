"""The providers the loader knows, in the order runs process them.

Each provider package exposes ``SPEC`` in its ``settings`` module; a provider whose package is absent is simply
not offered.
"""

from __future__ import annotations

import importlib

from sources.common.provider import ProviderSpec

PROVIDER_NAMES: tuple[str, ...] = ("greenarrow", "insider", "shoplive", "experiture", "parrot")


def available() -> dict[str, ProviderSpec]:
    """Name -> spec of every provider whose package is installed."""
    specs: dict[str, ProviderSpec] = {}
    for name in PROVIDER_NAMES:
        try:
            module = importlib.import_module(f"sources.{name}.settings")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith(f"sources.{name}"):
                continue
            raise
        specs[name] = module.SPEC
    return specs
