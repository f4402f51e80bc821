"""The providers the loader knows, in the order runs process them: the one list of them (the contract's slugs).

``sources.registry`` finds each one's package, ``simulators.registry`` its simulator, the transforms order their
outputs by it.
"""

from __future__ import annotations

PROVIDER_NAMES: tuple[str, ...] = ("greenarrow", "insider", "shoplive", "experiture", "parrot")
