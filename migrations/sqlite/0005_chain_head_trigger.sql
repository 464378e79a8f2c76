-- The chain head moves with every inserted event, in the inserting transaction, by trigger:
-- an append costs no separate head update.

CREATE TRIGGER audit_events_move_head AFTER INSERT ON audit_events
BEGIN
    UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;
END;
