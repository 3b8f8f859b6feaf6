//! The embedded SQLite store. One connection behind a mutex, used from
//! tokio's blocking pool: signaling does few writes (logins, call records),
//! and a single writer is what SQLite wants anyway.

use super::sqlite_appointments as appts;
use super::sqlite_chat as chat;
use super::{
    AttachmentRow, AuditQuery, CallEnd, CallRow, ChangeRequest, ConversationRow, Credentials,
    NewBooking, NewChatMessage, Page, RefreshRejection, Refreshed, RescheduleRequest, Store,
    StoreError, Stored,
};
use async_trait::async_trait;
use clinicall_protocol::appointments::{
    Appointment, AuditEntry, DoctorProfile, Notes, ProfileDetails, QualitySummary, Visit,
};
use clinicall_protocol::chat::{ChatMessage, ConversationSummary};
use clinicall_protocol::rest::{Account, CallRecord};
use clinicall_protocol::{
    AppointmentId, AttachmentId, CallId, ConversationId, EndReason, Role, UserId, UserSummary,
};
use rusqlite::{Connection, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};
use uuid::Uuid;

/// SQLite-backed [`Store`].
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("../../migrations/0001_init.sql")),
        M::up(include_str!("../../migrations/0002_chat.sql")),
        M::up(include_str!("../../migrations/0003_appointments.sql")),
        M::up(include_str!("../../migrations/0004_call_quality.sql")),
    ])
}

