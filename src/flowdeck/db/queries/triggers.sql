-- Triggers of a user's workflows. Every API query is scoped by user_id: another user's
-- trigger matches no row, and the API answers 404 as for a missing one.

-- name: create
INSERT INTO workflow_triggers (user_workflow_id, user_id, type, inputs, is_active, cron, timezone,
                               catch_up, next_fire_at, token_hash, signing_secret_encrypted,
                               rate_limit_per_minute)
SELECT w.id, w.user_id, %(type)s, %(inputs)s, %(is_active)s, %(cron)s, %(timezone)s,
       %(catch_up)s, %(next_fire_at)s, %(token_hash)s, %(signing_secret_encrypted)s,
       %(rate_limit_per_minute)s
FROM user_workflows w WHERE w.id = %(workflow_id)s AND w.user_id = %(user_id)s
RETURNING id, user_workflow_id, type, inputs, is_active, cron, timezone, catch_up, next_fire_at,
          last_fired_at, signing_secret_encrypted IS NOT NULL AS signed, rate_limit_per_minute,
          created_at, updated_at

-- name: list_for_workflow
SELECT id, user_workflow_id, type, inputs, is_active, cron, timezone, catch_up, next_fire_at,
       last_fired_at, signing_secret_encrypted IS NOT NULL AS signed, rate_limit_per_minute,
       created_at, updated_at
FROM workflow_triggers
WHERE user_workflow_id = %(workflow_id)s AND user_id = %(user_id)s
ORDER BY created_at, id

-- name: get
SELECT id, user_workflow_id, type, inputs, is_active, cron, timezone, catch_up, next_fire_at,
       last_fired_at, signing_secret_encrypted IS NOT NULL AS signed, rate_limit_per_minute,
       created_at, updated_at
FROM workflow_triggers WHERE id = %(id)s AND user_id = %(user_id)s

-- name: update
UPDATE workflow_triggers SET
  inputs = %(inputs)s, is_active = %(is_active)s, cron = %(cron)s, timezone = %(timezone)s,
  catch_up = %(catch_up)s, next_fire_at = %(next_fire_at)s,
  rate_limit_per_minute = %(rate_limit_per_minute)s
WHERE id = %(id)s AND user_id = %(user_id)s
RETURNING id, user_workflow_id, type, inputs, is_active, cron, timezone, catch_up, next_fire_at,
          last_fired_at, signing_secret_encrypted IS NOT NULL AS signed, rate_limit_per_minute,
          created_at, updated_at

-- name: delete
DELETE FROM workflow_triggers WHERE id = %(id)s AND user_id = %(user_id)s RETURNING id

-- name: take_due
-- The scheduler: due schedules, locked so that each is handled by one scheduler at a time.
SELECT id, user_workflow_id, user_id, inputs, cron, timezone, catch_up, next_fire_at
FROM workflow_triggers
WHERE type = 'schedule' AND is_active AND next_fire_at <= %(now)s
ORDER BY next_fire_at
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED

-- name: record_fire
INSERT INTO trigger_fires (trigger_id, fire_at) VALUES (%(trigger_id)s, %(fire_at)s)
ON CONFLICT DO NOTHING
RETURNING trigger_id

-- name: set_fire_execution
UPDATE trigger_fires SET execution_id = %(execution_id)s
WHERE trigger_id = %(trigger_id)s AND fire_at = %(fire_at)s

-- name: advance
UPDATE workflow_triggers SET
  next_fire_at = %(next_fire_at)s, last_fired_at = COALESCE(%(last_fired_at)s::timestamptz, last_fired_at)
WHERE id = %(id)s
