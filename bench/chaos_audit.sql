-- The chaos benchmark's audit of step finishes, installed in its own private database
-- after the migrations (never part of Flowdeck's schema).
--
-- workflow_execution_steps keeps one row per step path, and a later finish overwrites
-- an earlier one. To tell whether a step ran again after it was recorded finished, the
-- benchmark needs the FIRST finish: this trigger keeps every write that leaves a step
-- in a finished state, with the clock at that moment (clock_timestamp(), not the
-- transaction's start). A write that rolls back takes its audit row with it.

CREATE TABLE chaos_step_finishes (
  id bigserial PRIMARY KEY,
  execution_id uuid NOT NULL,
  path text NOT NULL,
  status text NOT NULL,
  at timestamptz NOT NULL
);

CREATE INDEX chaos_step_finishes_step ON chaos_step_finishes (execution_id, path);

CREATE FUNCTION chaos_audit_step_finish() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status IN ('succeeded', 'failed', 'skipped') THEN
    INSERT INTO chaos_step_finishes (execution_id, path, status, at)
    VALUES (NEW.execution_id, NEW.path, NEW.status, clock_timestamp());
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER chaos_audit_step_finish
AFTER INSERT OR UPDATE ON workflow_execution_steps
FOR EACH ROW EXECUTE FUNCTION chaos_audit_step_finish();
