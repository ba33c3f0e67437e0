"""Triggers: what starts executions by itself (schedules and webhooks)."""
