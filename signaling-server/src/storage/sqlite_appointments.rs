//! Doctor profiles, appointments, notes and the audit log on SQLite. Plain
//! functions on a connection; [`super::SqliteStore`] runs them in the
//! blocking pool.
//!
//! The guarantees are the schema's: the partial unique index
//! `appointments_one_per_slot` makes a double booking impossible, every
//! change takes the next value of one counter (`change_seq`, the sync
//! cursor), and audit rows are written in the transaction of the read or
//! change they record.

use super::sqlite::{CALL_SELECT, call_record_from_row, db_err, parse_id};
use super::{AuditQuery, Change, ChangeRequest, NewBooking, RescheduleRequest, StoreError};
use clinicall_protocol::appointments::{
    Amendment, Appointment, AuditAction, AuditEntry, DoctorProfile, Notes, ProfileDetails,
    QualityReport, QualitySummary, Status, Visit,
};
use clinicall_protocol::{AppointmentId, CallId, Role, UserId, UserSummary};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

fn conversion<E: std::error::Error + Send + Sync + 'static>(e: E) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
}

fn parse_text<T: std::str::FromStr<Err = String>>(s: String) -> Result<T, rusqlite::Error> {
    s.parse::<T>()
        .map_err(|e| conversion(std::io::Error::other(e)))
}

fn user_id(s: String) -> Result<UserId, rusqlite::Error> {
    parse_id(s).map(UserId)
}

fn appointment_id(s: String) -> Result<AppointmentId, rusqlite::Error> {
    parse_id(s).map(AppointmentId)
}

// ---------------------------------------------------------------- profiles

const PROFILE_SELECT: &str = "SELECT u.id, u.display_name, p.specialization, p.qualification,
        p.years_of_experience, p.bio, p.time_zone, p.slot_minutes, p.schedule, p.updated_at
     FROM users u LEFT JOIN doctor_profiles p ON p.doctor_id = u.id
     WHERE u.role = 'doctor'";

/// A doctor who never wrote a profile: empty texts, no schedule.
fn profile_from_row(row: &rusqlite::Row<'_>) -> Result<DoctorProfile, rusqlite::Error> {
    let schedule: Option<String> = row.get(8)?;
    let schedule = match schedule {
        Some(json) => serde_json::from_str(&json).map_err(conversion)?,
        None => Vec::new(),
    };
    Ok(DoctorProfile {
        id: user_id(row.get(0)?)?,
        display_name: row.get(1)?,
        details: ProfileDetails {
            specialization: row.get::<_, Option<String>>(2)?.unwrap_or_default(),
            qualification: row.get::<_, Option<String>>(3)?.unwrap_or_default(),
            years_of_experience: row.get::<_, Option<u16>>(4)?.unwrap_or_default(),
            bio: row.get::<_, Option<String>>(5)?.unwrap_or_default(),
            time_zone: row
                .get::<_, Option<String>>(6)?
                .unwrap_or_else(|| "UTC".into()),
            slot_minutes: row.get::<_, Option<u16>>(7)?.unwrap_or(30),
            schedule,
        },
        updated_at_ms: row.get(9)?,
    })
}

pub(super) fn doctor_profile(
    c: &Connection,
    id: UserId,
) -> Result<Option<DoctorProfile>, StoreError> {
    c.prepare_cached(&format!("{PROFILE_SELECT} AND u.id = ?1"))
        .map_err(db_err)?
        .query_row([id.to_string()], profile_from_row)
        .optional()
        .map_err(db_err)
}

pub(super) fn put_doctor_profile(
    c: &mut Connection,
    id: UserId,
    details: ProfileDetails,
    now_ms: i64,
) -> Result<DoctorProfile, StoreError> {
    let schedule = serde_json::to_string(&details.schedule).map_err(db_err)?;
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let is_doctor = tx
        .query_row(
            "SELECT 1 FROM users WHERE id = ?1 AND role = 'doctor'",
            [id.to_string()],
            |_| Ok(()),
        )
        .optional()
        .map_err(db_err)?
        .is_some();
    if !is_doctor {
        return Err(StoreError::NotFound);
    }
    tx.execute(
        "INSERT INTO doctor_profiles (doctor_id, specialization, qualification,
             years_of_experience, bio, time_zone, slot_minutes, schedule, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (doctor_id) DO UPDATE SET
             specialization = excluded.specialization,
             qualification = excluded.qualification,
             years_of_experience = excluded.years_of_experience,
             bio = excluded.bio,
             time_zone = excluded.time_zone,
             slot_minutes = excluded.slot_minutes,
             schedule = excluded.schedule,
             updated_at = excluded.updated_at",
        params![
            id.to_string(),
            details.specialization,
            details.qualification,
            details.years_of_experience,
            details.bio,
            details.time_zone,
            details.slot_minutes,
            schedule,
            now_ms
        ],
    )
    .map_err(db_err)?;
    let profile = doctor_profile(&tx, id)?.ok_or(StoreError::NotFound)?;
    tx.commit().map_err(db_err)?;
    Ok(profile)
}

