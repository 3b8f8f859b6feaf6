//! Persistent storage behind one trait, so the server runs on embedded
//! SQLite today and on PostgreSQL later through the same code paths.

mod sqlite;
mod sqlite_appointments;
mod sqlite_chat;

pub use sqlite::SqliteStore;

use async_trait::async_trait;
use clinicall_protocol::appointments::{
    Appointment, AuditEntry, DoctorProfile, Mode, Notes, ProfileDetails, QualitySummary, Status,
    Visit,
};
use clinicall_protocol::chat::{AttachmentMeta, ChatMessage, ConversationSummary};
use clinicall_protocol::rest::{Account, CallRecord};
use clinicall_protocol::{
    AppointmentId, AttachmentId, CallId, ConversationId, EndReason, MessageId, Role, UserId,
    UserSummary,
};
use std::path::Path;
use uuid::Uuid;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An account with this email exists.
    #[error("email already registered")]
    EmailTaken,
    /// The referenced row does not exist (or, for chat, the user is not a
    /// party to the conversation).
    #[error("not found")]
    NotFound,
    /// A chat message id already names a message of another sender or
    /// another conversation.
    #[error("message id already used by another message")]
    MessageIdTaken,
    /// A chat message names an attachment its sender did not upload to
    /// that conversation.
    #[error("attachment {0} was not uploaded by the sender to this conversation")]
    AttachmentNotUsable(AttachmentId),
    /// Booking: the doctor already has a live appointment at this start
    /// (the database's unique index said so).
    #[error("slot taken")]
    SlotTaken,
    /// The appointment is no longer in the state the change was decided
    /// for (a concurrent change won); nothing changed.
    #[error("appointment changed concurrently")]
    Conflict,
    /// The database failed; the operation changed nothing.
    #[error("database error: {0}")]
    Database(String),
}

/// An account with its password hash, for login.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The account.
    pub account: Account,
    /// PHC-format argon2id hash.
    pub password_hash: String,
}

/// Why a refresh token could not be exchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshRejection {
    /// No such token.
    Unknown,
    /// Past its expiry.
    Expired,
    /// Its login was revoked (logout, or earlier reuse).
    Revoked,
    /// Already exchanged once: a sign of theft, so the whole login (this
    /// id) has now been revoked.
    Reused(Uuid),
}

/// A successful refresh: who, and which login it continues.
#[derive(Clone, Debug)]
pub struct Refreshed {
    /// The account.
    pub account: Account,
    /// The login (auth session) the new tokens belong to.
    pub session_id: Uuid,
}

/// The state of one call, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct CallRow {
    /// The call.
    pub id: CallId,
    /// Who called.
    pub caller: UserId,
    /// Who was called.
    pub callee: UserId,
    /// Appointment given with the invite.
    pub appointment_id: Option<String>,
    /// Unix ms when it started ringing.
    pub rung_at_ms: i64,
}

/// The end of a call.
#[derive(Clone, Debug, PartialEq)]
pub struct CallEnd {
    /// The call.
    pub id: CallId,
    /// Unix ms.
    pub ended_at_ms: i64,
    /// Why.
    pub reason: EndReason,
    /// Whose action ended it.
    pub ended_by: Option<UserId>,
    /// Answer-to-end time, for answered calls.
    pub duration_ms: Option<i64>,
}

/// A conversation's two parties.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConversationRow {
    /// The conversation.
    pub id: ConversationId,
    /// Its patient.
    pub patient: UserId,
    /// Its doctor.
    pub doctor: UserId,
}

impl ConversationRow {
    /// The other party, if `user` is one of the two.
    pub fn peer_of(&self, user: UserId) -> Option<UserId> {
        if user == self.patient {
            Some(self.doctor)
        } else if user == self.doctor {
            Some(self.patient)
        } else {
            None
        }
    }
}

