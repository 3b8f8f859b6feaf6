//! The doctor directory and appointments: REST bodies of `/api/v1/doctors`
//! and `/api/v1/appointments`, and the record pushed in
//! [`ServerMessage::AppointmentChanged`](crate::ServerMessage::AppointmentChanged).
//!
//! Times are Unix milliseconds (UTC instants). A doctor's weekly schedule is
//! written in wall-clock time of the doctor's own IANA time zone, so "Monday
//! 09:00" stays 09:00 across daylight-saving changes; the server turns it
//! into instants.
//!
//! An appointment moves through [`Status`]: `pending` when booked, then
//! `scheduled` (the doctor confirmed), `completed`, `cancelled` or
//! `rescheduled` (replaced by a new appointment at another slot). Every
//! change gets a new [`Appointment::change`] number, greater than any
//! before it; clients sync with `GET /api/v1/appointments?since=<change>`.

use crate::ids::{AppointmentId, UserId};
use crate::limits::{self, ValidationError};
use crate::messages::UserSummary;
use serde::{Deserialize, Serialize};

/// Longest specialization, qualification or time zone name, in bytes.
pub const MAX_SHORT_TEXT: usize = 200;
/// Longest doctor bio, in bytes.
pub const MAX_BIO: usize = 4000;
/// Most blocks in a weekly schedule.
pub const MAX_SCHEDULE_BLOCKS: usize = 100;
/// Shortest and longest slot, in minutes.
pub const SLOT_MINUTES: std::ops::RangeInclusive<u16> = 5..=480;
/// Longest booking reason, doctor's comment or review, in bytes.
pub const MAX_COMMENT: usize = 2000;
/// Longest clinical notes or amendment, in bytes: with JSON escaping it
/// still fits the server's default 16 KiB request body limit.
pub const MAX_NOTES: usize = 12 * 1024;

/// A day of the week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    /// Monday to Sunday.
    pub const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];
}

/// Part of a doctor's week during which they see patients: slots of the
/// profile's `slot_minutes` start at `start` and follow each other while
/// they end by `end`. Times are `HH:MM` in the doctor's time zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleBlock {
    /// The day.
    pub day: Weekday,
    /// First slot starts here, `HH:MM`.
    pub start: String,
    /// Last slot ends by here, `HH:MM`, later than `start` the same day.
    pub end: String,
}

/// What a doctor (or an admin) writes into a profile: the body of
/// `PUT /api/v1/doctors/{id}/profile`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileDetails {
    /// For example "Cardiology".
    pub specialization: String,
    /// For example "MBBS, MD".
    pub qualification: String,
    /// Years in practice.
    pub years_of_experience: u16,
    /// Free text shown on the doctor's page.
    pub bio: String,
    /// IANA time zone of the schedule, for example `Europe/Berlin`.
    pub time_zone: String,
    /// Length of one slot, in minutes.
    pub slot_minutes: u16,
    /// The weekly schedule.
    pub schedule: Vec<ScheduleBlock>,
}

impl ProfileDetails {
    /// Checks lengths and ranges (the server also checks the time zone and
    /// the times).
    pub fn validate(&self) -> Result<(), ValidationError> {
        limits::check_len("specialization", &self.specialization, MAX_SHORT_TEXT)?;
        limits::check_len("qualification", &self.qualification, MAX_SHORT_TEXT)?;
        limits::check_len("bio", &self.bio, MAX_BIO)?;
        limits::check_nonempty_len("time_zone", &self.time_zone, MAX_SHORT_TEXT)?;
        if self.years_of_experience > 80 {
            return Err(invalid("years_of_experience", "must be at most 80"));
        }
        if !SLOT_MINUTES.contains(&self.slot_minutes) {
            return Err(invalid(
                "slot_minutes",
                format!(
                    "must be between {} and {}",
                    SLOT_MINUTES.start(),
                    SLOT_MINUTES.end()
                ),
            ));
        }
        if self.schedule.len() > MAX_SCHEDULE_BLOCKS {
            return Err(invalid(
                "schedule",
                format!("has more than {MAX_SCHEDULE_BLOCKS} blocks"),
            ));
        }
        Ok(())
    }
}