/// `%` and `_` in user input match themselves.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

pub(super) fn search_doctors(
    c: &Connection,
    name: Option<String>,
    specialization: Option<String>,
) -> Result<Vec<DoctorProfile>, StoreError> {
    let mut stmt = c
        .prepare_cached(&format!(
            "{PROFILE_SELECT}
               AND (?1 IS NULL OR u.display_name LIKE ?1 ESCAPE '\\')
               AND (?2 IS NULL OR p.specialization = ?2 COLLATE NOCASE)
             ORDER BY u.display_name COLLATE NOCASE, u.id"
        ))
        .map_err(db_err)?;
    let rows = stmt
        .query_map(
            params![name.as_deref().map(like_escape), specialization],
            profile_from_row,
        )
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}

// ------------------------------------------------------------ appointments

const APPOINTMENT_SELECT: &str = "SELECT a.id, a.doctor_id, d.display_name, a.patient_id,
        p.display_name, a.start_at, a.end_at, a.mode, a.reason, a.status, a.doctor_comment,
        a.cancelled_by, a.rescheduled_from, a.rescheduled_to, a.notes_updated_at, a.rating,
        a.review, a.created_at, a.updated_at, a.change_seq
     FROM appointments a
     JOIN users d ON d.id = a.doctor_id
     JOIN users p ON p.id = a.patient_id";

fn appointment_from_row(row: &rusqlite::Row<'_>) -> Result<Appointment, rusqlite::Error> {
    let summary = |id: usize, name: usize, role| -> Result<UserSummary, rusqlite::Error> {
        Ok(UserSummary {
            id: user_id(row.get(id)?)?,
            display_name: row.get(name)?,
            role,
        })
    };
    Ok(Appointment {
        id: appointment_id(row.get(0)?)?,
        doctor: summary(1, 2, Role::Doctor)?,
        patient: summary(3, 4, Role::Patient)?,
        start_ms: row.get(5)?,
        end_ms: row.get(6)?,
        mode: parse_text(row.get(7)?)?,
        reason: row.get(8)?,
        status: parse_text(row.get(9)?)?,
        doctor_comment: row.get(10)?,
        cancelled_by: row.get::<_, Option<String>>(11)?.map(user_id).transpose()?,
        rescheduled_from: row
            .get::<_, Option<String>>(12)?
            .map(appointment_id)
            .transpose()?,
        rescheduled_to: row
            .get::<_, Option<String>>(13)?
            .map(appointment_id)
            .transpose()?,
        notes_updated_at_ms: row.get(14)?,
        rating: row.get(15)?,
        review: row.get(16)?,
        created_at_ms: row.get(17)?,
        updated_at_ms: row.get(18)?,
        change: row.get::<_, i64>(19)?.max(0) as u64,
    })
}

pub(super) fn appointment(
    c: &Connection,
    id: AppointmentId,
) -> Result<Option<Appointment>, StoreError> {
    c.prepare_cached(&format!("{APPOINTMENT_SELECT} WHERE a.id = ?1"))
        .map_err(db_err)?
        .query_row([id.to_string()], appointment_from_row)
        .optional()
        .map_err(db_err)
}

/// The next change number; every appointment write takes one.
fn next_change(tx: &Transaction<'_>) -> Result<i64, StoreError> {
    tx.query_row(
        "UPDATE change_counters SET value = value + 1 WHERE name = 'appointments'
         RETURNING value",
        [],
        |row| row.get(0),
    )
    .map_err(db_err)
}

fn audit(
    tx: &Transaction<'_>,
    actor: UserId,
    action: AuditAction,
    id: AppointmentId,
    now_ms: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO audit_log (at, actor_id, action, appointment_id) VALUES (?1, ?2, ?3, ?4)",
        params![now_ms, actor.to_string(), action.as_str(), id.to_string()],
    )
    .map_err(db_err)?;
    Ok(())
}

