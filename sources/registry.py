"""The provider packages of the loader, found by the one provider list (``core.providers``).

Each provider package (``sources/<name>/``) exposes ``SPEC``, its extraction ``<name>_rows`` and the dlt source
``<name>_source`` that wraps it; a provider whose
package is absent is simply not offered. The simulators (``simulators.registry``) and the CLI read this list.
"""

from __future__ import annotations

import dataclasses
import importlib

from core.providers import PROVIDER_NAMES
from sources.common.provider import ProviderSpec

__all__ = ["PROVIDER_NAMES", "available"]


def available() -> dict[str, ProviderSpec]:
    """Name -> spec (with its dlt source attached) of every provider whose package is installed."""
    specs: dict[str, ProviderSpec] = {}
    for name in PROVIDER_NAMES:
        try:
            module = importlib.import_module(f"sources.{name}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith(f"sources.{name}"):
                continue
            raise
        specs[name] = dataclasses.replace(module.SPEC, source=getattr(module, f"{name}_source"),
                                          rows=getattr(module, f"{name}_rows"))
    return specs