/// A doctor as the directory shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoctorProfile {
    /// The doctor's account id.
    pub id: UserId,
    /// Their name.
    pub display_name: String,
    /// The profile; empty texts and no schedule until one is written.
    #[serde(flatten)]
    pub details: ProfileDetails,
    /// When the profile was last written (Unix ms); absent if never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at_ms: Option<i64>,
}

/// Reply of `GET /api/v1/doctors`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoctorPage {
    /// Ordered by name, then id.
    pub doctors: Vec<DoctorProfile>,
    /// Pass as `offset` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u32>,
}

/// One slot of a doctor's schedule (`GET /api/v1/doctors/{id}/slots`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// Start, Unix ms.
    pub start_ms: i64,
    /// End, Unix ms.
    pub end_ms: i64,
    /// Nobody holds it.
    pub free: bool,
}

/// How the visit happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A video call.
    Video,
    /// A chat conversation.
    Chat,
}

impl Mode {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Video => "video",
            Mode::Chat => "chat",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "video" => Ok(Mode::Video),
            "chat" => Ok(Mode::Chat),
            other => Err(format!("unknown mode {other:?}")),
        }
    }
}

/// Where an appointment is in its workflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Booked by the patient; the doctor has not answered yet.
    Pending,
    /// Confirmed by the doctor.
    Scheduled,
    /// The visit took place; notes are final.
    Completed,
    /// Rejected by the doctor or cancelled by either party.
    Cancelled,
    /// Moved by the doctor; `rescheduled_to` names the new appointment.
    Rescheduled,
}

impl Status {
    /// The wire string (also the stored one).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Scheduled => "scheduled",
            Status::Completed => "completed",
            Status::Cancelled => "cancelled",
            Status::Rescheduled => "rescheduled",
        }
    }
}

impl std::str::FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Status::Pending),
            "scheduled" => Ok(Status::Scheduled),
            "completed" => Ok(Status::Completed),
            "cancelled" => Ok(Status::Cancelled),
            "rescheduled" => Ok(Status::Rescheduled),
            other => Err(format!("unknown status {other:?}")),
        }
    }
}

/// `POST /api/v1/appointments`: a patient books a slot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAppointment {
    /// The doctor.
    pub doctor_id: UserId,
    /// Start of a free slot of the doctor's schedule, Unix ms.
    pub start_ms: i64,
    /// Video or chat.
    pub mode: Mode,
    /// Why the patient wants the visit (1 to 2000 bytes).
    pub reason: String,
}

impl NewAppointment {
    /// Checks the reason.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_text("reason", &self.reason, MAX_COMMENT)
    }
}

/// An appointment as its doctor and patient see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appointment {
    /// Its id.
    pub id: AppointmentId,
    /// The doctor.
    pub doctor: UserSummary,
    /// The patient.
    pub patient: UserSummary,
    /// Slot start, Unix ms.
    pub start_ms: i64,
    /// Slot end, Unix ms.
    pub end_ms: i64,
    /// Video or chat.
    pub mode: Mode,
    /// The patient's reason.
    pub reason: String,
    /// Where it is in the workflow.
    pub status: Status,
    /// The doctor's comment on confirm, reject, cancel or reschedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doctor_comment: Option<String>,
    /// Who cancelled it, when cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<UserId>,
    /// The appointment this one replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescheduled_from: Option<AppointmentId>,
    /// The appointment that replaced this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescheduled_to: Option<AppointmentId>,
    /// When clinical notes were last written or amended (Unix ms); fetch
    /// them with `GET /api/v1/appointments/{id}/notes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes_updated_at_ms: Option<i64>,
    /// The patient's rating, 1 to 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<u8>,
    /// The patient's review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<String>,
    /// Booked at, Unix ms.
    pub created_at_ms: i64,
    /// Last changed at, Unix ms.
    pub updated_at_ms: i64,
    /// Change number: greater after every change, across all
    /// appointments; the sync cursor.
    pub change: u64,
}

