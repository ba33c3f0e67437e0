-- name: count_attempt
-- Charge one sign-in attempt to its account and to its address, before the password is
-- checked. The upsert locks both rows (account first, then address, always in that
-- order), so concurrent attempts are counted one after the other and none slips past a
-- limit. A key whose window ended starts a new window with this attempt. Returns, per
-- key, the attempts in its window (this one included) and the whole seconds until the
-- window ends.
INSERT INTO sign_in_failures AS f (kind, key, window_start, failures)
VALUES ('account', %(account)s, now(), 1), ('address', %(address)s, now(), 1)
ON CONFLICT (kind, key) DO UPDATE SET
  window_start = CASE WHEN f.window_start <= now() - %(window)s
                      THEN now() ELSE f.window_start END,
  failures = CASE WHEN f.window_start <= now() - %(window)s
                  THEN 1 ELSE f.failures + 1 END
RETURNING kind, failures,
  greatest(ceil(extract(epoch FROM f.window_start + %(window)s - now())), 1)::INTEGER
    AS retry_after

-- name: succeeded
-- The password was right: the account's count starts again, and the address gets back
-- the attempt it was charged (an address is limited on failures only, so that many
-- people signing in from one office network are not refused).
WITH account AS (
  DELETE FROM sign_in_failures WHERE kind = 'account' AND key = %(account)s
)
UPDATE sign_in_failures SET failures = greatest(failures - 1, 0)
WHERE kind = 'address' AND key = %(address)s

-- name: prune
-- Rows whose window ended count nothing: delete a batch of them. Run after each sign-in
-- that did not succeed, so the table holds little more than one window's worth of keys.
DELETE FROM sign_in_failures
WHERE ctid IN (
  SELECT ctid FROM sign_in_failures
  WHERE window_start <= now() - %(window)s
  LIMIT %(batch)s
)
