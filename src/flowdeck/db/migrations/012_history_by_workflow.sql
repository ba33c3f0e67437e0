-- One workflow's history, newest first: the workflow page's recent runs, the status of
-- each workflow's last run on /workflows, and GET /api/executions?workflow_id=… read
-- this instead of sorting every execution the workflow ever had.
CREATE INDEX IF NOT EXISTS idx_workflow_executions_workflow_history
  ON workflow_executions (user_workflow_id, created_at DESC, id DESC);
