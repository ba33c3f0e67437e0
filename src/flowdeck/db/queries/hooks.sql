-- Webhooks: POST /hooks/{token} (services/webhooks.py).

-- name: trigger_by_token
-- The active webhook trigger whose URL token hashes to `token_hash`.
SELECT id, user_workflow_id, user_id, inputs, signing_secret_encrypted, rate_limit_per_minute
FROM workflow_triggers
WHERE token_hash = %(token_hash)s AND type = 'webhook' AND is_active

-- name: lock_trigger
-- Serialises the calls of one trigger: the count and the insert below cannot race.
SELECT id FROM workflow_triggers WHERE id = %(id)s AND is_active FOR UPDATE

-- name: prune_deliveries
-- A signature older than 5 minutes is refused anyway: older delivery ids need no keeping.
DELETE FROM webhook_deliveries
WHERE trigger_id = %(id)s AND received_at < now() - interval '10 minutes'

-- name: recent_deliveries
-- Accepted calls in the last minute, and the seconds until the oldest leaves the window.
SELECT count(*) AS calls,
       greatest(1, ceil(extract(epoch FROM min(received_at) + interval '1 minute' - now())))::int
         AS retry_after
FROM webhook_deliveries
WHERE trigger_id = %(id)s AND received_at > now() - interval '1 minute'

-- name: insert_delivery
-- Nothing returned: the delivery id was already used (a replay).
INSERT INTO webhook_deliveries (trigger_id, delivery_id) VALUES (%(id)s, %(delivery_id)s)
ON CONFLICT DO NOTHING
RETURNING delivery_id

-- name: execution_result
SELECT id, status, output AS outputs, error FROM workflow_executions WHERE id = %(id)s