/// The unique slot index refused the row.
fn slot_taken(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            StoreError::SlotTaken
        }
        other => db_err(other),
    }
}

fn insert_appointment(
    tx: &Transaction<'_>,
    id: AppointmentId,
    booking: &NewBooking,
    status: Status,
    doctor_comment: Option<&str>,
    rescheduled_from: Option<AppointmentId>,
) -> Result<(), StoreError> {
    let change = next_change(tx)?;
    tx.execute(
        "INSERT INTO appointments (id, doctor_id, patient_id, start_at, end_at, mode, reason,
             status, doctor_comment, rescheduled_from, created_at, updated_at, change_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12)",
        params![
            id.to_string(),
            booking.doctor.to_string(),
            booking.patient.to_string(),
            booking.start_ms,
            booking.end_ms,
            booking.mode.as_str(),
            booking.reason,
            status.as_str(),
            doctor_comment,
            rescheduled_from.map(|r| r.to_string()),
            booking.now_ms,
            change
        ],
    )
    .map_err(slot_taken)?;
    Ok(())
}

pub(super) fn book(c: &mut Connection, booking: NewBooking) -> Result<Appointment, StoreError> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let id = AppointmentId(uuid::Uuid::now_v7());
    insert_appointment(&tx, id, &booking, Status::Pending, None, None)?;
    let stored = appointment(&tx, id)?.ok_or(StoreError::NotFound)?;
    tx.commit().map_err(db_err)?;
    Ok(stored)
}

pub(super) fn booked_starts(
    c: &Connection,
    doctor: UserId,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<i64>, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT start_at FROM appointments
             WHERE doctor_id = ?1 AND start_at >= ?2 AND start_at < ?3
               AND status IN ('pending', 'scheduled', 'completed')
             ORDER BY start_at",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map(params![doctor.to_string(), from_ms, to_ms], |row| {
            row.get(0)
        })
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}

/// An update of one appointment, applied only while its status is still
/// `expected` (and `and` holds): `set` adds SET clauses whose parameters
/// start at `?5` (`?1` is the time).
struct Update<'a> {
    id: AppointmentId,
    expected: Status,
    set: &'a str,
    and: &'a str,
    now_ms: i64,
}

/// Applies an [`Update`], bumping the change number and `updated_at`;
/// `Conflict` if the row is no longer as expected.
fn touch(
    tx: &Transaction<'_>,
    update: Update<'_>,
    extra_params: &[&dyn rusqlite::ToSql],
) -> Result<(), StoreError> {
    let Update {
        id,
        expected,
        set,
        and,
        now_ms,
    } = update;
    let change = next_change(tx)?;
    let sql = format!(
        "UPDATE appointments SET updated_at = ?1, change_seq = ?2 {set}
         WHERE id = ?3 AND status = ?4 {and}"
    );
    let (id_text, expected) = (id.to_string(), expected.as_str());
    let mut all: Vec<&dyn rusqlite::ToSql> = vec![&now_ms, &change, &id_text, &expected];
    all.extend_from_slice(extra_params);
    let changed = tx.execute(&sql, all.as_slice()).map_err(db_err)?;
    if changed == 0 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

pub(super) fn change_appointment(
    c: &mut Connection,
    req: ChangeRequest,
) -> Result<Appointment, StoreError> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let (id, now) = (req.id, req.now_ms);
    let update = |set, and| Update {
        id,
        expected: req.expected,
        set,
        and,
        now_ms: now,
    };
    match req.change {
        Change::Status {
            to,
            doctor_comment,
            cancelled_by,
            notes,
        } => {
            let notes_written = notes.is_some();
            touch(
                &tx,
                update(
                    ", status = ?5, doctor_comment = COALESCE(?6, doctor_comment),
                       cancelled_by = COALESCE(?7, cancelled_by), notes = COALESCE(?8, notes),
                       notes_updated_at = CASE WHEN ?8 IS NULL THEN notes_updated_at ELSE ?1 END",
                    "",
                ),
                &[
                    &to.as_str(),
                    &doctor_comment,
                    &cancelled_by.map(|u| u.to_string()),
                    &notes,
                ],
            )?;
            if notes_written {
                audit(&tx, req.actor, AuditAction::NotesWritten, id, now)?;
            }
        }
        Change::Notes(text) => {
            touch(
                &tx,
                update(", notes = ?5, notes_updated_at = ?1", ""),
                &[&text],
            )?;
            audit(&tx, req.actor, AuditAction::NotesWritten, id, now)?;
        }
        Change::Amendment(text) => {
            touch(&tx, update(", notes_updated_at = ?1", ""), &[])?;
            tx.execute(
                "INSERT INTO note_amendments (appointment_id, author_id, text, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![id.to_string(), req.actor.to_string(), text, now],
            )
            .map_err(db_err)?;
            audit(&tx, req.actor, AuditAction::NotesAmended, id, now)?;
        }
        Change::Rating { rating, review } => {
            // `rating IS NULL` in the WHERE: rated once, whatever races.
            touch(
                &tx,
                update(", rating = ?5, review = ?6", "AND rating IS NULL"),
                &[&rating, &review],
            )?;
        }
    }
    let stored = appointment(&tx, id)?.ok_or(StoreError::NotFound)?;
    tx.commit().map_err(db_err)?;
    Ok(stored)
}

