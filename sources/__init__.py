"""dlt sources, one package per provider, over the shared layer in ``sources.common``."""