/// A chat message to store.
#[derive(Clone, Debug)]
pub struct NewChatMessage {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The sender's id for it.
    pub id: MessageId,
    /// Who sends it (must be a party).
    pub sender: UserId,
    /// The text.
    pub body: String,
    /// Attachments, which the sender must have uploaded to this conversation.
    pub attachments: Vec<AttachmentId>,
    /// Unix ms.
    pub now_ms: i64,
}

/// What storing a chat message did.
#[derive(Clone, Debug, PartialEq)]
pub enum Stored {
    /// Stored now with the next seq; `peer` is the other party.
    New {
        /// The message as stored.
        message: ChatMessage,
        /// The recipient.
        peer: UserId,
    },
    /// The same sender already stored a message with this id in this
    /// conversation: nothing changed, here is the original.
    Duplicate(ChatMessage),
}

/// Which page of a conversation to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// Messages with a greater seq, oldest first.
    After(u64),
    /// Messages with a smaller seq, newest first.
    Before(u64),
    /// The newest messages, newest first.
    Newest,
}

/// An uploaded attachment, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentRow {
    /// What clients see.
    pub meta: AttachmentMeta,
    /// The conversation it was uploaded to.
    pub conversation_id: ConversationId,
    /// Who uploaded it.
    pub uploader: UserId,
    /// Unix ms.
    pub created_at_ms: i64,
}

/// A booking to store (status `pending`).
#[derive(Clone, Debug)]
pub struct NewBooking {
    /// The doctor.
    pub doctor: UserId,
    /// The patient.
    pub patient: UserId,
    /// Slot start and end, Unix ms.
    pub start_ms: i64,
    /// Slot end, Unix ms.
    pub end_ms: i64,
    /// Video or chat.
    pub mode: Mode,
    /// The patient's reason.
    pub reason: String,
    /// Unix ms.
    pub now_ms: i64,
}

/// A change to one appointment, applied only if its status is still
/// `expected` (compare and set).
#[derive(Clone, Debug)]
pub struct ChangeRequest {
    /// The appointment.
    pub id: AppointmentId,
    /// Who makes the change (for the audit log when notes are written).
    pub actor: UserId,
    /// The status the change was decided for.
    pub expected: Status,
    /// What changes.
    pub change: Change,
    /// Unix ms.
    pub now_ms: i64,
}

/// What a [`ChangeRequest`] changes.
#[derive(Clone, Debug)]
pub enum Change {
    /// A workflow transition.
    Status {
        /// The new status.
        to: Status,
        /// Replaces the doctor's comment when given.
        doctor_comment: Option<String>,
        /// Who cancelled, for `cancelled`.
        cancelled_by: Option<UserId>,
        /// Replaces the notes when given (on completion).
        notes: Option<String>,
    },
    /// Draft notes replaced.
    Notes(String),
    /// An amendment to final notes.
    Amendment(String),
    /// The patient's rating; refused (`Conflict`) if one exists.
    Rating {
        /// 1 to 5.
        rating: u8,
        /// Optional text.
        review: Option<String>,
    },
}

/// A reschedule: the old appointment becomes `rescheduled` and a new
/// `scheduled` one takes the new slot, in one transaction.
#[derive(Clone, Debug)]
pub struct RescheduleRequest {
    /// The appointment to move (must still be `scheduled`).
    pub id: AppointmentId,
    /// New slot start, Unix ms.
    pub start_ms: i64,
    /// New slot end, Unix ms.
    pub end_ms: i64,
    /// The doctor's comment, on both.
    pub doctor_comment: Option<String>,
    /// Unix ms.
    pub now_ms: i64,
}

/// Which audit entries to list, newest first.
#[derive(Clone, Copy, Debug, Default)]
pub struct AuditQuery {
    /// Only this appointment's.
    pub appointment: Option<AppointmentId>,
    /// Only this user's.
    pub actor: Option<UserId>,
    /// Only entries with a smaller id (paging back).
    pub before: Option<u64>,
    /// At most this many.
    pub limit: u32,
}

