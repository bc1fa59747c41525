"""Built-in tasks (``surrogate.tasks`` entry points)."""
