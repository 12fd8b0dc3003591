"""Orchestration: the ``reelrank`` CLI, the demo and Prefect flows."""
