-- The execution engine's queries. Every change of status is guarded by the status it
-- expects (and, for a running execution, by the worker and attempt that hold it): zero
-- rows means another process got there first, never an error.

-- name: insert
-- Idempotency: the same key from the same user returns nothing here, and the caller
-- reads the existing execution instead.
INSERT INTO workflow_executions
  (user_id, user_workflow_id, template_id, status, trigger, definition, input, config,
   priority, scheduled_at, idempotency_key, parent_execution_id, retry_of, deadline_at)
VALUES
  (%(user_id)s, %(user_workflow_id)s, %(template_id)s, 'queued', %(trigger)s, %(definition)s,
   %(inputs)s, %(config)s, %(priority)s, now(), %(idempotency_key)s, %(parent_execution_id)s,
   %(retry_of)s, now() + %(timeout)s)
ON CONFLICT (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING id

-- name: by_idempotency_key
SELECT id FROM workflow_executions WHERE user_id = %(user_id)s AND idempotency_key = %(key)s

-- name: count_workflow_use
UPDATE user_workflows SET execution_count = execution_count + 1, last_used = now()
WHERE id = %(id)s

-- name: count_template_use
UPDATE workflow_templates SET usage_count = usage_count + 1 WHERE id = %(id)s

-- name: notify_queued
-- Delivered at commit: workers wake as soon as the execution can be claimed.
SELECT pg_notify('flowdeck_queued', '')

-- name: claim
-- Due queued executions, most urgent first; SKIP LOCKED lets any number of workers
-- claim at once without waiting on each other or taking the same row.
WITH due AS (
  SELECT id FROM workflow_executions
  WHERE status = 'queued' AND scheduled_at <= now()
  ORDER BY priority, scheduled_at, id
  LIMIT %(limit)s
  FOR UPDATE SKIP LOCKED
)
UPDATE workflow_executions e SET
  status = 'running', worker_id = %(worker_id)s, attempt = e.attempt + 1,
  lease_expires_at = now() + %(lease)s, started_at = coalesce(e.started_at, now())
FROM due WHERE e.id = due.id
RETURNING e.id, e.user_id, e.user_workflow_id, e.template_id, e.definition, e.input,
          e.config, e.attempt, e.trigger, e.deadline_at, e.retry_of

-- name: recorded_steps
SELECT path, status, output, error, attempt, started_at, finished_at, logs
FROM workflow_execution_steps WHERE execution_id = %(id)s

-- name: step_begin
-- Only while this worker still holds the execution and nobody asked to cancel it.
INSERT INTO workflow_execution_steps
  (execution_id, path, step_id, step_type, status, attempt, started_at)
SELECT %(id)s, %(path)s, %(step_id)s, %(step_type)s, 'running', %(attempt)s, now()
WHERE EXISTS (
  SELECT 1 FROM workflow_executions
  WHERE id = %(id)s AND status = 'running' AND worker_id = %(worker_id)s
    AND attempt = %(execution_attempt)s AND NOT cancel_requested
)
ON CONFLICT (execution_id, path) DO UPDATE SET
  status = 'running', attempt = EXCLUDED.attempt,
  started_at = coalesce(workflow_execution_steps.started_at, EXCLUDED.started_at)
RETURNING id

-- name: step_finish
INSERT INTO workflow_execution_steps
  (execution_id, path, step_id, step_type, status, attempt, output, error, logs, started_at,
   finished_at)
SELECT %(id)s, %(path)s, %(step_id)s, %(step_type)s, %(status)s, %(attempt)s, %(output)s,
       %(error)s, %(logs)s, %(started_at)s, now()
WHERE EXISTS (
  SELECT 1 FROM workflow_executions
  WHERE id = %(id)s AND status = 'running' AND worker_id = %(worker_id)s
    AND attempt = %(execution_attempt)s AND NOT cancel_requested
)
ON CONFLICT (execution_id, path) DO UPDATE SET
  status = EXCLUDED.status, attempt = EXCLUDED.attempt, output = EXCLUDED.output,
  error = EXCLUDED.error, logs = workflow_execution_steps.logs || EXCLUDED.logs,
  finished_at = EXCLUDED.finished_at
RETURNING id

-- name: why_interrupted
SELECT status, cancel_requested, worker_id, attempt FROM workflow_executions WHERE id = %(id)s

-- name: finish
UPDATE workflow_executions SET
  status = %(status)s, output = %(outputs)s, error = %(error)s, finished_at = now(),
  lease_expires_at = NULL
WHERE id = %(id)s AND status = 'running' AND worker_id = %(worker_id)s
  AND attempt = %(execution_attempt)s
RETURNING id, parent_execution_id

-- name: notify_finished
SELECT pg_notify('flowdeck_finished', %(id)s::text)

-- name: cancel_running_requested
-- The worker saw the cancel request at a step boundary.
UPDATE workflow_executions SET
  status = 'cancelled', finished_at = now(), lease_expires_at = NULL,
  error = jsonb_build_object('message', 'Cancelled.')
WHERE id = %(id)s AND status = 'running' AND cancel_requested
RETURNING id

-- name: heartbeat
UPDATE workflow_executions SET lease_expires_at = now() + %(lease)s
WHERE id = ANY(%(ids)s) AND status = 'running' AND worker_id = %(worker_id)s

-- name: release
-- At shutdown: give back what this worker could not finish within the grace period.
UPDATE workflow_executions SET status = 'queued', worker_id = NULL, lease_expires_at = NULL
WHERE id = ANY(%(ids)s) AND status = 'running' AND worker_id = %(worker_id)s
RETURNING id

-- name: rescue
-- Running executions whose worker stopped renewing the lease go back to the queue.
UPDATE workflow_executions SET status = 'queued', worker_id = NULL, lease_expires_at = NULL
WHERE id IN (
  SELECT id FROM workflow_executions
  WHERE status = 'running' AND lease_expires_at < now()
  ORDER BY lease_expires_at
  LIMIT 100
  FOR UPDATE SKIP LOCKED
)
RETURNING id

-- name: cancel
-- Queued or waiting: cancelled at once. Running: asked to stop at the next step boundary.
UPDATE workflow_executions SET
  cancel_requested = true,
  status = CASE WHEN status IN ('queued', 'waiting') THEN 'cancelled' ELSE status END,
  finished_at = CASE WHEN status IN ('queued', 'waiting') THEN now() ELSE finished_at END,
  error = CASE WHEN status IN ('queued', 'waiting')
               THEN jsonb_build_object('message', 'Cancelled.') ELSE error END
WHERE id = %(id)s AND user_id = %(user_id)s AND status IN ('queued', 'waiting', 'running')
RETURNING id, status

-- name: get
SELECT id, user_id, user_workflow_id, template_id, status, trigger, input AS inputs,
       output AS outputs, error, priority, attempt, created_at, started_at, finished_at,
       scheduled_at, parent_execution_id, retry_of, idempotency_key, cancel_requested,
       updated_at
FROM workflow_executions WHERE id = %(id)s AND user_id = %(user_id)s

-- name: steps
SELECT path, step_id, step_type, status, attempt, output, error, logs, started_at, finished_at
FROM workflow_execution_steps WHERE execution_id = %(id)s
ORDER BY started_at NULLS LAST, path

-- name: list
SELECT id, user_workflow_id, template_id, status, trigger, error, attempt, created_at,
       started_at, finished_at, retry_of, parent_execution_id
FROM workflow_executions
WHERE user_id = %(user_id)s
  AND (%(status)s::text IS NULL OR status = %(status)s)
  AND (%(workflow_id)s::uuid IS NULL OR user_workflow_id = %(workflow_id)s)
  AND (%(template_id)s::text IS NULL OR template_id = %(template_id)s)
  AND (%(trigger)s::text IS NULL OR trigger = %(trigger)s)
  AND (%(since)s::timestamptz IS NULL OR created_at >= %(since)s)
  AND (%(until)s::timestamptz IS NULL OR created_at < %(until)s)
  AND (%(after_id)s::uuid IS NULL
       OR (created_at, id) < (%(after_created)s::timestamptz, %(after_id)s::uuid))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s
