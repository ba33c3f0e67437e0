-- Adoption of a legacy database (flowdeck.db.adopt): read the legacy tables' columns, then
-- bring each one to the shape 001_users.sql and 002_workflow_executions.sql declare.
-- {table} and {column} (and {old}, {length}) are filled in with psycopg.sql.Identifier
-- and Literal, from the fixed list of columns in adopt.py, never from input.

-- name: columns
-- The columns of the legacy tables, their types spelled as `db verify` spells them.
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), t.typcategory,
       t.typtype = 'e', a.attnotnull
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
  AND c.relname IN ('users', 'workflow_executions')
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum

-- name: create_json_reader
-- The text as JSON, or NULL when it is not JSON (PostgreSQL 13 has no `IS JSON`).
-- A temporary function: it lives in this session's pg_temp schema and is dropped at the end.
CREATE FUNCTION pg_temp.flowdeck_adopt_json(value TEXT) RETURNS JSONB AS $$
BEGIN
  RETURN value::jsonb;
EXCEPTION WHEN data_exception THEN
  RETURN NULL;
END
$$ LANGUAGE plpgsql IMMUTABLE

-- name: drop_json_reader
DROP FUNCTION IF EXISTS pg_temp.flowdeck_adopt_json(TEXT)

-- name: profile_strings
-- rows, NULLs, and the longest value in characters.
SELECT count(*), count(*) FILTER (WHERE {column} IS NULL),
       coalesce(max(char_length({column}::TEXT)), 0)
FROM {table}

-- name: profile_error
-- rows, NULLs, empty texts (NULL after), JSON objects (kept); the rest is wrapped.
SELECT count(*),
       count(*) FILTER (WHERE {column} IS NULL),
       count(*) FILTER (WHERE btrim({column}::TEXT, E' \t\r\n') = ''),
       count(*) FILTER (WHERE jsonb_typeof(pg_temp.flowdeck_adopt_json({column}::TEXT)) = 'object')
FROM {table}

-- name: profile_document
-- rows, NULLs, empty texts (NULL after), JSON texts (parsed); the rest becomes JSON strings.
SELECT count(*),
       count(*) FILTER (WHERE {column} IS NULL),
       count(*) FILTER (WHERE btrim({column}::TEXT, E' \t\r\n') = ''),
       count(*) FILTER (WHERE pg_temp.flowdeck_adopt_json({column}::TEXT) IS NOT NULL)
FROM {table}

-- name: rename
ALTER TABLE {table} RENAME COLUMN {old} TO {column}

-- name: drop_default
-- A default of the old type may not cast to the new one; the declared one is set after.
ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT

-- name: default_current_timestamp
ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT CURRENT_TIMESTAMP

-- name: default_pending
ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT 'pending'

-- name: drop_not_null
ALTER TABLE {table} ALTER COLUMN {column} DROP NOT NULL

-- name: set_not_null
ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL

-- name: to_varchar
-- Any string type or enum; the lengths were checked first.
ALTER TABLE {table} ALTER COLUMN {column} TYPE VARCHAR({length}) USING {column}::TEXT

-- name: to_text
ALTER TABLE {table} ALTER COLUMN {column} TYPE TEXT USING {column}::TEXT

-- name: to_timestamptz
-- A timestamp without time zone is read as UTC (the legacy application's clock).
ALTER TABLE {table} ALTER COLUMN {column} TYPE TIMESTAMP WITH TIME ZONE
  USING {column} AT TIME ZONE 'UTC'

-- name: error_to_jsonb
-- Flowdeck's errors are objects with a `message`: a JSON object is kept as it is, empty
-- text means "no error" (NULL), anything else is kept whole as the message.
ALTER TABLE {table} ALTER COLUMN {column} TYPE JSONB USING (
  CASE
    WHEN {column} IS NULL OR btrim({column}::TEXT, E' \t\r\n') = '' THEN NULL
    WHEN jsonb_typeof(pg_temp.flowdeck_adopt_json({column}::TEXT)) = 'object'
      THEN pg_temp.flowdeck_adopt_json({column}::TEXT)
    ELSE jsonb_build_object('message', {column}::TEXT)
  END)

-- name: json_to_jsonb
ALTER TABLE {table} ALTER COLUMN {column} TYPE JSONB USING {column}::JSONB

-- name: document_to_jsonb
-- Inputs and outputs: JSON text is parsed, empty text is NULL, other text a JSON string.
ALTER TABLE {table} ALTER COLUMN {column} TYPE JSONB USING (
  CASE
    WHEN {column} IS NULL OR btrim({column}::TEXT, E' \t\r\n') = '' THEN NULL
    ELSE coalesce(pg_temp.flowdeck_adopt_json({column}::TEXT), to_jsonb({column}::TEXT))
  END)

-- name: add_jsonb
ALTER TABLE {table} ADD COLUMN {column} JSONB

-- name: add_timestamptz
ALTER TABLE {table} ADD COLUMN {column} TIMESTAMP WITH TIME ZONE

-- name: add_created_at
ALTER TABLE {table} ADD COLUMN {column} TIMESTAMP WITH TIME ZONE NOT NULL
  DEFAULT CURRENT_TIMESTAMP
