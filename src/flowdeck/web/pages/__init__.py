"""The pages, one module per area (auth, workflows, templates, executions)."""
