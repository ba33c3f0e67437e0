-- A user's workflows. Every query is scoped by user_id: another user's workflow
-- matches no row, and the API answers 404 as for a missing one.

-- name: create
INSERT INTO user_workflows (user_id, template_id, name, description, category, definition, config,
                            is_active, is_favorite)
VALUES (%(user_id)s, %(template_id)s, %(name)s, %(description)s, %(category)s, %(definition)s,
        %(config)s, %(is_active)s, %(is_favorite)s)
RETURNING id, user_id, template_id, name, description, category, definition, config, is_active,
          is_favorite, last_used, execution_count, created_at, updated_at

-- name: get
SELECT id, user_id, template_id, name, description, category, definition, config, is_active,
       is_favorite, last_used, execution_count, created_at, updated_at
FROM user_workflows WHERE id = %(id)s AND user_id = %(user_id)s

-- name: get_for_update
SELECT id, user_id, template_id, name, description, category, definition, config, is_active,
       is_favorite, last_used, execution_count, created_at, updated_at
FROM user_workflows WHERE id = %(id)s AND user_id = %(user_id)s
FOR UPDATE

-- name: update
UPDATE user_workflows SET
  name = %(name)s, description = %(description)s, category = %(category)s,
  definition = %(definition)s, config = %(config)s, is_active = %(is_active)s,
  is_favorite = %(is_favorite)s
WHERE id = %(id)s AND user_id = %(user_id)s
RETURNING id, user_id, template_id, name, description, category, definition, config, is_active,
          is_favorite, last_used, execution_count, created_at, updated_at

-- name: delete
DELETE FROM user_workflows WHERE id = %(id)s AND user_id = %(user_id)s RETURNING id

-- name: list_by_updated
SELECT id, template_id, name, description, category, is_active, is_favorite, last_used,
       execution_count, created_at, updated_at
FROM user_workflows
WHERE user_id = %(user_id)s
  AND (%(category)s::text IS NULL OR category = %(category)s)
  AND (%(favorite)s::boolean IS NULL OR is_favorite = %(favorite)s)
  AND (%(active)s::boolean IS NULL OR is_active = %(active)s)
  AND (%(pattern)s::text IS NULL OR name ILIKE %(pattern)s OR description ILIKE %(pattern)s)
  AND (%(after_id)s::uuid IS NULL
       OR (updated_at, id) < (%(after_updated)s::timestamptz, %(after_id)s::uuid))
ORDER BY updated_at DESC, id DESC
LIMIT %(limit)s

-- name: list_by_name
SELECT id, template_id, name, description, category, is_active, is_favorite, last_used,
       execution_count, created_at, updated_at
FROM user_workflows
WHERE user_id = %(user_id)s
  AND (%(category)s::text IS NULL OR category = %(category)s)
  AND (%(favorite)s::boolean IS NULL OR is_favorite = %(favorite)s)
  AND (%(active)s::boolean IS NULL OR is_active = %(active)s)
  AND (%(pattern)s::text IS NULL OR name ILIKE %(pattern)s OR description ILIKE %(pattern)s)
  AND (%(after_id)s::uuid IS NULL
       OR (name, id) > (%(after_name)s::text, %(after_id)s::uuid))
ORDER BY name, id
LIMIT %(limit)s

-- name: list_by_last_used
-- Most recently used first, never-used ones last.
SELECT id, template_id, name, description, category, is_active, is_favorite, last_used,
       execution_count, created_at, updated_at
FROM user_workflows
WHERE user_id = %(user_id)s
  AND (%(category)s::text IS NULL OR category = %(category)s)
  AND (%(favorite)s::boolean IS NULL OR is_favorite = %(favorite)s)
  AND (%(active)s::boolean IS NULL OR is_active = %(active)s)
  AND (%(pattern)s::text IS NULL OR name ILIKE %(pattern)s OR description ILIKE %(pattern)s)
  AND (%(after_id)s::uuid IS NULL
       OR (%(after_last_used)s::timestamptz IS NOT NULL
           AND (last_used < %(after_last_used)s::timestamptz
                OR (last_used = %(after_last_used)s::timestamptz AND id < %(after_id)s::uuid)
                OR last_used IS NULL))
       OR (%(after_last_used)s::timestamptz IS NULL AND last_used IS NULL
           AND id < %(after_id)s::uuid))
ORDER BY last_used DESC NULLS LAST, id DESC
LIMIT %(limit)s
