-- Each party's summary of how a call went (bitrate, loss, jitter, RTT, a
-- verdict), sent by their client after the call; the latest one counts.
CREATE TABLE call_quality (
    call_id      TEXT NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users(id),
    summary      TEXT NOT NULL,
    reported_at  INTEGER NOT NULL,
    PRIMARY KEY (call_id, user_id)
);
CREATE INDEX calls_appointment ON calls(appointment_id) WHERE appointment_id IS NOT NULL;
