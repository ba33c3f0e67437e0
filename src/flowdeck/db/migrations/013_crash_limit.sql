-- Every execution ends: a crash counter apart from `attempt`. An execution whose worker
-- dies (its lease expires) or raises unexpectedly counts a crash; crashes in a row with no
-- step finished in between are counted against FLOWDECK_STEP_CRASH_LIMIT, and at the limit
-- the execution ends `failed`, naming the step it was stuck in, instead of going round
-- for ever. A finished step between two crashes starts the count again.

ALTER TABLE workflow_executions ADD COLUMN IF NOT EXISTS crash_count INTEGER NOT NULL DEFAULT 0;
-- How many steps had finished at the last crash: the same number at the next one means
-- that no progress was made in between.
ALTER TABLE workflow_executions ADD COLUMN IF NOT EXISTS crash_progress INTEGER;

-- One running execution lost its worker: requeue it, or end it. A cancel asked for always
-- wins over a requeue. Called by the rescuer (lease expired), by a worker whose code
-- raised unexpectedly, and by a supervisor whose worker stalled; the caller holds the
-- row's lock or guards it by worker and attempt. Returns the row when it changed.
CREATE OR REPLACE FUNCTION flowdeck_record_crash(crashed UUID, reason TEXT, crash_limit INTEGER)
RETURNS TABLE (id UUID, status TEXT, parent_execution_id UUID) AS $$
  WITH position AS (
    SELECT
      (SELECT count(*) FROM workflow_execution_steps s
       WHERE s.execution_id = crashed AND s.status IN ('succeeded', 'failed', 'skipped'))::INTEGER
        AS finished,
      (SELECT s.path FROM workflow_execution_steps s
       WHERE s.execution_id = crashed AND s.status = 'running'
       ORDER BY s.started_at DESC NULLS LAST LIMIT 1) AS step
  ), counted AS (
    SELECT e.id, p.finished, p.step,
           CASE WHEN e.crash_progress = p.finished THEN e.crash_count + 1 ELSE 1 END AS crashes
    FROM workflow_executions e, position p
    WHERE e.id = crashed AND e.status = 'running'
  )
  UPDATE workflow_executions e SET
    crash_count = c.crashes,
    crash_progress = c.finished,
    status = CASE WHEN e.cancel_requested THEN 'cancelled'
                  WHEN c.crashes >= crash_limit THEN 'failed'
                  ELSE 'queued' END,
    finished_at = CASE WHEN e.cancel_requested OR c.crashes >= crash_limit THEN now()
                       ELSE e.finished_at END,
    error = CASE
      WHEN e.cancel_requested THEN jsonb_build_object('message', 'Cancelled.')
      WHEN c.crashes >= crash_limit THEN jsonb_build_object(
        'message',
        format('%s lost its worker %s times in a row without finishing '
               '(the limit is %s, FLOWDECK_STEP_CRASH_LIMIT); the last time %s',
               coalesce(format('step %s', c.step), 'the execution'), c.crashes, crash_limit,
               reason),
        'step', c.step,
        'crashes', c.crashes)
      ELSE e.error END,
    worker_id = NULL,
    lease_expires_at = NULL
  FROM counted c
  WHERE e.id = c.id
  RETURNING e.id, e.status::TEXT, e.parent_execution_id
$$ LANGUAGE sql;