pub(super) fn db_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Database(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up
    /// to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(db_err)?;
        }
        let mut conn = Connection::open(path).map_err(db_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(db_err)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(db_err)?;
        migrations().to_latest(&mut conn).map_err(db_err)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` on the connection in the blocking pool.
    async fn with<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a half-done
            // transaction behind (rusqlite rolls back on drop), so a
            // poisoned lock is safe to keep using.
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(db_err)?
    }
}

pub(super) fn parse_id(s: String) -> Result<Uuid, rusqlite::Error> {
    Uuid::parse_str(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

pub(super) fn parse_role(s: String) -> Result<Role, rusqlite::Error> {
    s.parse::<Role>().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

fn account_from_row(row: &rusqlite::Row<'_>) -> Result<Account, rusqlite::Error> {
    Ok(Account {
        id: UserId(parse_id(row.get(0)?)?),
        email: row.get(1)?,
        display_name: row.get(2)?,
        role: parse_role(row.get(3)?)?,
    })
}

fn summary_from_row(row: &rusqlite::Row<'_>) -> Result<UserSummary, rusqlite::Error> {
    Ok(UserSummary {
        id: UserId(parse_id(row.get(0)?)?),
        display_name: row.get(1)?,
        role: parse_role(row.get(2)?)?,
    })
}

fn rfc3339(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

pub(super) const CALL_SELECT: &str =
    "SELECT id, caller_id, callee_id, appointment_id, rung_at, answered_at, ended_at,
            end_reason, ended_by, duration_ms
     FROM calls";

pub(super) fn call_record_from_row(row: &rusqlite::Row<'_>) -> Result<CallRecord, rusqlite::Error> {
    let ended_by: Option<String> = row.get(8)?;
    let end_reason: Option<String> = row.get(7)?;
    Ok(CallRecord {
        id: CallId(parse_id(row.get(0)?)?),
        caller: UserId(parse_id(row.get(1)?)?),
        callee: UserId(parse_id(row.get(2)?)?),
        appointment_id: row.get(3)?,
        rung_at: rfc3339(row.get(4)?),
        answered_at: row.get::<_, Option<i64>>(5)?.map(rfc3339),
        ended_at: row.get::<_, Option<i64>>(6)?.map(rfc3339),
        end_reason: end_reason.as_deref().map(end_reason_from_str),
        ended_by: ended_by.map(parse_id).transpose()?.map(UserId),
        duration_ms: row.get::<_, Option<i64>>(9)?.map(|d| d.max(0) as u64),
    })
}

fn end_reason_from_str(s: &str) -> EndReason {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).unwrap_or(EndReason::Unknown)
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.with(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(db_err))
            .await
    }

    async fn create_user(
        &self,
        account: Account,
        password_hash: String,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.with(move |c| {
            let result = c.execute(
                "INSERT INTO users (id, email, display_name, role, password_hash, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    account.id.to_string(),
                    account.email,
                    account.display_name,
                    account.role.as_str(),
                    password_hash,
                    now_ms
                ],
            );
            match result {
                Ok(_) => Ok(()),
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    Err(StoreError::EmailTaken)
                }
                Err(e) => Err(db_err(e)),
            }
        })
        .await
    }

    async fn credentials_by_email(&self, email: &str) -> Result<Option<Credentials>, StoreError> {
        let email = email.to_owned();
        self.with(move |c| {
            c.query_row(
                "SELECT id, email, display_name, role, password_hash FROM users WHERE email = ?1",
                [email],
                |row| {
                    Ok(Credentials {
                        account: account_from_row(row)?,
                        password_hash: row.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn account(&self, id: UserId) -> Result<Option<Account>, StoreError> {
        self.with(move |c| {
            c.query_row(
                "SELECT id, email, display_name, role FROM users WHERE id = ?1",
                [id.to_string()],
                account_from_row,
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.with(|c| {
            let mut stmt = c
                .prepare("SELECT id, email, display_name, role FROM users ORDER BY email")
                .map_err(db_err)?;
            let rows = stmt.query_map([], account_from_row).map_err(db_err)?;
            rows.collect::<Result<_, _>>().map_err(db_err)
        })
        .await
    }

    async fn set_password(
        &self,
        id: UserId,
        password_hash: String,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.with(move |c| {
            let tx = c.transaction().map_err(db_err)?;
            let changed = tx
                .execute(
                    "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                    params![id.to_string(), password_hash],
                )
                .map_err(db_err)?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            tx.execute(
                "UPDATE auth_sessions SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
                params![id.to_string(), now_ms],
            )
            .map_err(db_err)?;
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn create_auth_session(
        &self,
        session_id: Uuid,
        user: UserId,
        refresh_hash: [u8; 32],
        refresh_expires_ms: i64,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.with(move |c| {
            let tx = c.transaction().map_err(db_err)?;
            tx.execute(
                "INSERT INTO auth_sessions (id, user_id, created_at) VALUES (?1, ?2, ?3)",
                params![session_id.to_string(), user.to_string(), now_ms],
            )
            .map_err(db_err)?;
            tx.execute(
                "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES (?1, ?2, ?3)",
                params![&refresh_hash[..], session_id.to_string(), refresh_expires_ms],
            )
            .map_err(db_err)?;
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: [u8; 32],
        new_hash: [u8; 32],
        new_expires_ms: i64,
        now_ms: i64,
    ) -> Result<Result<Refreshed, RefreshRejection>, StoreError> {
        self.with(move |c| {
            let tx = c.transaction().map_err(db_err)?;
            let found = tx
                .query_row(
                    "SELECT t.session_id, t.expires_at, t.used_at, s.revoked_at,
                            u.id, u.email, u.display_name, u.role
                     FROM refresh_tokens t
                     JOIN auth_sessions s ON s.id = t.session_id
                     JOIN users u ON u.id = s.user_id
                     WHERE t.token_hash = ?1",
                    [&old_hash[..]],
                    |row| {
                        let session: String = row.get(0)?;
                        let expires_at: i64 = row.get(1)?;
                        let used_at: Option<i64> = row.get(2)?;
                        let revoked_at: Option<i64> = row.get(3)?;
                        let account = Account {
                            id: UserId(parse_id(row.get(4)?)?),
                            email: row.get(5)?,
                            display_name: row.get(6)?,
                            role: parse_role(row.get(7)?)?,
                        };
                        Ok((parse_id(session)?, expires_at, used_at, revoked_at, account))
                    },
                )
                .optional()
                .map_err(db_err)?;
            let Some((session_id, expires_at, used_at, revoked_at, account)) = found else {
                return Ok(Err(RefreshRejection::Unknown));
            };
            if revoked_at.is_some() {
                return Ok(Err(RefreshRejection::Revoked));
            }
            if used_at.is_some() {
                // Someone presents a token that was already exchanged: either
                // the client retried a lost reply or the token was stolen.
                // Either way, end the login so a thief's copy dies too.
                tx.execute(
                    "UPDATE auth_sessions SET revoked_at = ?2 WHERE id = ?1",
                    params![session_id.to_string(), now_ms],
                )
                .map_err(db_err)?;
                tx.commit().map_err(db_err)?;
                return Ok(Err(RefreshRejection::Reused(session_id)));
            }
            if expires_at <= now_ms {
                return Ok(Err(RefreshRejection::Expired));
            }
            tx.execute(
                "UPDATE refresh_tokens SET used_at = ?2 WHERE token_hash = ?1",
                params![&old_hash[..], now_ms],
            )
            .map_err(db_err)?;
            tx.execute(
                "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES (?1, ?2, ?3)",
                params![&new_hash[..], session_id.to_string(), new_expires_ms],
            )
            .map_err(db_err)?;
            tx.commit().map_err(db_err)?;
            Ok(Ok(Refreshed {
                account,
                session_id,
            }))
        })
        .await
    }

    async fn auth_session_of_refresh(&self, hash: [u8; 32]) -> Result<Option<Uuid>, StoreError> {
        self.with(move |c| {
            c.query_row(
                "SELECT session_id FROM refresh_tokens WHERE token_hash = ?1",
                [&hash[..]],
                |row| parse_id(row.get(0)?),
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn revoke_auth_session(&self, session_id: Uuid, now_ms: i64) -> Result<bool, StoreError> {
        self.with(move |c| {
            let changed = c
                .execute(
                    "UPDATE auth_sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                    params![session_id.to_string(), now_ms],
                )
                .map_err(db_err)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn auth_session_active(&self, session_id: Uuid) -> Result<bool, StoreError> {
        self.with(move |c| {
            c.query_row(
                "SELECT revoked_at IS NULL FROM auth_sessions WHERE id = ?1",
                [session_id.to_string()],
                |row| row.get::<_, bool>(0),
            )
            .optional()
            .map(|active| active.unwrap_or(false))
            .map_err(db_err)
        })
        .await
    }

    async fn add_care_relation(
        &self,
        doctor: UserId,
        patient: UserId,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.with(move |c| {
            c.execute(
                "INSERT OR IGNORE INTO care_relations (doctor_id, patient_id, created_at)
                 VALUES (?1, ?2, ?3)",
                params![doctor.to_string(), patient.to_string(), now_ms],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn contacts(&self, user: UserId, role: Role) -> Result<Vec<UserSummary>, StoreError> {
        self.with(move |c| {
            let sql = match role {
                Role::Admin => return Ok(Vec::new()),
                Role::Doctor => {
                    "SELECT u.id, u.display_name, u.role FROM care_relations r
                     JOIN users u ON u.id = r.patient_id
                     WHERE r.doctor_id = ?1 ORDER BY u.display_name"
                }
                Role::Patient => {
                    "SELECT u.id, u.display_name, u.role FROM care_relations r
                     JOIN users u ON u.id = r.doctor_id
                     WHERE r.patient_id = ?1 ORDER BY u.display_name"
                }
            };
            let mut stmt = c.prepare_cached(sql).map_err(db_err)?;
            let rows = stmt
                .query_map([user.to_string()], summary_from_row)
                .map_err(db_err)?;
            rows.collect::<Result<_, _>>().map_err(db_err)
        })
        .await
    }

    async fn insert_call(&self, call: CallRow) -> Result<(), StoreError> {
        self.with(move |c| {
            c.execute(
                "INSERT INTO calls (id, caller_id, callee_id, appointment_id, rung_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    call.id.to_string(),
                    call.caller.to_string(),
                    call.callee.to_string(),
                    call.appointment_id,
                    call.rung_at_ms
                ],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn call_answered(&self, id: CallId, at_ms: i64) -> Result<(), StoreError> {
        self.with(move |c| {
            c.execute(
                "UPDATE calls SET answered_at = ?2 WHERE id = ?1",
                params![id.to_string(), at_ms],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn call_ended(&self, end: CallEnd) -> Result<(), StoreError> {
        self.with(move |c| {
            c.execute(
                "UPDATE calls SET ended_at = ?2, end_reason = ?3, ended_by = ?4, duration_ms = ?5
                 WHERE id = ?1 AND ended_at IS NULL",
                params![
                    end.id.to_string(),
                    end.ended_at_ms,
                    end.reason.as_str(),
                    end.ended_by.map(|u| u.to_string()),
                    end.duration_ms
                ],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn calls(&self, user: Option<UserId>, limit: u32) -> Result<Vec<CallRecord>, StoreError> {
        self.with(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "{CALL_SELECT}
                     WHERE ?1 IS NULL OR caller_id = ?1 OR callee_id = ?1
                     ORDER BY rung_at DESC LIMIT ?2"
                ))
                .map_err(db_err)?;
            let rows = stmt
                .query_map(
                    params![user.map(|u| u.to_string()), limit],
                    call_record_from_row,
                )
                .map_err(db_err)?;
            rows.collect::<Result<_, _>>().map_err(db_err)
        })
        .await
    }

    async fn appointment_visits(&self, id: AppointmentId) -> Result<Vec<Visit>, StoreError> {
        self.with(move |c| appts::visits(c, id)).await
    }

    async fn put_call_quality(
        &self,
        call: CallId,
        user: UserId,
        summary: QualitySummary,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.with(move |c| appts::put_call_quality(c, call, user, summary, now_ms))
            .await
    }

    async fn open_conversation(
        &self,
        patient: UserId,
        doctor: UserId,
        now_ms: i64,
    ) -> Result<ConversationId, StoreError> {
        self.with(move |c| chat::open_conversation(c, patient, doctor, now_ms))
            .await
    }

    async fn conversation(
        &self,
        id: ConversationId,
    ) -> Result<Option<ConversationRow>, StoreError> {
        self.with(move |c| chat::conversation(c, id)).await
    }

    async fn conversation_summaries(
        &self,
        user: UserId,
        only: Option<ConversationId>,
    ) -> Result<Vec<ConversationSummary>, StoreError> {
        self.with(move |c| chat::conversation_summaries(c, user, only))
            .await
    }

    async fn store_chat_message(&self, message: NewChatMessage) -> Result<Stored, StoreError> {
        self.with(move |c| chat::store_chat_message(c, message))
            .await
    }

    async fn chat_messages(
        &self,
        conversation: ConversationId,
        page: Page,
        limit: u32,
    ) -> Result<(Vec<ChatMessage>, bool), StoreError> {
        self.with(move |c| chat::chat_messages(c, conversation, page, limit))
            .await
    }

    async fn mark_read(
        &self,
        conversation: ConversationId,
        user: UserId,
        up_to_seq: u64,
    ) -> Result<(u64, bool), StoreError> {
        self.with(move |c| chat::mark_read(c, conversation, user, up_to_seq))
            .await
    }

    async fn insert_attachment(&self, attachment: AttachmentRow) -> Result<(), StoreError> {
        self.with(move |c| chat::insert_attachment(c, attachment))
            .await
    }

    async fn attachment(&self, id: AttachmentId) -> Result<Option<AttachmentRow>, StoreError> {
        self.with(move |c| chat::attachment(c, id)).await
    }

    async fn doctor_profile(&self, id: UserId) -> Result<Option<DoctorProfile>, StoreError> {
        self.with(move |c| appts::doctor_profile(c, id)).await
    }

    async fn put_doctor_profile(
        &self,
        id: UserId,
        details: ProfileDetails,
        now_ms: i64,
    ) -> Result<DoctorProfile, StoreError> {
        self.with(move |c| appts::put_doctor_profile(c, id, details, now_ms))
            .await
    }

    async fn search_doctors(
        &self,
        name: Option<String>,
        specialization: Option<String>,
    ) -> Result<Vec<DoctorProfile>, StoreError> {
        self.with(move |c| appts::search_doctors(c, name, specialization))
            .await
    }

    async fn booked_starts(
        &self,
        doctor: UserId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<i64>, StoreError> {
        self.with(move |c| appts::booked_starts(c, doctor, from_ms, to_ms))
            .await
    }

    async fn book(&self, booking: NewBooking) -> Result<Appointment, StoreError> {
        self.with(move |c| appts::book(c, booking)).await
    }

    async fn appointment(&self, id: AppointmentId) -> Result<Option<Appointment>, StoreError> {
        self.with(move |c| appts::appointment(c, id)).await
    }

    async fn change_appointment(&self, req: ChangeRequest) -> Result<Appointment, StoreError> {
        self.with(move |c| appts::change_appointment(c, req)).await
    }

    async fn reschedule(
        &self,
        req: RescheduleRequest,
    ) -> Result<(Appointment, Appointment), StoreError> {
        self.with(move |c| appts::reschedule(c, req)).await
    }

    async fn appointments_changed(
        &self,
        user: UserId,
        since: u64,
        limit: u32,
    ) -> Result<(Vec<Appointment>, bool), StoreError> {
        self.with(move |c| appts::appointments_changed(c, user, since, limit))
            .await
    }

    async fn read_notes(
        &self,
        id: AppointmentId,
        reader: UserId,
        now_ms: i64,
    ) -> Result<Notes, StoreError> {
        self.with(move |c| appts::read_notes(c, id, reader, now_ms))
            .await
    }

    async fn audit_notes_refused(
        &self,
        id: AppointmentId,
        actor: UserId,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.with(move |c| appts::audit_notes_refused(c, id, actor, now_ms))
            .await
    }

    async fn audit_log(&self, query: AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.with(move |c| appts::audit_log(c, query)).await
    }

    async fn backup(&self, path: &Path) -> Result<(), StoreError> {
        let path = path.to_path_buf();
        self.with(move |c| {
            if path.exists() {
                return Err(StoreError::Database(format!(
                    "{} already exists; refusing to overwrite it",
                    path.display()
                )));
            }
            // VACUUM INTO writes a consistent, compacted copy while the
            // server keeps running.
            c.execute("VACUUM INTO ?1", [path.to_string_lossy()])
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(email: &str, role: Role) -> Account {
        Account {
            id: UserId::random(),
            email: email.into(),
            display_name: email.split('@').next().unwrap().into(),
            role,
        }
    }

    #[tokio::test]
    async fn refresh_rotation_detects_reuse_and_revokes_the_login() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite3")).unwrap();
        let alice = account("alice@x.test", Role::Patient);
        store
            .create_user(alice.clone(), "hash".into(), 0)
            .await
            .unwrap();
        let sid = Uuid::new_v4();
        store
            .create_auth_session(sid, alice.id, [1; 32], 1_000, 0)
            .await
            .unwrap();

        let ok = store
            .rotate_refresh_token([1; 32], [2; 32], 2_000, 10)
            .await
            .unwrap();
        assert_eq!(ok.unwrap().session_id, sid);
        // The spent token again: reuse, and the login is gone.
        let reused = store
            .rotate_refresh_token([1; 32], [3; 32], 2_000, 20)
            .await
            .unwrap();
        assert_eq!(reused.unwrap_err(), RefreshRejection::Reused(sid));
        assert!(!store.auth_session_active(sid).await.unwrap());
        // The newer token died with the login.
        let after = store
            .rotate_refresh_token([2; 32], [4; 32], 2_000, 30)
            .await
            .unwrap();
        assert_eq!(after.unwrap_err(), RefreshRejection::Revoked);
        let unknown = store
            .rotate_refresh_token([9; 32], [5; 32], 2_000, 30)
            .await
            .unwrap();
        assert_eq!(unknown.unwrap_err(), RefreshRejection::Unknown);
    }

    #[tokio::test]
    async fn duplicate_email_is_refused_and_schema_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        {
            let store = SqliteStore::open(&path).unwrap();
            store
                .create_user(account("a@x.test", Role::Doctor), "h".into(), 0)
                .await
                .unwrap();
            let err = store
                .create_user(account("a@x.test", Role::Patient), "h".into(), 0)
                .await
                .unwrap_err();
            assert!(matches!(err, StoreError::EmailTaken));
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.list_accounts().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn contacts_follow_care_relations() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite3")).unwrap();
        let doc = account("doc@x.test", Role::Doctor);
        let other_doc = account("other@x.test", Role::Doctor);
        let pat = account("pat@x.test", Role::Patient);
        for a in [&doc, &other_doc, &pat] {
            store.create_user(a.clone(), "h".into(), 0).await.unwrap();
        }
        store.add_care_relation(doc.id, pat.id, 0).await.unwrap();
        store.add_care_relation(doc.id, pat.id, 0).await.unwrap();
        let of_doc = store.contacts(doc.id, Role::Doctor).await.unwrap();
        assert_eq!(
            of_doc.iter().map(|u| u.id).collect::<Vec<_>>(),
            vec![pat.id]
        );
        let of_pat = store.contacts(pat.id, Role::Patient).await.unwrap();
        assert_eq!(
            of_pat.iter().map(|u| u.id).collect::<Vec<_>>(),
            vec![doc.id]
        );
        assert!(
            store
                .contacts(other_doc.id, Role::Doctor)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
