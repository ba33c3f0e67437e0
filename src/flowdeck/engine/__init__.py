"""The execution engine: definitions, expressions, durations (and, later, the runner)."""
