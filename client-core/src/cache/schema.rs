//! The cache's schema, as migrations (rusqlite_migration, like the
//! server): a released schema is never edited, only added to.
//!
//! Ids are UUIDs stored as 16-byte blobs. `seq`s are the server's; `NULL`
//! for the user's own messages not acknowledged yet.

use rusqlite_migration::{M, Migrations};

const V1: &str = r#"
-- One row per conversation the user has seen, from ConversationSummary.
-- The peer is NULL until a summary arrives (a message can come first).
-- unread_base is the server's unread count when base_seq (its last_seq)
-- was reported; messages after base_seq are counted from the cache.
CREATE TABLE conversations (
    id BLOB PRIMARY KEY NOT NULL,
    peer_id BLOB,
    peer_name TEXT,
    peer_role TEXT,
    last_seq INTEGER NOT NULL DEFAULT 0,
    read_seq INTEGER NOT NULL DEFAULT 0,
    peer_read_seq INTEGER NOT NULL DEFAULT 0,
    unread_base INTEGER NOT NULL DEFAULT 0,
    base_seq INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Sync cursors: every seq from 1 to contiguous_seq is held. The sync
-- engine resumes fetching after it.
CREATE TABLE sync_cursors (
    conversation_id BLOB PRIMARY KEY NOT NULL,
    contiguous_seq INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Server messages (seq set) and the user's pending ones (seq NULL).
-- local_id is the local insertion order, which orders pending messages.
-- search_key is the full-text index's rowid: the message's time (server
-- time once sent) times 1024 plus a free slot, so that the index's own
-- rowid order is newest first and a search page stops after its last hit
-- instead of sorting every match.
CREATE TABLE messages (
    local_id INTEGER PRIMARY KEY,
    search_key INTEGER NOT NULL UNIQUE,
    id BLOB NOT NULL UNIQUE,
    conversation_id BLOB NOT NULL,
    seq INTEGER,
    sender BLOB NOT NULL,
    body TEXT NOT NULL,
    sent_at_ms INTEGER,
    created_at_ms INTEGER NOT NULL,
    CHECK ((seq IS NULL) = (sent_at_ms IS NULL))
);
-- NULLs are distinct in a unique index: any number of pending messages.
CREATE UNIQUE INDEX messages_by_seq ON messages (conversation_id, seq);
CREATE INDEX messages_pending ON messages (conversation_id, local_id) WHERE seq IS NULL;

CREATE TABLE attachments (
    message_local_id INTEGER NOT NULL REFERENCES messages (local_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    id BLOB NOT NULL,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    has_thumbnail INTEGER NOT NULL,
    PRIMARY KEY (message_local_id, position)
) WITHOUT ROWID;

-- Sends not acknowledged yet, in creation order (AUTOINCREMENT: a
-- position is never reused, so order holds across deletes).
CREATE TABLE outbox (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    message_local_id INTEGER NOT NULL UNIQUE REFERENCES messages (local_id) ON DELETE CASCADE
);

-- Downloaded attachment files (named by sha256), for LRU eviction.
-- last_used is a counter, not a clock: eviction order does not depend on
-- clock steps.
CREATE TABLE attachment_files (
    sha256 TEXT PRIMARY KEY NOT NULL,
    size INTEGER NOT NULL,
    last_used INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX attachment_files_lru ON attachment_files (last_used);

-- Full-text index over message bodies, inside the encrypted database.
-- External content: the text is stored once (in messages); the triggers
-- keep the index in the same transaction as every change.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    body,
    content = 'messages',
    content_rowid = 'search_key',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.search_key, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.search_key, old.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body, search_key ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.search_key, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.search_key, new.body);
END;
"#;

/// A send the server refused for good (the conversation is gone, an
/// attachment is not the sender's): it leaves the outbox, and the thread
/// shows why instead of a clock that never turns into a tick.
const V2: &str = r#"
ALTER TABLE messages ADD COLUMN refused TEXT;
"#;

/// The key of the attachment files (XChaCha20-Poly1305), made on first
/// open by the cache. It lives inside the encrypted database, so the
/// database's key in the keychain guards the files too, and wiping the
/// database makes any leftover file unreadable.
const V3: &str = r#"
CREATE TABLE file_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    key BLOB NOT NULL CHECK (length(key) = 32)
);
"#;

/// Appointments, the doctor profiles the user has looked at or has
/// appointments with, clinical notes the user has read, and visit records,
/// so the schedule and past visits read offline. Each row keeps the
/// server's JSON as it came (`body`), with the columns queries need beside
/// it: the protocol types change without a migration, the queries do not.
///
/// An appointment row is only replaced by a higher `change` (a late push
/// must not undo a newer sync page). The appointment sync cursor is one
/// row: the last `change` the server paged to.
const V4: &str = r#"
CREATE TABLE appointments (
    id BLOB PRIMARY KEY NOT NULL,
    doctor_id BLOB NOT NULL,
    patient_id BLOB NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    status TEXT NOT NULL,
    change INTEGER NOT NULL,
    body TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX appointments_by_start ON appointments (start_ms);

CREATE TABLE doctor_profiles (
    id BLOB PRIMARY KEY NOT NULL,
    body TEXT NOT NULL,
    fetched_at_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE appointment_notes (
    appointment_id BLOB PRIMARY KEY NOT NULL,
    body TEXT NOT NULL,
    fetched_at_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE visit_records (
    appointment_id BLOB PRIMARY KEY NOT NULL,
    body TEXT NOT NULL,
    fetched_at_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE appointment_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    change INTEGER NOT NULL
);
"#;

/// Every migration, oldest first.
pub(crate) fn migrations() -> Migrations<'static> {
    Migrations::new(vec![M::up(V1), M::up(V2), M::up(V3), M::up(V4)])
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }
}
