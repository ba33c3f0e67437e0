-- The seed (shared/seed/database-schema.md), section 1, verbatim: the template catalog.
-- Do not edit: tests check that every SQL block of the seed appears here unchanged.

CREATE TABLE IF NOT EXISTS workflow_templates (
  id VARCHAR(255) PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  goal TEXT,
  steps JSONB NOT NULL,
  conditions JSONB,
  outputs JSONB,
  category VARCHAR(100),
  is_active BOOLEAN DEFAULT true,
  usage_count INTEGER DEFAULT 0,
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

-- Indexes
CREATE INDEX IF NOT EXISTS idx_workflow_templates_category ON workflow_templates(category);
CREATE INDEX IF NOT EXISTS idx_workflow_templates_is_active ON workflow_templates(is_active);
