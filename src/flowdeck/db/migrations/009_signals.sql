-- Durable waiting: signals sent to executions (the `wait` step), and timers on waiting
-- executions (the `delay` step, a wait's timeout).

-- A signal is kept until a `wait` step for its name takes it. A step takes one signal
-- and the same signal is taken once: consumed_by_path is the path of the step that took
-- it, unique per (execution, name), so a replayed step finds the signal it took before.
CREATE TABLE IF NOT EXISTS execution_signals (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  execution_id UUID NOT NULL REFERENCES workflow_executions(id) ON DELETE CASCADE,
  name VARCHAR(255) NOT NULL,
  payload JSONB,
  created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
  consumed_at TIMESTAMP WITH TIME ZONE,
  consumed_by_path VARCHAR(1000),
  UNIQUE (execution_id, name, consumed_by_path)
);
-- A wait step looks for the oldest signal of its name that nobody took.
CREATE INDEX IF NOT EXISTS idx_execution_signals_pending
  ON execution_signals (execution_id, name, created_at) WHERE consumed_at IS NULL;

-- A waiting execution's scheduled_at is its timer: when it goes back to the queue. A wait
-- for a signal or a child with no timeout has no timer, hence NULL.
ALTER TABLE workflow_executions ALTER COLUMN scheduled_at DROP NOT NULL;
-- Waking: waiting executions whose timer is due.
CREATE INDEX IF NOT EXISTS idx_workflow_executions_timer
  ON workflow_executions (scheduled_at) WHERE status = 'waiting';
-- Waking a parent when its child ends.
CREATE INDEX IF NOT EXISTS idx_workflow_executions_parent
  ON workflow_executions (parent_execution_id) WHERE parent_execution_id IS NOT NULL;
