-- name: list
SELECT name, created_at, updated_at FROM secrets WHERE user_id = %(user_id)s ORDER BY name

-- name: put
INSERT INTO secrets (user_id, name, value_encrypted)
VALUES (%(user_id)s, %(name)s, %(value)s)
ON CONFLICT (user_id, name) DO UPDATE SET value_encrypted = EXCLUDED.value_encrypted
RETURNING name, created_at, updated_at, (xmax = 0) AS created

-- name: delete
DELETE FROM secrets WHERE user_id = %(user_id)s AND name = %(name)s RETURNING name

-- name: values
-- For a worker about to run this user's execution; decrypted in the process only.
SELECT name, value_encrypted FROM secrets WHERE user_id = %(user_id)s
