-- Accounts. Emails are stored lower-cased; uniqueness is on that form.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('patient', 'doctor', 'admin')),
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX users_role ON users(role);

-- One login on one device: the family of refresh tokens it rotates through.
-- Revoking it (logout, or reuse of a spent refresh token) ends the login.
CREATE TABLE auth_sessions (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX auth_sessions_user ON auth_sessions(user_id);

-- Refresh tokens, stored only as SHA-256 hashes. A token is single-use:
-- `used_at` is set when it is exchanged for the next one.
CREATE TABLE refresh_tokens (
    token_hash  BLOB PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES auth_sessions(id) ON DELETE CASCADE,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);

-- Which patients a doctor looks after. Contacts and call permissions
-- derive from it.
CREATE TABLE care_relations (
    doctor_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    patient_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (doctor_id, patient_id)
);
CREATE INDEX care_relations_patient ON care_relations(patient_id);

-- Every call, answered or not. Times are Unix milliseconds.
CREATE TABLE calls (
    id             TEXT PRIMARY KEY,
    caller_id      TEXT NOT NULL REFERENCES users(id),
    callee_id      TEXT NOT NULL REFERENCES users(id),
    appointment_id TEXT,
    rung_at        INTEGER NOT NULL,
    answered_at    INTEGER,
    ended_at       INTEGER,
    end_reason     TEXT,
    ended_by       TEXT,
    duration_ms    INTEGER
);
CREATE INDEX calls_caller ON calls(caller_id, rung_at);
CREATE INDEX calls_callee ON calls(callee_id, rung_at);
