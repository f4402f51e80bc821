"""The simulators ``campaign-etl demo`` starts: provider -> module exposing ``demo(now)``.

``demo(now)`` returns ``(app, config)``: the ``SimApp`` to serve and a function from the served base URL to the
environment variables (``SOURCES__<PROVIDER>__...``) that point the loader at it, credentials included. The app
answers as of ``now`` until ``advance_to(moment)`` moves it to an earlier moment (``simulators.base.SimApp``): the
demo loads its nights with it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from core.providers import PROVIDER_NAMES


def available() -> dict[str, Callable[..., Any]]:
    found: dict[str, Callable[..., Any]] = {}
    for name in PROVIDER_NAMES:  # one simulator per provider, under the same name
        try:
            module = importlib.import_module(f"simulators.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"simulators.{name}":
                continue
            raise
        if hasattr(module, "demo"):
            found[name] = module.demo
    return found
