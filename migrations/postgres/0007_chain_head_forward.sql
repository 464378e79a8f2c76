-- A transaction's writes may reach the database as one statement (see `store/batch.rs`): the
-- parts of a data-modifying WITH have no defined order, and their row triggers fire in the
-- order the rows were written, so the chain head moves only forward: to an inserted event that
-- is newer than the head.

CREATE OR REPLACE FUNCTION brain_audit_move_head() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1 AND seq < NEW.seq;
    RETURN NEW;
END
$$;
