-- Sign-in throttling (docs/operations.md, "Sign-in throttling"): attempts counted per
-- account e-mail and per client address, here so that every API process agrees.
--
-- One row per key: `kind` says what the key is ('account': the e-mail as typed, trimmed
-- and lower-cased, whether or not such an account exists; 'address': the client address,
-- an IPv6 client by its /64). `failures` counts the attempts in the window that starts
-- at `window_start` and lasts FLOWDECK_SIGNIN_WINDOW; an attempt after the window ended
-- starts a new one. A successful sign-in deletes its account's row and gives back the
-- attempt it was charged to its address's row, so only failures count.
--
-- Bounded: a row whose window ended counts nothing, and every sign-in that does not
-- succeed (wrong password, or refused) deletes such rows, in batches found by the
-- window_start index; the table holds about one window's worth of keys.
CREATE TABLE IF NOT EXISTS sign_in_failures (
  kind VARCHAR(16) NOT NULL CHECK (kind IN ('account', 'address')),
  key TEXT NOT NULL,
  window_start TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
  failures INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
  PRIMARY KEY (kind, key)
);

CREATE INDEX IF NOT EXISTS idx_sign_in_failures_window_start ON sign_in_failures(window_start);
