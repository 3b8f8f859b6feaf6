-- Chat between a patient and a doctor: one conversation per pair.
-- `last_seq` is the seq of the newest message; each party's read position
-- only moves forward. Times are Unix milliseconds.
CREATE TABLE conversations (
    id                TEXT PRIMARY KEY,
    patient_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    doctor_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at        INTEGER NOT NULL,
    last_seq          INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    last_activity_at  INTEGER NOT NULL,
    patient_read_seq  INTEGER NOT NULL DEFAULT 0 CHECK (patient_read_seq >= 0),
    doctor_read_seq   INTEGER NOT NULL DEFAULT 0 CHECK (doctor_read_seq >= 0),
    UNIQUE (patient_id, doctor_id),
    CHECK (patient_id <> doctor_id)
);
CREATE INDEX conversations_doctor ON conversations(doctor_id);

-- Messages. The primary key makes a seq unique in its conversation and the
-- UNIQUE id makes a resend impossible to store twice, whatever the code
-- above does.
CREATE TABLE chat_messages (
    conversation_id  TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq              INTEGER NOT NULL CHECK (seq > 0),
    id               TEXT NOT NULL UNIQUE,
    sender_id        TEXT NOT NULL REFERENCES users(id),
    body             TEXT NOT NULL,
    sent_at          INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

-- Uploaded files. The bytes live outside the database, under the
-- attachments directory, named by their SHA-256 (identical files share one
-- copy); a thumbnail, when there is one, sits next to them.
CREATE TABLE attachments (
    id               TEXT PRIMARY KEY,
    conversation_id  TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    uploader_id      TEXT NOT NULL REFERENCES users(id),
    name             TEXT NOT NULL,
    content_type     TEXT NOT NULL,
    size             INTEGER NOT NULL CHECK (size >= 0),
    sha256           TEXT NOT NULL,
    has_thumbnail    INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL
);
CREATE INDEX attachments_conversation ON attachments(conversation_id);
CREATE INDEX attachments_sha256 ON attachments(sha256);

-- Which attachments a message carries, in order.
CREATE TABLE chat_message_attachments (
    message_id     TEXT NOT NULL REFERENCES chat_messages(id) ON DELETE CASCADE,
    position       INTEGER NOT NULL,
    attachment_id  TEXT NOT NULL REFERENCES attachments(id),
    PRIMARY KEY (message_id, position)
);
