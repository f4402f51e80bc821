"""Orchestration: the CLI, the runner, the warehouse and its work area, config, the ledger and reports."""

import os

# Arrow allocates from malloc, not from its own pool, whose arenas keep what the loads freed (tens of MB per load):
# malloc's can be handed back before the transform (pipelines.runner._return_freed_memory). Read when pyarrow is
# first imported, which is below this package.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
