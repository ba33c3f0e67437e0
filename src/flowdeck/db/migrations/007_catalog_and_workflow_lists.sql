-- The template catalog's declared inputs, whether a template ships with Flowdeck, its
-- full-text search, and the indexes behind the keyset-paginated lists.
ALTER TABLE workflow_templates ADD COLUMN IF NOT EXISTS inputs JSONB NOT NULL DEFAULT '{}';
ALTER TABLE workflow_templates ADD COLUMN IF NOT EXISTS builtin BOOLEAN NOT NULL DEFAULT false;

-- Search over name, goal and category; the expression must match the list query's.
CREATE INDEX IF NOT EXISTS idx_workflow_templates_search ON workflow_templates USING gin (
  to_tsvector('english', coalesce(name, '') || ' ' || coalesce(goal, '') || ' ' || coalesce(category, ''))
);
CREATE INDEX IF NOT EXISTS idx_workflow_templates_popularity
  ON workflow_templates (usage_count DESC, id);
CREATE INDEX IF NOT EXISTS idx_workflow_templates_name ON workflow_templates (name, id);

-- "My workflows", newest first / by name / by last use, each with a unique tiebreaker.
CREATE INDEX IF NOT EXISTS idx_user_workflows_user_updated
  ON user_workflows (user_id, updated_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS idx_user_workflows_user_name
  ON user_workflows (user_id, name, id);
CREATE INDEX IF NOT EXISTS idx_user_workflows_user_last_used
  ON user_workflows (user_id, last_used DESC NULLS LAST, id DESC);

