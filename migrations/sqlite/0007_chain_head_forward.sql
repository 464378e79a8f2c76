-- A transaction's writes may reach the database as one statement (see `store/batch.rs`); on
-- Postgres the parts of one statement have no defined order, so the chain head moves only
-- forward: to an inserted event that is newer than the head. Both backends keep the same rule.

DROP TRIGGER audit_events_move_head;

CREATE TRIGGER audit_events_move_head AFTER INSERT ON audit_events
BEGIN
    UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1 AND seq < NEW.seq;
END;