pub(super) fn reschedule(
    c: &mut Connection,
    req: RescheduleRequest,
) -> Result<(Appointment, Appointment), StoreError> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let old = appointment(&tx, req.id)?.ok_or(StoreError::NotFound)?;
    if old.status != Status::Scheduled {
        return Err(StoreError::Conflict);
    }
    let new_id = AppointmentId(uuid::Uuid::now_v7());
    // The old row leaves the live statuses first, which frees its slot in
    // the unique index; the link to the new row is set once that exists
    // (foreign keys are checked per statement).
    touch(
        &tx,
        Update {
            id: req.id,
            expected: Status::Scheduled,
            set: ", status = 'rescheduled', doctor_comment = COALESCE(?5, doctor_comment)",
            and: "",
            now_ms: req.now_ms,
        },
        &[&req.doctor_comment],
    )?;
    let booking = NewBooking {
        doctor: old.doctor.id,
        patient: old.patient.id,
        start_ms: req.start_ms,
        end_ms: req.end_ms,
        mode: old.mode,
        reason: old.reason.clone(),
        now_ms: req.now_ms,
    };
    insert_appointment(
        &tx,
        new_id,
        &booking,
        Status::Scheduled,
        req.doctor_comment.as_deref(),
        Some(req.id),
    )?;
    tx.execute(
        "UPDATE appointments SET rescheduled_to = ?2 WHERE id = ?1",
        params![req.id.to_string(), new_id.to_string()],
    )
    .map_err(db_err)?;
    let old = appointment(&tx, req.id)?.ok_or(StoreError::NotFound)?;
    let new = appointment(&tx, new_id)?.ok_or(StoreError::NotFound)?;
    tx.commit().map_err(db_err)?;
    Ok((old, new))
}

pub(super) fn appointments_changed(
    c: &Connection,
    user: UserId,
    since: u64,
    limit: u32,
) -> Result<(Vec<Appointment>, bool), StoreError> {
    let since = i64::try_from(since).unwrap_or(i64::MAX);
    let mut stmt = c
        .prepare_cached(&format!(
            "{APPOINTMENT_SELECT}
             WHERE (a.doctor_id = ?1 OR a.patient_id = ?1) AND a.change_seq > ?2
             ORDER BY a.change_seq LIMIT ?3"
        ))
        .map_err(db_err)?;
    let mut rows: Vec<Appointment> = stmt
        .query_map(
            params![user.to_string(), since, i64::from(limit) + 1],
            appointment_from_row,
        )
        .map_err(db_err)?
        .collect::<Result<_, _>>()
        .map_err(db_err)?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    Ok((rows, more))
}

pub(super) fn read_notes(
    c: &mut Connection,
    id: AppointmentId,
    reader: UserId,
    now_ms: i64,
) -> Result<Notes, StoreError> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let (text, written_at_ms, status) = tx
        .query_row(
            "SELECT notes, notes_updated_at, status FROM appointments WHERE id = ?1",
            [id.to_string()],
            |row| {
                Ok((
                    row.get::<_, Option<String>>(0)?,
                    row.get::<_, Option<i64>>(1)?,
                    parse_text::<Status>(row.get(2)?)?,
                ))
            },
        )
        .optional()
        .map_err(db_err)?
        .ok_or(StoreError::NotFound)?;
    let amendments = tx
        .prepare_cached(
            "SELECT author_id, text, created_at FROM note_amendments
             WHERE appointment_id = ?1 ORDER BY id",
        )
        .map_err(db_err)?
        .query_map([id.to_string()], |row| {
            Ok(Amendment {
                author: user_id(row.get(0)?)?,
                text: row.get(1)?,
                at_ms: row.get(2)?,
            })
        })
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)?;
    audit(&tx, reader, AuditAction::NotesRead, id, now_ms)?;
    tx.commit().map_err(db_err)?;
    Ok(Notes {
        appointment_id: id,
        text,
        written_at_ms,
        locked: status == Status::Completed,
        amendments,
    })
}

