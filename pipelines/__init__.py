"""Orchestration: the CLI, the runner, the warehouse and its work area, config, the ledger and reports."""

import contextlib
import ctypes
import os

# Arrow allocates from malloc, not from its own pool, whose arenas keep what the loads freed (tens of MB per load):
# malloc's can be handed back before the transform (pipelines.runner._return_freed_memory). Read when pyarrow is
# first imported, which is below this package.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

# glibc gives a thread that allocates while the other arenas are busy an arena of its own, up to eight per core,
# and what the HTTP threads freed stays spread over them, in pieces no trim can hand back: with two arenas the
# peak of a 20,000-campaign backfill is about 50 MB lower (bench/scale.py), its time unchanged. It applies to the
# arenas made from now on, so it is set here, before any thread starts. Not glibc: nothing to do.
_M_ARENA_MAX = -8
with contextlib.suppress(OSError, AttributeError):
    ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, 2)
