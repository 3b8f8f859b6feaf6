//! Appointments, doctor profiles, read notes and visit records in the
//! cache, and the appointment sync cursor, so the schedule and past visits
//! read offline. Records are kept as the server's JSON (schema V4).

use super::store::seq_sql;
use super::{CacheError, ChatCache, now_ms};
use crate::protocol::appointments::{Appointment, AppointmentChanges, DoctorProfile, Notes, Visit};
use crate::protocol::{AppointmentId, UserId};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Statuses of a visit that may still take place.
const OPEN_STATUSES: &str = "('pending', 'scheduled')";

impl ChatCache {
    /// Stores appointments from pushes or replies, each replacing the
    /// cached one only if its `change` is newer. Returns the ids that
    /// changed. The sync cursor is left alone: a push says nothing about
    /// the changes before it.
    pub async fn apply_appointments(
        &self,
        appointments: Vec<Appointment>,
    ) -> Result<Vec<AppointmentId>, CacheError> {
        self.write(move |tx| upsert_appointments(tx, &appointments))
            .await
    }

    /// Stores a page of `GET /appointments?since=` and moves the sync
    /// cursor to its `cursor`, in one transaction, so the cursor never
    /// runs ahead of what is stored. Returns the ids that changed.
    pub async fn apply_appointment_changes(
        &self,
        page: AppointmentChanges,
    ) -> Result<Vec<AppointmentId>, CacheError> {
        self.write(move |tx| {
            let changed = upsert_appointments(tx, &page.appointments)?;
            // Never backwards: a stale page must not make the next sync
            // fetch everything again, nor skip anything.
            tx.execute(
                "INSERT INTO appointment_cursor (id, change) VALUES (1, ?1)
                 ON CONFLICT (id) DO UPDATE SET change = max(change, excluded.change)",
                [seq_sql(page.cursor)?],
            )?;
            Ok(changed)
        })
        .await
    }

    /// Where the next `GET /appointments?since=` starts (0: from the
    /// beginning).
    pub async fn appointment_cursor(&self) -> Result<u64, CacheError> {
        self.read(|conn| {
            let change: Option<i64> = conn
                .query_row("SELECT change FROM appointment_cursor", [], |r| r.get(0))
                .optional()?;
            Ok(change.map_or(0, |c| u64::try_from(c).unwrap_or(0)))
        })
        .await
    }

    /// One cached appointment.
    pub async fn appointment(&self, id: AppointmentId) -> Result<Option<Appointment>, CacheError> {
        self.record(
            "SELECT body FROM appointments WHERE id = ?1",
            *id.0.as_bytes(),
        )
        .await
    }

    /// Visits still to come at `now_ms` (pending or scheduled, not yet
    /// over), soonest first.
    pub async fn upcoming_appointments(&self, now_ms: i64) -> Result<Vec<Appointment>, CacheError> {
        let sql = format!(
            "SELECT body FROM appointments
             WHERE status IN {OPEN_STATUSES} AND end_ms > ?1 ORDER BY start_ms, id"
        );
        self.read(move |conn| bodies_of(conn, &sql, now_ms)).await
    }

    /// Everything else at `now_ms`: completed, cancelled, rescheduled, and
    /// open ones whose time has passed; latest first.
    pub async fn past_appointments(&self, now_ms: i64) -> Result<Vec<Appointment>, CacheError> {
        let sql = format!(
            "SELECT body FROM appointments
             WHERE status NOT IN {OPEN_STATUSES} OR end_ms <= ?1
             ORDER BY start_ms DESC, id"
        );
        self.read(move |conn| bodies_of(conn, &sql, now_ms)).await
    }