/// Body of confirm, reject and cancel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionBody {
    /// The doctor's comment (kept on confirm, reject and cancel by the
    /// doctor; ignored from a patient).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl TransitionBody {
    /// Checks the comment.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_opt_text("comment", self.comment.as_deref(), MAX_COMMENT)
    }
}

/// Body of `POST /api/v1/appointments/{id}/complete`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompleteBody {
    /// Final clinical notes, replacing any draft; absent keeps the draft.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

impl CompleteBody {
    /// Checks the notes.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_opt_text("notes", self.notes.as_deref(), MAX_NOTES)
    }
}

/// Body of `POST /api/v1/appointments/{id}/reschedule`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RescheduleBody {
    /// Start of the new slot, Unix ms.
    pub start_ms: i64,
    /// The doctor's comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl RescheduleBody {
    /// Checks the comment.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_opt_text("comment", self.comment.as_deref(), MAX_COMMENT)
    }
}

/// Reply of a reschedule: the old appointment (now `rescheduled`) and the
/// new one (`scheduled`), linked both ways.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rescheduled {
    /// The replaced appointment.
    pub old: Appointment,
    /// Its replacement.
    pub new: Appointment,
}

/// Body of `PUT .../notes` and `POST .../notes/amendments`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotesBody {
    /// The text (1 byte to [`MAX_NOTES`]).
    pub text: String,
}

impl NotesBody {
    /// Checks the text.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_text("text", &self.text, MAX_NOTES)
    }
}

/// Clinical notes of one appointment, with their amendments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notes {
    /// The appointment.
    pub appointment_id: AppointmentId,
    /// The notes; absent if none were written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// When they were last written (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_at_ms: Option<i64>,
    /// Completed visit: the text is final, changes are amendments.
    pub locked: bool,
    /// Amendments, oldest first.
    pub amendments: Vec<Amendment>,
}

/// A correction or addition to final notes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amendment {
    /// Who wrote it.
    pub author: UserId,
    /// What it says.
    pub text: String,
    /// When (Unix ms).
    pub at_ms: i64,
}

/// Body of `POST /api/v1/appointments/{id}/rating`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingBody {
    /// 1 to 5.
    pub rating: u8,
    /// Optional text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<String>,
}

impl RatingBody {
    /// Checks range and length.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if !(1..=5).contains(&self.rating) {
            return Err(invalid("rating", "must be 1 to 5"));
        }
        check_opt_text("review", self.review.as_deref(), MAX_COMMENT)
    }
}

/// Reply of `GET /api/v1/appointments?since=<change>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentChanges {
    /// The user's appointments changed after `since`, in change order.
    pub appointments: Vec<Appointment>,
    /// Pass as `since` next time: the last change in this page (or
    /// `since` itself when nothing changed).
    pub cursor: u64,
    /// More changes follow; ask again with `cursor`.
    pub more: bool,
}

/// What an audit entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// Notes were read.
    NotesRead,
    /// Notes were written (or replaced, before completion).
    NotesWritten,
    /// An amendment was added to final notes.
    NotesAmended,
    /// Someone tried to read, write or amend the notes and was refused
    /// (not a party, not allowed, or the notes are final).
    NotesRefused,
}

impl AuditAction {
    /// The wire string (also the stored one).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::NotesRead => "notes_read",
            AuditAction::NotesWritten => "notes_written",
            AuditAction::NotesAmended => "notes_amended",
            AuditAction::NotesRefused => "notes_refused",
        }
    }
}

impl std::str::FromStr for AuditAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "notes_read" => Ok(AuditAction::NotesRead),
            "notes_written" => Ok(AuditAction::NotesWritten),
            "notes_refused" => Ok(AuditAction::NotesRefused),
            "notes_amended" => Ok(AuditAction::NotesAmended),
            other => Err(format!("unknown audit action {other:?}")),
        }
    }
}

/// One row of the audit log (`GET /api/v1/admin/audit`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Increasing id; page back with `before=<id>`.
    pub id: u64,
    /// When (Unix ms).
    pub at_ms: i64,
    /// Who.
    pub actor: UserId,
    /// What.
    pub action: AuditAction,
    /// Which appointment's notes.
    pub appointment_id: AppointmentId,
}

