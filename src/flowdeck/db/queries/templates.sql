-- The template catalog. List queries take every filter as a parameter that may be
-- NULL (no filter) and a keyset cursor (after_*), and fetch one row more than a page
-- so the caller knows whether another page follows.

-- name: sync_builtin
-- Upsert a template that ships with Flowdeck. usage_count and is_active are never
-- touched (a count is history; deactivating is an admin's decision), a template an
-- admin made under the same id is left alone, and an unchanged one is not rewritten.
INSERT INTO workflow_templates (id, name, goal, steps, conditions, outputs, category, inputs, builtin)
VALUES (%(id)s, %(name)s, %(goal)s, %(steps)s, %(conditions)s, %(outputs)s, %(category)s, %(inputs)s, true)
ON CONFLICT (id) DO UPDATE SET
  name = EXCLUDED.name, goal = EXCLUDED.goal, steps = EXCLUDED.steps,
  conditions = EXCLUDED.conditions, outputs = EXCLUDED.outputs,
  category = EXCLUDED.category, inputs = EXCLUDED.inputs
WHERE workflow_templates.builtin
  AND (workflow_templates.name, workflow_templates.goal, workflow_templates.steps,
       workflow_templates.conditions, workflow_templates.outputs,
       workflow_templates.category, workflow_templates.inputs)
   IS DISTINCT FROM
      (EXCLUDED.name, EXCLUDED.goal, EXCLUDED.steps, EXCLUDED.conditions,
       EXCLUDED.outputs, EXCLUDED.category, EXCLUDED.inputs)
RETURNING id, (xmax = 0) AS inserted

-- name: list_by_popularity
SELECT id, name, goal, category, inputs, is_active, builtin, usage_count, created_at, updated_at
FROM workflow_templates
WHERE (%(category)s::text IS NULL OR category = %(category)s)
  AND (%(active)s::boolean IS NULL OR is_active = %(active)s)
  AND (%(tsquery)s::text IS NULL OR to_tsvector('english',
         coalesce(name, '') || ' ' || coalesce(goal, '') || ' ' || coalesce(category, ''))
       @@ to_tsquery('english', %(tsquery)s))
  AND (%(after_id)s::text IS NULL
       OR usage_count < %(after_count)s::int
       OR (usage_count = %(after_count)s::int AND id > %(after_id)s))
ORDER BY usage_count DESC, id
LIMIT %(limit)s

-- name: list_by_name
SELECT id, name, goal, category, inputs, is_active, builtin, usage_count, created_at, updated_at
FROM workflow_templates
WHERE (%(category)s::text IS NULL OR category = %(category)s)
  AND (%(active)s::boolean IS NULL OR is_active = %(active)s)
  AND (%(tsquery)s::text IS NULL OR to_tsvector('english',
         coalesce(name, '') || ' ' || coalesce(goal, '') || ' ' || coalesce(category, ''))
       @@ to_tsquery('english', %(tsquery)s))
  AND (%(after_id)s::text IS NULL OR (name, id) > (%(after_name)s::text, %(after_id)s::text))
ORDER BY name, id
LIMIT %(limit)s

-- name: categories
SELECT category, count(*) AS count
FROM workflow_templates
WHERE is_active AND category IS NOT NULL
GROUP BY category
ORDER BY category

-- name: get
SELECT id, name, goal, category, inputs, conditions, steps, outputs, is_active, builtin,
       usage_count, created_at, updated_at
FROM workflow_templates WHERE id = %(id)s

-- name: get_for_update
SELECT id, name, goal, category, inputs, conditions, steps, outputs, is_active, builtin,
       usage_count, created_at, updated_at
FROM workflow_templates WHERE id = %(id)s
FOR UPDATE

-- name: create
INSERT INTO workflow_templates (id, name, goal, steps, conditions, outputs, category, inputs, is_active)
VALUES (%(id)s, %(name)s, %(goal)s, %(steps)s, %(conditions)s, %(outputs)s, %(category)s,
        %(inputs)s, %(is_active)s)
ON CONFLICT (id) DO NOTHING
RETURNING id

-- name: update
UPDATE workflow_templates SET
  name = %(name)s, goal = %(goal)s, steps = %(steps)s, conditions = %(conditions)s,
  outputs = %(outputs)s, category = %(category)s, inputs = %(inputs)s, is_active = %(is_active)s
WHERE id = %(id)s

-- name: direct_executions
SELECT count(*) AS count FROM workflow_executions
WHERE template_id = %(id)s AND user_workflow_id IS NULL

-- name: deactivate
UPDATE workflow_templates SET is_active = false WHERE id = %(id)s

-- name: delete
DELETE FROM workflow_templates WHERE id = %(id)s RETURNING id

-- name: take_for_workflow
-- Count a use and read what the new workflow copies, in one statement: concurrent
-- instantiations queue on the row lock, so none of their increments is lost.
UPDATE workflow_templates SET usage_count = usage_count + 1
WHERE id = %(id)s AND is_active
RETURNING id, name, goal, category, inputs, conditions, steps, outputs
