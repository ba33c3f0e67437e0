-- Queries only the web pages need: what a list shows beside the API's own answer.

-- name: last_runs
-- The latest execution of each listed workflow (id and status), for the status dot;
-- one index probe per workflow (idx_workflow_executions_workflow_history).
SELECT w.id AS user_workflow_id, last.id, last.status, last.created_at
FROM unnest(%(ids)s::uuid[]) AS w(id)
CROSS JOIN LATERAL (
  SELECT e.id, e.status, e.created_at FROM workflow_executions e
  WHERE e.user_workflow_id = w.id AND e.user_id = %(user_id)s
  ORDER BY e.created_at DESC, e.id DESC
  LIMIT 1
) AS last

-- name: workflow_names
SELECT id, name FROM user_workflows WHERE user_id = %(user_id)s AND id = ANY(%(ids)s)

-- name: template_names
SELECT id, name FROM workflow_templates WHERE id = ANY(%(ids)s)

-- name: workflow_categories
-- The categories the viewer's workflows use, for the filter.
SELECT DISTINCT category FROM user_workflows
WHERE user_id = %(user_id)s AND category IS NOT NULL
ORDER BY category

-- name: execution_definition
-- The definition snapshot an execution runs (for its diagram and its steps' arguments).
SELECT definition FROM workflow_executions WHERE id = %(id)s AND user_id = %(user_id)s
