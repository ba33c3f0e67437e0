-- Triggers: what starts executions by itself. A schedule (5-field cron in an IANA time
-- zone) or a webhook (POST /hooks/{token}); deleted with their workflow.
CREATE TABLE IF NOT EXISTS workflow_triggers (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  user_workflow_id UUID NOT NULL REFERENCES user_workflows(id) ON DELETE CASCADE,
  user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  type VARCHAR(20) NOT NULL CHECK (type IN ('schedule', 'webhook')),
  inputs JSONB NOT NULL DEFAULT '{}',
  is_active BOOLEAN NOT NULL DEFAULT true,
  -- schedule
  cron VARCHAR(255),
  timezone VARCHAR(64),
  catch_up VARCHAR(10) NOT NULL DEFAULT 'once' CHECK (catch_up IN ('skip', 'once', 'all')),
  next_fire_at TIMESTAMP WITH TIME ZONE,
  last_fired_at TIMESTAMP WITH TIME ZONE,
  -- webhook: the token in the URL is stored hashed; the signing secret is sealed like a
  -- user secret (vault), so neither is in the database in clear text.
  token_hash CHAR(64),
  signing_secret_encrypted TEXT,
  rate_limit_per_minute INTEGER NOT NULL DEFAULT 60 CHECK (rate_limit_per_minute > 0),
  created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CHECK (type <> 'schedule' OR (cron IS NOT NULL AND timezone IS NOT NULL)),
  CHECK (type <> 'webhook' OR token_hash IS NOT NULL)
);

DROP TRIGGER IF EXISTS update_workflow_triggers_updated_at ON workflow_triggers;
CREATE TRIGGER update_workflow_triggers_updated_at BEFORE UPDATE ON workflow_triggers
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

CREATE INDEX IF NOT EXISTS idx_workflow_triggers_workflow ON workflow_triggers (user_workflow_id);
CREATE UNIQUE INDEX IF NOT EXISTS idx_workflow_triggers_token ON workflow_triggers (token_hash)
  WHERE token_hash IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_workflow_triggers_due ON workflow_triggers (next_fire_at)
  WHERE type = 'schedule' AND is_active;

-- Exactly once: one row per (trigger, scheduled time); whichever scheduler inserts it
-- starts the execution, in the same transaction.
CREATE TABLE IF NOT EXISTS trigger_fires (
  trigger_id UUID NOT NULL REFERENCES workflow_triggers(id) ON DELETE CASCADE,
  fire_at TIMESTAMP WITH TIME ZONE NOT NULL,
  execution_id UUID REFERENCES workflow_executions(id) ON DELETE SET NULL,
  created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (trigger_id, fire_at)
);

-- Webhook replay protection: a delivery id is accepted once per trigger.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
  trigger_id UUID NOT NULL REFERENCES workflow_triggers(id) ON DELETE CASCADE,
  delivery_id VARCHAR(255) NOT NULL,
  received_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (trigger_id, delivery_id)
);
