-- Doctors' directory profiles. The weekly schedule is JSON (a list of
-- {day, start, end} blocks in the doctor's time zone): it is always read
-- and written whole, with the profile.
CREATE TABLE doctor_profiles (
    doctor_id            TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    specialization       TEXT NOT NULL,
    qualification        TEXT NOT NULL,
    years_of_experience  INTEGER NOT NULL CHECK (years_of_experience >= 0),
    bio                  TEXT NOT NULL,
    time_zone            TEXT NOT NULL,
    slot_minutes         INTEGER NOT NULL CHECK (slot_minutes > 0),
    schedule             TEXT NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX doctor_profiles_specialization ON doctor_profiles(specialization COLLATE NOCASE);

-- One counter for every appointment change: each change takes the next
-- value, so `appointments.change_seq` orders all changes and a client syncs
-- with "everything after the last change I saw".
CREATE TABLE change_counters (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
);
INSERT INTO change_counters (name, value) VALUES ('appointments', 0);

-- Appointments. Times are Unix milliseconds.
CREATE TABLE appointments (
    id                 TEXT PRIMARY KEY,
    doctor_id          TEXT NOT NULL REFERENCES users(id),
    patient_id         TEXT NOT NULL REFERENCES users(id),
    start_at           INTEGER NOT NULL,
    end_at             INTEGER NOT NULL CHECK (end_at > start_at),
    mode               TEXT NOT NULL CHECK (mode IN ('video', 'chat')),
    reason             TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN
                           ('pending', 'scheduled', 'completed', 'cancelled', 'rescheduled')),
    doctor_comment     TEXT,
    cancelled_by       TEXT REFERENCES users(id),
    rescheduled_from   TEXT REFERENCES appointments(id),
    rescheduled_to     TEXT REFERENCES appointments(id),
    notes              TEXT,
    notes_updated_at   INTEGER,
    rating             INTEGER CHECK (rating BETWEEN 1 AND 5),
    review             TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    change_seq         INTEGER NOT NULL UNIQUE,
    CHECK (doctor_id <> patient_id)
);
-- No double booking, whatever the code above does: one live appointment
-- per doctor and slot start. Cancelled and rescheduled ones free the slot.
CREATE UNIQUE INDEX appointments_one_per_slot ON appointments(doctor_id, start_at)
    WHERE status IN ('pending', 'scheduled', 'completed');
CREATE INDEX appointments_doctor_change ON appointments(doctor_id, change_seq);
CREATE INDEX appointments_patient_change ON appointments(patient_id, change_seq);

-- Notes of a completed visit are final: corrections are added here.
CREATE TABLE note_amendments (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    appointment_id  TEXT NOT NULL REFERENCES appointments(id),
    author_id       TEXT NOT NULL REFERENCES users(id),
    text            TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX note_amendments_appointment ON note_amendments(appointment_id, id);

-- Who read or changed which medical record, and when. Rows are only ever
-- added; written in the same transaction as the read or change they
-- record, so neither happens without the other.
CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at              INTEGER NOT NULL,
    actor_id        TEXT NOT NULL REFERENCES users(id),
    action          TEXT NOT NULL,
    appointment_id  TEXT NOT NULL REFERENCES appointments(id)
);
CREATE INDEX audit_log_appointment ON audit_log(appointment_id, id);
CREATE INDEX audit_log_actor ON audit_log(actor_id, id);
