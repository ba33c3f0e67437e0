-- The execution engine: what an execution runs (a snapshot of its definition), where it
-- is in its life (status, attempt, lease), where it came from (trigger, parent, retry),
-- and one row per step path with that step's result.

ALTER TABLE workflow_executions ALTER COLUMN status SET DEFAULT 'queued';
ALTER TABLE workflow_executions ADD COLUMN IF NOT EXISTS trigger VARCHAR(20) NOT NULL DEFAULT 'api';
ALTER TABLE workflow_executions ADD COLUMN IF NOT EXISTS definition JSONB;
ALTER TABLE workflow_executions ADD COLUMN IF NOT EXISTS config JSONB NOT NULL DEFAULT '{}';
ALTER TABLE workflow_executions ADD COLUMN IF NOT EXISTS priority SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE workflow_executions ADD COLUMN IF NOT EXISTS attempt INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workflow_executions ADD COLUMN IF NOT EXISTS scheduled_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE workflow_executions ADD COLUMN IF NOT EXISTS lease_expires_at TIMESTAMP WITH TIME ZONE;
ALTER TABLE workflow_executions ADD COLUMN IF NOT EXISTS worker_id VARCHAR(100);
ALTER TABLE workflow_executions ADD COLUMN IF NOT EXISTS parent_execution_id UUID REFERENCES workflow_executions(id) ON DELETE SET NULL;
ALTER TABLE workflow_executions ADD COLUMN IF NOT EXISTS retry_of UUID REFERENCES workflow_executions(id) ON DELETE SET NULL;
ALTER TABLE workflow_executions ADD COLUMN IF NOT EXISTS idempotency_key VARCHAR(255);
ALTER TABLE workflow_executions ADD COLUMN IF NOT EXISTS cancel_requested BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE workflow_executions ADD COLUMN IF NOT EXISTS deadline_at TIMESTAMP WITH TIME ZONE;
ALTER TABLE workflow_executions ADD COLUMN IF NOT EXISTS updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- The legacy application's statuses, mapped onto the engine's. Rows it left pending or
-- running cannot be resumed (no definition was recorded), so they end as cancelled,
-- saying why; every row is kept.
UPDATE workflow_executions SET
  error = CASE WHEN status IN ('pending', 'running', 'queued', 'waiting')
    THEN jsonb_build_object('message', 'Interrupted by the upgrade to Flowdeck: it was ' || status
                                       || ' and recorded no definition to resume from.')
    ELSE error END,
  status = CASE status
    WHEN 'completed' THEN 'succeeded'
    WHEN 'success' THEN 'succeeded'
    WHEN 'pending' THEN 'cancelled'
    WHEN 'running' THEN 'cancelled'
    WHEN 'queued' THEN 'cancelled'
    WHEN 'waiting' THEN 'cancelled'
    WHEN 'error' THEN 'failed'
    ELSE 'failed' END
WHERE status NOT IN ('queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled', 'skipped')
   OR (status IN ('queued', 'running', 'waiting') AND definition IS NULL);

ALTER TABLE workflow_executions DROP CONSTRAINT IF EXISTS workflow_executions_status_check;
ALTER TABLE workflow_executions ADD CONSTRAINT workflow_executions_status_check CHECK (
  status IN ('queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled', 'skipped')
);
ALTER TABLE workflow_executions DROP CONSTRAINT IF EXISTS workflow_executions_trigger_check;
ALTER TABLE workflow_executions ADD CONSTRAINT workflow_executions_trigger_check CHECK (
  trigger IN ('manual', 'api', 'schedule', 'webhook', 'workflow')
);

DROP TRIGGER IF EXISTS update_workflow_executions_updated_at ON workflow_executions;
CREATE TRIGGER update_workflow_executions_updated_at BEFORE UPDATE ON workflow_executions
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- The same Idempotency-Key from the same user means the same execution.
CREATE UNIQUE INDEX IF NOT EXISTS idx_workflow_executions_idempotency
  ON workflow_executions (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- Claiming: due queued executions, most urgent (lowest priority number) first.
CREATE INDEX IF NOT EXISTS idx_workflow_executions_claim
  ON workflow_executions (priority, scheduled_at, id) WHERE status = 'queued';
-- The rescuer: running executions whose lease expired.
CREATE INDEX IF NOT EXISTS idx_workflow_executions_lease
  ON workflow_executions (lease_expires_at) WHERE status = 'running';
-- Retention: finished executions by age.
CREATE INDEX IF NOT EXISTS idx_workflow_executions_finished
  ON workflow_executions (finished_at)
  WHERE status IN ('succeeded', 'failed', 'cancelled', 'skipped');
-- History, newest first.
CREATE INDEX IF NOT EXISTS idx_workflow_executions_history
  ON workflow_executions (user_id, created_at DESC, id DESC);

CREATE TABLE IF NOT EXISTS workflow_execution_steps (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  execution_id UUID NOT NULL REFERENCES workflow_executions(id) ON DELETE CASCADE,
  path VARCHAR(1000) NOT NULL,
  step_id VARCHAR(255) NOT NULL,
  step_type VARCHAR(20) NOT NULL,
  status VARCHAR(20) NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped', 'waiting')),
  attempt INTEGER NOT NULL DEFAULT 0,
  output JSONB,
  error JSONB,
  logs JSONB NOT NULL DEFAULT '[]',
  started_at TIMESTAMP WITH TIME ZONE,
  finished_at TIMESTAMP WITH TIME ZONE,
  UNIQUE (execution_id, path)
);
