"""The execution runtime: the runner (replay, run, record), the worker and its supervisor,
the journal, starting executions, events, retention, the step types' code (steps/)."""
