//! Who may do what to an appointment, from which status: the whole policy
//! in one pure function, [`decide`]. Handlers ask it before touching
//! storage; storage then applies the change only if the status is still
//! the one decided on (compare and set), so a race cannot slip past it.
//!
//! ```text
//!             confirm (doctor)              complete (doctor)
//!   pending ───────────────────▶ scheduled ───────────────────▶ completed
//!      │                           │   │
//!      │ reject (doctor)           │   │ reschedule (doctor): a new
//!      │ cancel (patient)          │   ▼ `scheduled` one at the new slot
//!      ▼                           │  rescheduled
//!  cancelled ◀─────────────────────┘
//!              cancel (patient or doctor)
//! ```
//!
//! Notes: the doctor writes them while the visit is `scheduled` (and with
//! `complete`); once `completed` they are final and changes are amendments.
//! The doctor reads them any time, the patient once the visit is
//! completed. The patient rates a completed visit, once.
//!
//! Waiting room: the patient waits in a scheduled visit's room; the doctor
//! admits them, which starts the call.
//!
//! Someone who is neither the doctor nor the patient never reaches this
//! module: handlers answer them `not_found`, as for an id that does not
//! exist.

use clinicall_protocol::appointments::Status;

/// How the acting user relates to the appointment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Party {
    /// Its doctor.
    Doctor,
    /// Its patient.
    Patient,
}

/// What the user asks to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Accept a booking (with a comment).
    Confirm,
    /// Decline a booking.
    Reject,
    /// Call the visit off.
    Cancel,
    /// Move the visit to another slot.
    Reschedule,
    /// Mark the visit done (notes become final).
    Complete,
    /// Write or replace the draft notes.
    WriteNotes,
    /// Add an amendment to final notes.
    AmendNotes,
    /// Read the notes and amendments.
    ReadNotes,
    /// Rate the visit and review it.
    Rate,
    /// Enter the visit's waiting room.
    JoinRoom,
    /// Admit the waiting patient, which starts the call.
    Admit,
}

impl Action {
    /// Every action, for tests and docs.
    pub const ALL: [Action; 11] = [
        Action::Confirm,
        Action::Reject,
        Action::Cancel,
        Action::Reschedule,
        Action::Complete,
        Action::WriteNotes,
        Action::AmendNotes,
        Action::ReadNotes,
        Action::Rate,
        Action::JoinRoom,
        Action::Admit,
    ];
}

/// The facts about an appointment the policy looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facts {
    /// Its status now.
    pub status: Status,
    /// Whether the patient has rated it.
    pub rated: bool,
}

/// Why an action is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// This party may never do this (403 `forbidden`).
    NotYours,
    /// Not from this status (409 `invalid_transition`).
    WrongStatus,
    /// The notes are final; amend them instead (409 `notes_locked`).
    NotesLocked,
    /// Rated already (409 `already_rated`).
    AlreadyRated,
}

/// What an allowed action does to the status: the new one, or `None` when
/// it stays.
pub type Decision = Result<Option<Status>, Refusal>;