/// How a call went, as one party's client measured it: the body of
/// `POST /api/v1/calls/{id}/quality`, sent once the call has ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualitySummary {
    /// The client's overall verdict.
    pub quality: QualityLevel,
    /// Mean received bitrate, kbit/s.
    pub avg_bitrate_kbps: u32,
    /// Received packets lost, per thousand.
    pub packet_loss_permille: u16,
    /// Mean jitter, ms.
    pub jitter_ms: u32,
    /// Mean round-trip time, ms.
    pub rtt_ms: u32,
}

impl QualitySummary {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.packet_loss_permille > 1000 {
            return Err(invalid("packet_loss_permille", "must be at most 1000"));
        }
        Ok(())
    }
}

/// A client's overall verdict on a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityLevel {
    /// No trouble.
    Good,
    /// Noticeable trouble.
    Fair,
    /// Hard to use.
    Poor,
}

/// One party's report on a call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualityReport {
    /// Who reported.
    pub user: UserId,
    /// What they measured.
    #[serde(flatten)]
    pub summary: QualitySummary,
    /// When (Unix ms).
    pub reported_at_ms: i64,
}

/// One call of an appointment: `GET /api/v1/appointments/{id}/visits`.
/// The caller joined when it rang, the callee when they answered, and both
/// left when it ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Visit {
    /// The call record.
    pub call: crate::rest::CallRecord,
    /// The parties' quality reports, if they sent them.
    pub quality: Vec<QualityReport>,
}

fn invalid(field: &'static str, problem: impl Into<String>) -> ValidationError {
    ValidationError {
        field,
        problem: problem.into(),
    }
}

fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be blank"));
    }
    limits::check_len(field, value, max)
}

fn check_opt_text(
    field: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<(), ValidationError> {
    value.map_or(Ok(()), |v| limits::check_len(field, v, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appointment_round_trips_with_snake_case_enums() {
        let user = |role| UserSummary {
            id: UserId::random(),
            display_name: "X".into(),
            role,
        };
        let a = Appointment {
            id: AppointmentId::random(),
            doctor: user(crate::Role::Doctor),
            patient: user(crate::Role::Patient),
            start_ms: 1,
            end_ms: 2,
            mode: Mode::Video,
            reason: "cough".into(),
            status: Status::Rescheduled,
            doctor_comment: None,
            cancelled_by: None,
            rescheduled_from: None,
            rescheduled_to: Some(AppointmentId::random()),
            notes_updated_at_ms: None,
            rating: None,
            review: None,
            created_at_ms: 0,
            updated_at_ms: 0,
            change: 7,
        };
        let text = serde_json::to_string(&a).unwrap();
        assert!(text.contains(r#""status":"rescheduled""#), "{text}");
        assert!(text.contains(r#""mode":"video""#), "{text}");
        assert!(!text.contains("rating"), "{text}");
        assert_eq!(serde_json::from_str::<Appointment>(&text).unwrap(), a);
        for s in [
            Status::Pending,
            Status::Scheduled,
            Status::Completed,
            Status::Cancelled,
            Status::Rescheduled,
        ] {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
    }

    #[test]
    fn bodies_validate() {
        let rating = |rating| RatingBody {
            rating,
            review: None,
        };
        assert!(rating(0).validate().is_err());
        assert!(rating(6).validate().is_err());
        assert!(rating(1).validate().is_ok() && rating(5).validate().is_ok());
        let notes = NotesBody { text: "  ".into() };
        assert_eq!(notes.validate().unwrap_err().field, "text");
        let mut profile = ProfileDetails {
            specialization: "Cardiology".into(),
            qualification: "MD".into(),
            years_of_experience: 10,
            bio: String::new(),
            time_zone: "Europe/Berlin".into(),
            slot_minutes: 30,
            schedule: vec![],
        };
        assert!(profile.validate().is_ok());
        profile.slot_minutes = 4;
        assert_eq!(profile.validate().unwrap_err().field, "slot_minutes");
    }
}
