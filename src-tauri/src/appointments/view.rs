//! What the appointment commands answer the window with, and the pure
//! rules behind them (mirrored by `ui/src/ipc/appointments.ts`). The
//! protocol's own types pass through as they are.

use clinicall_client_core::appointments::DoctorQuery;
use clinicall_protocol::UserId;
use clinicall_protocol::appointments::{Appointment, DoctorProfile, Notes, Status, Visit};
use serde::{Deserialize, Serialize};

/// Largest directory page the server gives.
const MAX_PAGE: u32 = 100;

/// One appointment and what the shell holds about it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AppointmentDetail {
    /// The appointment.
    pub appointment: Appointment,
    /// Its doctor's profile, when known.
    pub doctor: Option<DoctorProfile>,
    /// The clinical notes; `None` when never fetched (or not readable).
    pub notes: Option<Notes>,
    /// The calls of the visit, as last fetched.
    pub visits: Vec<Visit>,
    /// A refresh was asked for and the server could not be reached: what
    /// is shown is the cache.
    pub offline: bool,
}

/// The window's directory filters: empty strings and nulls are "any".
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct DoctorQueryView {
    /// Part of the name.
    #[serde(default)]
    pub name: String,
    /// The specialization.
    #[serde(default)]
    pub specialization: String,
    /// A free slot between these (Unix ms), both or neither.
    #[serde(default)]
    pub free_from_ms: Option<i64>,
    /// See `free_from_ms`.
    #[serde(default)]
    pub free_to_ms: Option<i64>,
    /// Matches to skip.
    #[serde(default)]
    pub offset: u32,
    /// Page size (0: the server's default).
    #[serde(default)]
    pub limit: u32,
}

impl DoctorQueryView {
    /// The client core's query. A window with only one end is refused
    /// (`Err` names the field), as is one that ends before it starts.
    pub fn to_query(&self) -> Result<DoctorQuery, &'static str> {
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let free_between = match (self.free_from_ms, self.free_to_ms) {
            (None, None) => None,
            (Some(from), Some(to)) if from < to => Some((from, to)),
            (Some(_), Some(_)) => return Err("free_to_ms"),
            (None, Some(_)) => return Err("free_from_ms"),
            (Some(_), None) => return Err("free_to_ms"),
        };
        Ok(DoctorQuery {
            name: text(&self.name),
            specialization: text(&self.specialization),
            free_between,
            limit: (self.limit > 0).then_some(self.limit.min(MAX_PAGE)),
            offset: (self.offset > 0).then_some(self.offset),
        })
    }
}

/// Whether `me` may read the notes of `appointment` from the server: its
/// doctor always (to write them), its patient once the visit is
/// completed. Anyone else never (the server would refuse and audit it).
pub fn may_read_notes(appointment: &Appointment, me: UserId) -> bool {
    if appointment.doctor.id == me {
        return true;
    }
    appointment.patient.id == me && appointment.status == Status::Completed
}

/// Every appointment, by start time (then id, for a stable order), from
/// the cache's two lists.
pub fn by_start(mut upcoming: Vec<Appointment>, past: Vec<Appointment>) -> Vec<Appointment> {
    upcoming.extend(past);
    upcoming.sort_by(|a, b| {
        a.start_ms
            .cmp(&b.start_ms)
            .then_with(|| a.id.0.cmp(&b.id.0))
    });
    upcoming.dedup_by(|a, b| a.id == b.id);
    upcoming
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appointments::fixtures::appointment as visit;

    #[test]
    fn the_window_query_becomes_the_core_query() {
        let window: DoctorQueryView = serde_json::from_value(serde_json::json!({
            "name": "  Ada ", "specialization": "", "free_from_ms": 10, "free_to_ms": 20,
            "offset": 40, "limit": 500
        }))
        .unwrap();
        assert_eq!(
            window.to_query(),
            Ok(DoctorQuery {
                name: Some("Ada".into()),
                specialization: None,
                free_between: Some((10, 20)),
                limit: Some(100),
                offset: Some(40),
            })
        );
        let empty: DoctorQueryView = serde_json::from_value(serde_json::json!({
            "name": "", "specialization": " ", "free_from_ms": null, "free_to_ms": null,
            "offset": 0, "limit": 0
        }))
        .unwrap();
        assert_eq!(empty.to_query(), Ok(DoctorQuery::default()));
    }

    #[test]
    fn a_free_window_needs_both_ends_in_order() {
        let query = |from, to| DoctorQueryView {
            free_from_ms: from,
            free_to_ms: to,
            ..DoctorQueryView::default()
        };
        assert_eq!(query(Some(1), None).to_query(), Err("free_to_ms"));
        assert_eq!(query(None, Some(1)).to_query(), Err("free_from_ms"));
        assert_eq!(query(Some(5), Some(5)).to_query(), Err("free_to_ms"));
        assert!(query(Some(4), Some(5)).to_query().is_ok());
    }

    #[test]
    fn notes_are_read_by_the_doctor_always_and_the_patient_once_completed() {
        for status in [Status::Pending, Status::Scheduled, Status::Cancelled] {
            let a = visit(0, status);
            assert!(may_read_notes(&a, a.doctor.id), "{status:?}");
            assert!(!may_read_notes(&a, a.patient.id), "{status:?}");
        }
        let done = visit(0, Status::Completed);
        assert!(may_read_notes(&done, done.doctor.id));
        assert!(may_read_notes(&done, done.patient.id));
        assert!(!may_read_notes(&done, UserId::random()));
    }

    #[test]
    fn the_list_is_every_appointment_by_start() {
        let (a, b, c) = (
            visit(300, Status::Scheduled),
            visit(100, Status::Completed),
            visit(200, Status::Pending),
        );
        // Past comes latest first from the cache; the list is by start.
        let list = by_start(vec![a.clone()], vec![c.clone(), b.clone(), a.clone()]);
        let ids: Vec<_> = list.iter().map(|x| x.id).collect();
        assert_eq!(ids, [b.id, c.id, a.id]);
    }

    #[test]
    fn a_detail_serializes_as_the_window_reads_it() {
        let a = visit(0, Status::Scheduled);
        let detail = AppointmentDetail {
            appointment: a,
            doctor: None,
            notes: None,
            visits: Vec::new(),
            offline: true,
        };
        let json = serde_json::to_value(&detail).unwrap();
        assert_eq!(json["offline"], true);
        assert_eq!(json["notes"], serde_json::Value::Null);
        assert_eq!(json["appointment"]["status"], "scheduled");
        assert!(json["visits"].as_array().unwrap().is_empty());
    }
}
