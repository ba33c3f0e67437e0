-- name: lock
-- Serialise migration runs across every process and host that shares the database.
-- Session-level, so it spans the one-transaction-per-file commits.
SELECT pg_advisory_lock(7261063210481) -- 'flowdeck migrate'

-- name: unlock
SELECT pg_advisory_unlock(7261063210481)

-- name: tracking_table_exists
SELECT to_regclass('public.schema_migrations') IS NOT NULL

-- name: applied
-- Every applied file, oldest first.
SELECT filename, checksum, applied_at, duration_ms
FROM schema_migrations
ORDER BY filename

-- name: record
INSERT INTO schema_migrations (filename, checksum, duration_ms)
VALUES (%(filename)s, %(checksum)s, %(duration_ms)s)
