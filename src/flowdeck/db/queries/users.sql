-- name: create_user
INSERT INTO users (email, display_name, password_hash, is_admin)
VALUES (%(email)s, %(display_name)s, %(password_hash)s, %(is_admin)s)
RETURNING id, email, display_name, is_admin, created_at

-- name: user_by_email
SELECT id, email, display_name, is_admin, created_at, password_hash
FROM users WHERE lower(email) = lower(%(email)s)

-- name: lock_bootstrap
-- Serialises the first-start admin creation across processes starting at once.
SELECT pg_advisory_xact_lock(7261063210482)

-- name: any_user
SELECT EXISTS (SELECT 1 FROM users) AS any_user

-- name: create_token
INSERT INTO api_tokens (user_id, name, token_hash, prefix, expires_at)
VALUES (%(user_id)s, %(name)s, %(token_hash)s, %(prefix)s, %(expires_at)s)
RETURNING id, name, prefix, created_at, last_used_at, expires_at, revoked_at

-- name: list_tokens
SELECT id, name, prefix, created_at, last_used_at, expires_at, revoked_at
FROM api_tokens WHERE user_id = %(user_id)s
ORDER BY created_at DESC, id DESC

-- name: revoke_token
-- Another user's token matches no row: the caller answers 404, as for a missing one.
UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())
WHERE id = %(id)s AND user_id = %(user_id)s
RETURNING id

-- name: authenticate_token
-- One round trip: find the live token's user, and record its use at most once a
-- minute so that a busy client does not turn every read into a write.
WITH found AS (
  SELECT t.id AS token_id, t.last_used_at, u.id, u.email, u.display_name, u.is_admin
  FROM api_tokens t JOIN users u ON u.id = t.user_id
  WHERE t.token_hash = %(token_hash)s
    AND t.revoked_at IS NULL
    AND (t.expires_at IS NULL OR t.expires_at > now())
), touched AS (
  UPDATE api_tokens SET last_used_at = now()
  WHERE id IN (
    SELECT token_id FROM found
    WHERE last_used_at IS NULL OR last_used_at < now() - interval '1 minute'
  )
)
SELECT id, email, display_name, is_admin FROM found

-- name: create_session
INSERT INTO user_sessions (user_id, secret_hash, expires_at)
VALUES (%(user_id)s, %(secret_hash)s, now() + %(ttl)s)
RETURNING id

-- name: authenticate_session
SELECT u.id, u.email, u.display_name, u.is_admin
FROM user_sessions s JOIN users u ON u.id = s.user_id
WHERE s.secret_hash = %(secret_hash)s AND s.revoked_at IS NULL AND s.expires_at > now()

-- name: end_session
UPDATE user_sessions SET revoked_at = now()
WHERE secret_hash = %(secret_hash)s AND revoked_at IS NULL

-- name: ensure_setting
-- The first process to need a setting creates it; every other reads the same value.
INSERT INTO instance_settings (name, value) VALUES (%(name)s, %(value)s)
ON CONFLICT (name) DO NOTHING

-- name: get_setting
SELECT value FROM instance_settings WHERE name = %(name)s