    /// Keeps a doctor's profile the user looked at.
    pub async fn store_doctor(&self, profile: DoctorProfile) -> Result<(), CacheError> {
        self.write(move |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO doctor_profiles (id, body, fetched_at_ms)
                 VALUES (?1, ?2, ?3)",
                params![profile.id.0.as_bytes(), json(&profile)?, now_ms()],
            )?;
            Ok(())
        })
        .await
    }

    /// A cached doctor profile.
    pub async fn doctor(&self, id: UserId) -> Result<Option<DoctorProfile>, CacheError> {
        self.record(
            "SELECT body FROM doctor_profiles WHERE id = ?1",
            *id.0.as_bytes(),
        )
        .await
    }

    /// Doctors of cached appointments whose profile is not cached.
    pub async fn doctors_without_profile(&self) -> Result<Vec<UserId>, CacheError> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT DISTINCT doctor_id FROM appointments
                 WHERE doctor_id NOT IN (SELECT id FROM doctor_profiles)",
            )?;
            let ids = stmt.query_map([], |r| r.get::<_, [u8; 16]>(0))?;
            ids.map(|id| Ok(UserId(uuid::Uuid::from_bytes(id?))))
                .collect()
        })
        .await
    }

    /// Keeps clinical notes the user has read.
    pub async fn store_notes(&self, notes: Notes) -> Result<(), CacheError> {
        let id = notes.appointment_id;
        self.put_record("appointment_notes", id, json(&notes)?)
            .await
    }

    /// The notes as last read, if the user has read them.
    pub async fn notes(&self, id: AppointmentId) -> Result<Option<Notes>, CacheError> {
        self.record(
            "SELECT body FROM appointment_notes WHERE appointment_id = ?1",
            *id.0.as_bytes(),
        )
        .await
    }

    /// Keeps the visit records (calls) of an appointment.
    pub async fn store_visits(
        &self,
        id: AppointmentId,
        visits: Vec<Visit>,
    ) -> Result<(), CacheError> {
        self.put_record("visit_records", id, json(&visits)?).await
    }

    /// The visit records as last fetched.
    pub async fn visits(&self, id: AppointmentId) -> Result<Option<Vec<Visit>>, CacheError> {
        self.record(
            "SELECT body FROM visit_records WHERE appointment_id = ?1",
            *id.0.as_bytes(),
        )
        .await
    }

    /// The record the query `sql` finds by the id `key`.
    async fn record<T: DeserializeOwned + Send + 'static>(
        &self,
        sql: &'static str,
        key: [u8; 16],
    ) -> Result<Option<T>, CacheError> {
        self.read(move |conn| {
            let body: Option<String> = conn.query_row(sql, [key], |r| r.get(0)).optional()?;
            body.as_deref().map(parse).transpose()
        })
        .await
    }

    /// Replaces the record of appointment `id` in `table` (a constant of
    /// this module, never user input).
    async fn put_record(
        &self,
        table: &'static str,
        id: AppointmentId,
        body: String,
    ) -> Result<(), CacheError> {
        self.write(move |tx| {
            tx.execute(
                &format!(
                    "INSERT OR REPLACE INTO {table} (appointment_id, body, fetched_at_ms)
                     VALUES (?1, ?2, ?3)"
                ),
                params![id.0.as_bytes(), body, now_ms()],
            )?;
            Ok(())
        })
        .await
    }
}

fn upsert_appointments(
    tx: &Transaction<'_>,
    appointments: &[Appointment],
) -> Result<Vec<AppointmentId>, CacheError> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO appointments
             (id, doctor_id, patient_id, start_ms, end_ms, status, change, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (id) DO UPDATE SET
             start_ms = excluded.start_ms, end_ms = excluded.end_ms,
             status = excluded.status, change = excluded.change, body = excluded.body
         WHERE excluded.change > appointments.change",
    )?;
    let mut changed = Vec::new();
    for a in appointments {
        let rows = stmt.execute(params![
            a.id.0.as_bytes(),
            a.doctor.id.0.as_bytes(),
            a.patient.id.0.as_bytes(),
            a.start_ms,
            a.end_ms,
            a.status.as_str(),
            seq_sql(a.change)?,
            json(a)?,
        ])?;
        if rows > 0 {
            changed.push(a.id);
        }
    }
    Ok(changed)
}

fn json(value: &impl Serialize) -> Result<String, CacheError> {
    serde_json::to_string(value).map_err(CacheError::Record)
}

fn parse<T: DeserializeOwned>(body: &str) -> Result<T, CacheError> {
    serde_json::from_str(body).map_err(CacheError::Record)
}

fn bodies_of<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    now_ms: i64,
) -> Result<Vec<T>, CacheError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let bodies = stmt.query_map([now_ms], |r| r.get::<_, String>(0))?;
    bodies.map(|body| parse(&body?)).collect()
}