/// Everything the server persists.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Creates an account. `email` must already be normalized (lower case).
    async fn create_user(
        &self,
        account: Account,
        password_hash: String,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// The account and hash for a (normalized) email.
    async fn credentials_by_email(&self, email: &str) -> Result<Option<Credentials>, StoreError>;
    /// An account by id.
    async fn account(&self, id: UserId) -> Result<Option<Account>, StoreError>;
    /// All accounts, for admins.
    async fn list_accounts(&self) -> Result<Vec<Account>, StoreError>;
    /// Replaces a password hash and revokes every login of the account.
    async fn set_password(
        &self,
        id: UserId,
        password_hash: String,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// Starts a login with its first refresh token (stored as a hash).
    async fn create_auth_session(
        &self,
        session_id: Uuid,
        user: UserId,
        refresh_hash: [u8; 32],
        refresh_expires_ms: i64,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Exchanges a refresh token for a new one, atomically. Reuse of a spent
    /// token revokes the whole login.
    async fn rotate_refresh_token(
        &self,
        old_hash: [u8; 32],
        new_hash: [u8; 32],
        new_expires_ms: i64,
        now_ms: i64,
    ) -> Result<Result<Refreshed, RefreshRejection>, StoreError>;
    /// The login a refresh token belongs to, if the token is known.
    async fn auth_session_of_refresh(&self, hash: [u8; 32]) -> Result<Option<Uuid>, StoreError>;
    /// Ends a login. Returns whether it was active.
    async fn revoke_auth_session(&self, session_id: Uuid, now_ms: i64) -> Result<bool, StoreError>;
    /// Whether a login is active (exists, not revoked).
    async fn auth_session_active(&self, session_id: Uuid) -> Result<bool, StoreError>;

    /// Records that a doctor looks after a patient (idempotent).
    async fn add_care_relation(
        &self,
        doctor: UserId,
        patient: UserId,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// A user's care-relation contacts: their patients (doctor), their
    /// doctors (patient), nobody (admin).
    async fn contacts(&self, user: UserId, role: Role) -> Result<Vec<UserSummary>, StoreError>;

    /// Records a new call (ringing, or ended at once for busy/unavailable).
    async fn insert_call(&self, call: CallRow) -> Result<(), StoreError>;
    /// Records the answer.
    async fn call_answered(&self, id: CallId, at_ms: i64) -> Result<(), StoreError>;
    /// Records the end.
    async fn call_ended(&self, end: CallEnd) -> Result<(), StoreError>;
    /// Calls a user took part in (all calls when `user` is `None`), newest
    /// first.
    async fn calls(&self, user: Option<UserId>, limit: u32) -> Result<Vec<CallRecord>, StoreError>;

    /// Finds or creates the conversation of a patient and a doctor.
    async fn open_conversation(
        &self,
        patient: UserId,
        doctor: UserId,
        now_ms: i64,
    ) -> Result<ConversationId, StoreError>;
    /// A conversation's parties.
    async fn conversation(&self, id: ConversationId)
    -> Result<Option<ConversationRow>, StoreError>;
    /// `user`'s conversations (only `only`, when given), newest activity
    /// first, with read positions and unread counts as `user` sees them.
    async fn conversation_summaries(
        &self,
        user: UserId,
        only: Option<ConversationId>,
    ) -> Result<Vec<ConversationSummary>, StoreError>;
    /// Stores a message with the conversation's next seq, in one
    /// transaction; a resend of a stored id is recognised. `NotFound` when
    /// the conversation does not exist or the sender is not a party.
    async fn store_chat_message(&self, message: NewChatMessage) -> Result<Stored, StoreError>;
    /// A page of a conversation's messages (at most `limit`), and whether
    /// more match beyond it.
    async fn chat_messages(
        &self,
        conversation: ConversationId,
        page: Page,
        limit: u32,
    ) -> Result<(Vec<ChatMessage>, bool), StoreError>;
    /// Moves `user`'s read position forward to `up_to_seq` (capped at the
    /// newest message; never backwards). Returns the position now stored and
    /// whether it moved.
    async fn mark_read(
        &self,
        conversation: ConversationId,
        user: UserId,
        up_to_seq: u64,
    ) -> Result<(u64, bool), StoreError>;
    /// Records an uploaded attachment.
    async fn insert_attachment(&self, attachment: AttachmentRow) -> Result<(), StoreError>;
    /// An attachment by id.
    async fn attachment(&self, id: AttachmentId) -> Result<Option<AttachmentRow>, StoreError>;

    /// A doctor's profile (defaults if never written); `None` if `id` is
    /// not a doctor.
    async fn doctor_profile(&self, id: UserId) -> Result<Option<DoctorProfile>, StoreError>;
    /// Writes a doctor's profile. `NotFound` if `id` is not a doctor.
    async fn put_doctor_profile(
        &self,
        id: UserId,
        details: ProfileDetails,
        now_ms: i64,
    ) -> Result<DoctorProfile, StoreError>;
    /// Doctors whose name contains `name` and whose specialization is
    /// `specialization` (both case-insensitive, both optional), ordered by
    /// name then id.
    async fn search_doctors(
        &self,
        name: Option<String>,
        specialization: Option<String>,
    ) -> Result<Vec<DoctorProfile>, StoreError>;
    /// Starts of the doctor's live (pending, scheduled, completed)
    /// appointments in `[from_ms, to_ms)`.
    async fn booked_starts(
        &self,
        doctor: UserId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<i64>, StoreError>;
    /// Stores a booking; `SlotTaken` if the slot is held.
    async fn book(&self, booking: NewBooking) -> Result<Appointment, StoreError>;
    /// An appointment by id.
    async fn appointment(&self, id: AppointmentId) -> Result<Option<Appointment>, StoreError>;
    /// Applies a change if the status is still the expected one
    /// (`Conflict` otherwise). Notes written are audited in the same
    /// transaction.
    async fn change_appointment(&self, req: ChangeRequest) -> Result<Appointment, StoreError>;
    /// Moves a scheduled appointment to a new slot: returns the old (now
    /// `rescheduled`) and the new one. `SlotTaken` or `Conflict` change
    /// nothing.
    async fn reschedule(
        &self,
        req: RescheduleRequest,
    ) -> Result<(Appointment, Appointment), StoreError>;
    /// `user`'s appointments (as doctor or patient) changed after `since`,
    /// in change order, at most `limit`, and whether more follow.
    async fn appointments_changed(
        &self,
        user: UserId,
        since: u64,
        limit: u32,
    ) -> Result<(Vec<Appointment>, bool), StoreError>;
    /// Reads an appointment's notes and amendments, recording the read in
    /// the audit log in the same transaction.
    async fn read_notes(
        &self,
        id: AppointmentId,
        reader: UserId,
        now_ms: i64,
    ) -> Result<Notes, StoreError>;
    /// The calls labelled with this appointment, oldest first, with the
    /// parties' quality reports.
    async fn appointment_visits(&self, id: AppointmentId) -> Result<Vec<Visit>, StoreError>;
    /// Stores (or replaces) a party's quality report on an ended call.
    /// `NotFound` if the call does not exist or `user` is not a party;
    /// `Conflict` if it has not ended.
    async fn put_call_quality(
        &self,
        call: CallId,
        user: UserId,
        summary: QualitySummary,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Records that `actor` was refused access to the notes of `id`, if
    /// that appointment exists (a made-up id has nothing to audit).
    async fn audit_notes_refused(
        &self,
        id: AppointmentId,
        actor: UserId,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Audit entries, newest first.
    async fn audit_log(&self, query: AuditQuery) -> Result<Vec<AuditEntry>, StoreError>;

    /// Writes a consistent copy of the database to `path`.
    async fn backup(&self, path: &Path) -> Result<(), StoreError>;
}
