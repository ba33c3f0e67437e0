-- The seed (shared/seed/database-schema.md), sections 2 and 3 and its triggers, verbatim:
-- user workflows, the executions' second source, and the updated_at triggers.
-- Do not edit: tests check that every SQL block of the seed appears here unchanged.

CREATE TABLE IF NOT EXISTS user_workflows (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  template_id VARCHAR(255) REFERENCES workflow_templates(id) ON DELETE SET NULL,
  name VARCHAR(255) NOT NULL,
  description TEXT,
  category VARCHAR(100),
  definition JSONB NOT NULL,
  config JSONB DEFAULT '{}',
  is_active BOOLEAN DEFAULT true,
  is_favorite BOOLEAN DEFAULT false,
  last_used TIMESTAMP WITH TIME ZONE,
  execution_count INTEGER DEFAULT 0,
  created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP
);

-- Indexes
CREATE INDEX IF NOT EXISTS idx_user_workflows_user_id ON user_workflows(user_id);
CREATE INDEX IF NOT EXISTS idx_user_workflows_template_id ON user_workflows(template_id);
CREATE INDEX IF NOT EXISTS idx_user_workflows_category ON user_workflows(category);
CREATE INDEX IF NOT EXISTS idx_user_workflows_is_active ON user_workflows(is_active);

-- Add user_workflow_id column
ALTER TABLE workflow_executions 
ADD COLUMN IF NOT EXISTS user_workflow_id UUID REFERENCES user_workflows(id) ON DELETE CASCADE;

-- Make template_id nullable
ALTER TABLE workflow_executions 
ALTER COLUMN template_id DROP NOT NULL;

-- Add constraint for source validation
ALTER TABLE workflow_executions 
DROP CONSTRAINT IF EXISTS workflow_executions_source_check;

ALTER TABLE workflow_executions 
ADD CONSTRAINT workflow_executions_source_check CHECK (
  (template_id IS NOT NULL AND user_workflow_id IS NULL) OR
  (template_id IS NULL AND user_workflow_id IS NOT NULL)
);

-- Index for performance
CREATE INDEX IF NOT EXISTS idx_workflow_executions_user_workflow_id ON workflow_executions(user_workflow_id);

-- Create or replace the trigger function
CREATE OR REPLACE FUNCTION update_updated_at_column()
RETURNS TRIGGER AS $$
BEGIN
    NEW.updated_at = CURRENT_TIMESTAMP;
    RETURN NEW;
END;
$$ language 'plpgsql';

-- Apply to user_workflows
DROP TRIGGER IF EXISTS update_user_workflows_updated_at ON user_workflows;
CREATE TRIGGER update_user_workflows_updated_at BEFORE UPDATE ON user_workflows
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- Apply to workflow_templates
DROP TRIGGER IF EXISTS update_workflow_templates_updated_at ON workflow_templates;
CREATE TRIGGER update_workflow_templates_updated_at BEFORE UPDATE
    ON workflow_templates FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
