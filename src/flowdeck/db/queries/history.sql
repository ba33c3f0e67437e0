-- Executions after the fact: retry and rerun sources, retention, and what the event
-- stream reads.

-- name: source
SELECT id, user_id, user_workflow_id, template_id, status, trigger, definition, input, config,
       priority
FROM workflow_executions WHERE id = %(id)s AND user_id = %(user_id)s

-- name: insert_retry
-- A retry runs the same snapshot with the same inputs, as a new execution.
INSERT INTO workflow_executions
  (user_id, user_workflow_id, template_id, status, trigger, definition, input, config,
   priority, retry_of)
SELECT user_id, user_workflow_id, template_id, 'queued', trigger, definition, input, config,
       priority, id
FROM workflow_executions WHERE id = %(id)s
RETURNING id

-- name: copy_succeeded_steps
-- The steps that succeeded are not run again: the retry replays their recorded results.
INSERT INTO workflow_execution_steps
  (execution_id, path, step_id, step_type, status, attempt, output, error, logs, started_at,
   finished_at)
SELECT %(new_id)s, path, step_id, step_type, status, attempt, output, error, logs, started_at,
       finished_at
FROM workflow_execution_steps
WHERE execution_id = %(old_id)s AND status IN ('succeeded', 'skipped')

-- name: snapshot
-- What the event stream compares between two looks.
SELECT e.status, e.error, e.output, e.finished_at,
       coalesce(jsonb_agg(jsonb_build_object(
         'path', s.path, 'step_type', s.step_type, 'status', s.status, 'attempt', s.attempt,
         'error', s.error, 'started_at', s.started_at, 'finished_at', s.finished_at)
         ORDER BY s.started_at NULLS LAST, s.path) FILTER (WHERE s.id IS NOT NULL), '[]') AS steps
FROM workflow_executions e
LEFT JOIN workflow_execution_steps s ON s.execution_id = e.id
WHERE e.id = %(id)s AND e.user_id = %(user_id)s
GROUP BY e.id

-- name: delete_expired
-- Retention: finished executions older than the cutoff, a batch at a time (their steps
-- go with them by cascade); a child keeps running if its parent is deleted.
DELETE FROM workflow_executions WHERE id IN (
  SELECT id FROM workflow_executions
  WHERE status IN ('succeeded', 'failed', 'cancelled', 'skipped')
    AND finished_at < now() - %(retention)s
  ORDER BY finished_at
  LIMIT %(batch)s
  FOR UPDATE SKIP LOCKED
)
