"""Orchestrator integrations: Dagster definitions (``orchestration.definitions``, extra ``[dagster]``)."""