pub(super) fn audit_notes_refused(
    c: &Connection,
    id: AppointmentId,
    actor: UserId,
    now_ms: i64,
) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO audit_log (at, actor_id, action, appointment_id)
         SELECT ?1, ?2, ?3, id FROM appointments WHERE id = ?4",
    )
    .map_err(db_err)?
    .execute(params![
        now_ms,
        actor.to_string(),
        AuditAction::NotesRefused.as_str(),
        id.to_string()
    ])
    .map_err(db_err)?;
    Ok(())
}

pub(super) fn audit_log(c: &Connection, q: AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
    let before = q.before.map(|b| i64::try_from(b).unwrap_or(i64::MAX));
    let mut stmt = c
        .prepare_cached(
            "SELECT id, at, actor_id, action, appointment_id FROM audit_log
             WHERE (?1 IS NULL OR appointment_id = ?1) AND (?2 IS NULL OR actor_id = ?2)
               AND (?3 IS NULL OR id < ?3)
             ORDER BY id DESC LIMIT ?4",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map(
            params![
                q.appointment.map(|a| a.to_string()),
                q.actor.map(|u| u.to_string()),
                before,
                q.limit
            ],
            |row| {
                Ok(AuditEntry {
                    id: row.get::<_, i64>(0)?.max(0) as u64,
                    at_ms: row.get(1)?,
                    actor: user_id(row.get(2)?)?,
                    action: parse_text(row.get(3)?)?,
                    appointment_id: appointment_id(row.get(4)?)?,
                })
            },
        )
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}

// ------------------------------------------------------------------ visits

pub(super) fn visits(c: &Connection, id: AppointmentId) -> Result<Vec<Visit>, StoreError> {
    let calls = c
        .prepare_cached(&format!(
            "{CALL_SELECT} WHERE appointment_id = ?1 ORDER BY rung_at"
        ))
        .map_err(db_err)?
        .query_map([id.to_string()], call_record_from_row)
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)?;
    let mut stmt = c
        .prepare_cached(
            "SELECT user_id, summary, reported_at FROM call_quality
             WHERE call_id = ?1 ORDER BY reported_at, user_id",
        )
        .map_err(db_err)?;
    let mut visits = Vec::with_capacity(calls.len());
    for call in calls {
        let quality = stmt
            .query_map([call.id.to_string()], |row| {
                let summary: String = row.get(1)?;
                Ok(QualityReport {
                    user: user_id(row.get(0)?)?,
                    summary: serde_json::from_str(&summary).map_err(conversion)?,
                    reported_at_ms: row.get(2)?,
                })
            })
            .map_err(db_err)?
            .collect::<Result<_, _>>()
            .map_err(db_err)?;
        visits.push(Visit { call, quality });
    }
    Ok(visits)
}

pub(super) fn put_call_quality(
    c: &mut Connection,
    call: CallId,
    user: UserId,
    summary: QualitySummary,
    now_ms: i64,
) -> Result<(), StoreError> {
    let summary = serde_json::to_string(&summary).map_err(db_err)?;
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let ended = tx
        .query_row(
            "SELECT ended_at IS NOT NULL FROM calls
             WHERE id = ?1 AND (caller_id = ?2 OR callee_id = ?2)",
            params![call.to_string(), user.to_string()],
            |row| row.get::<_, bool>(0),
        )
        .optional()
        .map_err(db_err)?
        .ok_or(StoreError::NotFound)?;
    if !ended {
        return Err(StoreError::Conflict);
    }
    tx.execute(
        "INSERT INTO call_quality (call_id, user_id, summary, reported_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (call_id, user_id) DO UPDATE SET
             summary = excluded.summary, reported_at = excluded.reported_at",
        params![call.to_string(), user.to_string(), summary, now_ms],
    )
    .map_err(db_err)?;
    tx.commit().map_err(db_err)
}
