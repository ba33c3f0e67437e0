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
-- Says so to anyone waiting (NOTIFY, delivered at commit) in the same round trip.
UPDATE workflow_executions SET
  status = %(status)s, output = %(outputs)s, error = %(error)s, finished_at = now(),
  lease_expires_at = NULL
WHERE id = %(id)s AND status = 'running' AND worker_id = %(worker_id)s
  AND attempt = %(execution_attempt)s
RETURNING id, parent_execution_id, pg_notify('flowdeck_finished', id::text)

-- name: notify_finished
SELECT pg_notify('flowdeck_finished', %(id)s::text)

-- name: cancel_running_requested
-- The worker saw the cancel request at a step boundary.
UPDATE workflow_executions SET
  status = 'cancelled', finished_at = now(), lease_expires_at = NULL,
  error = jsonb_build_object('message', 'Cancelled.')
WHERE id = %(id)s AND status = 'running' AND cancel_requested
RETURNING id, parent_execution_id

-- name: heartbeat
UPDATE workflow_executions SET lease_expires_at = now() + %(lease)s
WHERE id = ANY(%(ids)s) AND status = 'running' AND worker_id = %(worker_id)s

-- name: release
-- At shutdown, or when a sibling stalled the worker (ids NULL: all it held): give back
-- what this worker could not finish through no fault of its own; not a crash. A cancel
-- asked for wins.
UPDATE workflow_executions SET
  status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'queued' END,
  finished_at = CASE WHEN cancel_requested THEN now() ELSE finished_at END,
  error = CASE WHEN cancel_requested THEN jsonb_build_object('message', 'Cancelled.')
               ELSE error END,
  worker_id = NULL, lease_expires_at = NULL
WHERE status = 'running' AND worker_id = %(worker_id)s
  AND (%(ids)s::uuid[] IS NULL OR id = ANY(%(ids)s))
RETURNING id, status, parent_execution_id

-- name: rescue
-- Running executions whose worker stopped renewing the lease: a crash each (requeued,
-- or ended at the crash limit; see flowdeck_record_crash).
SELECT crashed.* FROM (
  SELECT id FROM workflow_executions
  WHERE status = 'running' AND lease_expires_at < now()
  ORDER BY lease_expires_at
  LIMIT 100
  FOR UPDATE SKIP LOCKED
) expired, LATERAL flowdeck_record_crash(
  expired.id, 'its worker stopped renewing the lease (killed, or out of memory)',
  %(crash_limit)s
) crashed

-- name: crash
-- A worker's own code raised while running the execution (id and attempt given), or a
-- supervisor's worker stalled outside any expression (id NULL: every execution it held
-- counts a crash; the innocent ones' count starts again with their next finished step).
SELECT crashed.* FROM (
  SELECT id FROM workflow_executions
  WHERE status = 'running' AND worker_id = %(worker_id)s
    AND (%(id)s::uuid IS NULL OR (id = %(id)s AND attempt = %(execution_attempt)s))
  FOR UPDATE
) held, LATERAL flowdeck_record_crash(held.id, %(reason)s, %(crash_limit)s) crashed

-- name: fail_stalled
-- The step that held a supervised worker's event loop past its limit fails, and so does
-- its execution (run again, it would hold the next worker the same way).
WITH ended AS (
  UPDATE workflow_executions SET
    status = 'failed', finished_at = now(), lease_expires_at = NULL, error = %(error)s
  WHERE id = %(id)s AND status = 'running' AND worker_id = %(worker_id)s
  RETURNING id, parent_execution_id, pg_notify('flowdeck_finished', id::text)
), step AS (
  INSERT INTO workflow_execution_steps
    (execution_id, path, step_id, step_type, status, attempt, error, started_at, finished_at)
  SELECT id, %(path)s, %(step_id)s, %(step_type)s, 'failed', 1, %(error)s, now(), now()
  FROM ended
  ON CONFLICT (execution_id, path) DO UPDATE SET
    status = 'failed', error = EXCLUDED.error, finished_at = EXCLUDED.finished_at
)
SELECT id, parent_execution_id FROM ended

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

-- --- durable waiting: delay, wait (signals), workflow (child executions) -----------------
-- A waiting execution holds no worker. It goes back to the queue (waiting -> queued) when
-- its timer is due (wake_due), when a signal or a child it waits for arrives (wake_ready_one,
-- wake_parent), and nothing else; cancel ends it at once.

-- name: step_suspend
-- The step waits: its output keeps what it waits for (a time, a signal, a child), so a
-- replay re-enters it, and wake_ready_one can tell what would wake the execution.
INSERT INTO workflow_execution_steps
  (execution_id, path, step_id, step_type, status, attempt, output, started_at)
SELECT %(id)s, %(path)s, %(step_id)s, %(step_type)s, 'waiting', %(attempt)s, %(output)s,
       %(started_at)s
WHERE EXISTS (
  SELECT 1 FROM workflow_executions
  WHERE id = %(id)s AND status = 'running' AND worker_id = %(worker_id)s
    AND attempt = %(execution_attempt)s AND NOT cancel_requested
)
ON CONFLICT (execution_id, path) DO UPDATE SET
  status = 'waiting', attempt = EXCLUDED.attempt, output = EXCLUDED.output, finished_at = NULL
RETURNING id