/// The policy. See the module docs.
pub fn decide(party: Party, action: Action, facts: Facts) -> Decision {
    use Action as A;
    use Party::{Doctor, Patient};
    use Status as S;
    let status = facts.status;
    // Whose action it is at all.
    let allowed_party = match action {
        A::Confirm
        | A::Reject
        | A::Reschedule
        | A::Complete
        | A::WriteNotes
        | A::AmendNotes
        | A::Admit => party == Doctor,
        A::Rate | A::JoinRoom => party == Patient,
        A::Cancel | A::ReadNotes => true,
    };
    if !allowed_party {
        return Err(Refusal::NotYours);
    }
    match (action, party, status) {
        (A::Confirm, _, S::Pending) => Ok(Some(S::Scheduled)),
        (A::Reject, _, S::Pending) => Ok(Some(S::Cancelled)),
        (A::Cancel, Patient, S::Pending | S::Scheduled) => Ok(Some(S::Cancelled)),
        (A::Cancel, Doctor, S::Scheduled) => Ok(Some(S::Cancelled)),
        (A::Reschedule, _, S::Scheduled) => Ok(Some(S::Rescheduled)),
        (A::Complete, _, S::Scheduled) => Ok(Some(S::Completed)),
        (A::WriteNotes, _, S::Scheduled) => Ok(None),
        (A::WriteNotes, _, S::Completed) => Err(Refusal::NotesLocked),
        (A::AmendNotes, _, S::Completed) => Ok(None),
        (A::ReadNotes, Doctor, _) => Ok(None),
        (A::ReadNotes, Patient, S::Completed) => Ok(None),
        // The patient's view of drafts is closed, not a state to wait for.
        (A::ReadNotes, Patient, _) => Err(Refusal::NotYours),
        (A::Rate, _, S::Completed) if facts.rated => Err(Refusal::AlreadyRated),
        (A::Rate, _, S::Completed) => Ok(None),
        (A::JoinRoom | A::Admit, _, S::Scheduled) => Ok(None),
        _ => Err(Refusal::WrongStatus),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action as A;
    use Party::{Doctor, Patient};
    use Status as S;

    const STATUSES: [Status; 5] = [
        S::Pending,
        S::Scheduled,
        S::Completed,
        S::Cancelled,
        S::Rescheduled,
    ];

    fn facts(status: Status) -> Facts {
        Facts {
            status,
            rated: false,
        }
    }

    /// Every allowed (party, action, from) and where it leads; everything
    /// not listed must be refused.
    const ALLOWED: &[(Party, Action, Status, Option<Status>)] = &[
        (Doctor, A::Confirm, S::Pending, Some(S::Scheduled)),
        (Doctor, A::Reject, S::Pending, Some(S::Cancelled)),
        (Patient, A::Cancel, S::Pending, Some(S::Cancelled)),
        (Patient, A::Cancel, S::Scheduled, Some(S::Cancelled)),
        (Doctor, A::Cancel, S::Scheduled, Some(S::Cancelled)),
        (Doctor, A::Reschedule, S::Scheduled, Some(S::Rescheduled)),
        (Doctor, A::Complete, S::Scheduled, Some(S::Completed)),
        (Doctor, A::WriteNotes, S::Scheduled, None),
        (Doctor, A::AmendNotes, S::Completed, None),
        (Doctor, A::ReadNotes, S::Pending, None),
        (Doctor, A::ReadNotes, S::Scheduled, None),
        (Doctor, A::ReadNotes, S::Completed, None),
        (Doctor, A::ReadNotes, S::Cancelled, None),
        (Doctor, A::ReadNotes, S::Rescheduled, None),
        (Patient, A::ReadNotes, S::Completed, None),
        (Patient, A::Rate, S::Completed, None),
        (Patient, A::JoinRoom, S::Scheduled, None),
        (Doctor, A::Admit, S::Scheduled, None),
    ];

    #[test]
    fn exactly_the_listed_actions_are_allowed() {
        let mut allowed = 0;
        for party in [Doctor, Patient] {
            for action in Action::ALL {
                for status in STATUSES {
                    let expected = ALLOWED
                        .iter()
                        .find(|(p, a, s, _)| (*p, *a, *s) == (party, action, status))
                        .map(|(.., to)| *to);
                    let got = decide(party, action, facts(status));
                    match expected {
                        Some(to) => {
                            assert_eq!(got, Ok(to), "{party:?} {action:?} from {status:?}");
                            allowed += 1;
                        }
                        None => assert!(
                            got.is_err(),
                            "{party:?} {action:?} from {status:?} should be refused, got {got:?}"
                        ),
                    }
                }
            }
        }
        assert_eq!(allowed, ALLOWED.len());
    }

    #[test]
    fn refusals_say_why() {
        // Another party's action: forbidden whatever the status.
        for status in STATUSES {
            for action in [
                A::Confirm,
                A::Reject,
                A::Reschedule,
                A::Complete,
                A::AmendNotes,
            ] {
                assert_eq!(
                    decide(Patient, action, facts(status)),
                    Err(Refusal::NotYours)
                );
            }
            assert_eq!(
                decide(Doctor, A::Rate, facts(status)),
                Err(Refusal::NotYours)
            );
        }
        assert_eq!(
            decide(Doctor, A::Confirm, facts(S::Cancelled)),
            Err(Refusal::WrongStatus)
        );
        // The doctor declines a booking with reject, not cancel.
        assert_eq!(
            decide(Doctor, A::Cancel, facts(S::Pending)),
            Err(Refusal::WrongStatus)
        );
        assert_eq!(
            decide(Doctor, A::WriteNotes, facts(S::Completed)),
            Err(Refusal::NotesLocked)
        );
        assert_eq!(
            decide(Patient, A::ReadNotes, facts(S::Scheduled)),
            Err(Refusal::NotYours)
        );
        let rated = Facts {
            status: S::Completed,
            rated: true,
        };
        assert_eq!(decide(Patient, A::Rate, rated), Err(Refusal::AlreadyRated));
    }

    #[test]
    fn final_statuses_allow_no_transition() {
        for status in [S::Completed, S::Cancelled, S::Rescheduled] {
            for party in [Doctor, Patient] {
                for action in [A::Confirm, A::Reject, A::Cancel, A::Reschedule, A::Complete] {
                    assert!(decide(party, action, facts(status)).is_err());
                }
            }
        }
    }
}
