"""Pipelines: one per task, turning a recipe into live objects, running the engine, returning a result."""