-- name: suspend
-- running -> waiting, by the worker that holds the lease; the timer (scheduled_at) is
-- NULL when only a signal or a child can wake it. A cancel asked for meanwhile wins.
UPDATE workflow_executions SET
  status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'waiting' END,
  scheduled_at = CASE WHEN cancel_requested THEN scheduled_at ELSE %(until)s END,
  finished_at = CASE WHEN cancel_requested THEN now() ELSE finished_at END,
  error = CASE WHEN cancel_requested THEN jsonb_build_object('message', 'Cancelled.')
               ELSE error END,
  worker_id = NULL, lease_expires_at = NULL
WHERE id = %(id)s AND status = 'running' AND worker_id = %(worker_id)s
  AND attempt = %(execution_attempt)s
RETURNING status, parent_execution_id

-- name: wake_due
-- Waiting executions whose timer is due go back to the queue.
UPDATE workflow_executions SET status = 'queued', scheduled_at = now()
WHERE id IN (
  SELECT id FROM workflow_executions
  WHERE status = 'waiting' AND scheduled_at <= now()
  ORDER BY scheduled_at
  LIMIT 100
  FOR UPDATE SKIP LOCKED
) AND status = 'waiting'
RETURNING id

-- name: wake_ready_one
-- Waiting executions go back to the queue when a step of theirs waits for a signal that
-- has arrived, or for a child that has ended: the one given (id), run after every change
-- that may wake it (a signal kept, a suspend committed) so that a wake-up that raced a
-- suspend is not lost; or (id NULL) any, a few at a time: the rescuer's safety net for a
-- wake-up nobody sent (a child cancelled through the API while queued or waiting).
-- A row another transaction holds is waited for, not skipped: the signals route then
-- sees the suspend that was committing and answers `delivered` as it happened; rows are
-- taken in id order, so two rescuers never wait for each other in a circle.
UPDATE workflow_executions SET status = 'queued', scheduled_at = now()
WHERE id IN (
  SELECT e.id FROM workflow_executions e
  WHERE e.status = 'waiting' AND (%(id)s::uuid IS NULL OR e.id = %(id)s) AND EXISTS (
    SELECT 1 FROM workflow_execution_steps s
    WHERE s.execution_id = e.id AND s.status = 'waiting' AND (
      (s.step_type = 'wait' AND EXISTS (
        SELECT 1 FROM execution_signals g
        WHERE g.execution_id = e.id AND g.name = s.output->>'signal' AND g.consumed_at IS NULL))
      OR (s.step_type = 'workflow' AND EXISTS (
        SELECT 1 FROM workflow_executions c
        WHERE c.id = (s.output->>'child')::uuid
          AND c.status IN ('succeeded', 'failed', 'cancelled', 'skipped')))
    )
  )
  ORDER BY e.id
  LIMIT 100
  FOR UPDATE
) AND status = 'waiting'
RETURNING id

-- name: lock_parent
-- Taken in the transaction that ends a child, before wake_parent: a parent that is still
-- running cannot commit its suspend until the child's end is visible, so the wake-up
-- check that follows its suspend (wake_ready_one) sees the child ended.
SELECT p.id FROM workflow_executions p
JOIN workflow_executions c ON p.id = c.parent_execution_id
WHERE c.id = %(child_id)s
FOR UPDATE OF p

-- name: wake_parent
UPDATE workflow_executions p SET status = 'queued', scheduled_at = now()
FROM workflow_executions c
WHERE c.id = %(child_id)s AND p.id = c.parent_execution_id AND p.status = 'waiting'
RETURNING p.id

-- name: add_signal
-- Kept only for an execution of this user that has not ended.
INSERT INTO execution_signals (execution_id, name, payload)
SELECT id, %(name)s, %(payload)s FROM workflow_executions
WHERE id = %(id)s AND user_id = %(user_id)s AND status IN ('queued', 'running', 'waiting')
RETURNING id

-- name: take_signal
-- The signal this step took before (a replay), else the oldest one of its name nobody
-- took, marked as taken by this step: each signal is taken once. Only while this worker
-- holds the execution.
WITH mine AS (
  SELECT payload FROM execution_signals
  WHERE execution_id = %(id)s AND name = %(name)s AND consumed_by_path = %(path)s
), held AS (
  SELECT 1 FROM workflow_executions
  WHERE id = %(id)s AND status = 'running' AND worker_id = %(worker_id)s
    AND attempt = %(execution_attempt)s
), taken AS (
  UPDATE execution_signals SET consumed_at = now(), consumed_by_path = %(path)s
  WHERE id = (
    SELECT id FROM execution_signals
    WHERE execution_id = %(id)s AND name = %(name)s AND consumed_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM mine) AND EXISTS (SELECT 1 FROM held)
    ORDER BY created_at, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
  )
  RETURNING payload
)
SELECT payload FROM mine UNION ALL SELECT payload FROM taken

-- name: child_workflow
-- The workflow a `workflow` step names: one of the user's, by id or by name.
SELECT id, id::text = %(ref)s AS by_id FROM user_workflows
WHERE user_id = %(user_id)s AND (id::text = %(ref)s OR name = %(ref)s)
ORDER BY by_id DESC, created_at
LIMIT 3

-- name: child_state
SELECT status, output, error FROM workflow_executions WHERE id = %(id)s

-- name: notify_waiting
-- For whoever watches an execution park (tests wait on it instead of polling).
SELECT pg_notify('flowdeck_waiting', %(id)s::text)
