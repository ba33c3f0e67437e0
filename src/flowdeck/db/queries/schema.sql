-- Introspection of the `public` schema, for `flowdeck db verify`. Each query returns
-- (kind, name, attribute, value) rows; the same rows from two databases are compared.

-- name: tables
SELECT 'table', c.relname, 'kind', 'ordinary table'
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')

-- name: columns
SELECT 'column', c.relname || '.' || a.attname, attr.name, attr.value
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
CROSS JOIN LATERAL (VALUES
  ('type', format_type(a.atttypid, a.atttypmod)),
  ('nullable', CASE WHEN a.attnotnull THEN 'NOT NULL' ELSE 'NULL' END),
  ('default', coalesce(pg_get_expr(d.adbin, d.adrelid), '(none)'))
) AS attr(name, value)
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped

-- name: indexes
SELECT 'index', i.relname, 'definition', pg_get_indexdef(i.oid)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_namespace n ON n.oid = i.relnamespace
WHERE n.nspname = 'public'

-- name: constraints
-- The definition includes a foreign key's ON DELETE rule; it is also listed alone so
-- that a changed rule reads plainly in the report.
SELECT 'constraint', t.relname || '.' || k.conname, attr.name, attr.value
FROM pg_constraint k
JOIN pg_class t ON t.oid = k.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
CROSS JOIN LATERAL (VALUES
  ('definition', pg_get_constraintdef(k.oid)),
  ('on delete', CASE k.confdeltype
      WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE'
      WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' ELSE '(not a foreign key)' END)
) AS attr(name, value)
WHERE n.nspname = 'public' AND k.contype IN ('p', 'u', 'f', 'c', 'x')

-- name: triggers
SELECT 'trigger', c.relname || '.' || t.tgname, 'definition', pg_get_triggerdef(t.oid)
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND NOT t.tgisinternal

-- name: functions
SELECT 'function', p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       'definition', pg_get_functiondef(p.oid)
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.prokind = 'f'
