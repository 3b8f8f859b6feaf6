//! Which visits to remind the person of, and when.
//!
//! A scheduled visit gets two reminders: one when it is [`SOON`] away
//! ("in 15 minutes"), and one when it starts. Each is given once per app
//! run ([`ReminderPlan`] remembers what it said); a check that comes late
//! (the app was started, or the computer woke, inside a window) gives the
//! latest one that still applies and counts the earlier one as given, so
//! nobody gets "in 15 minutes" followed at once by "now". The start
//! reminder applies for [`START_GRACE`] after the start (and never after
//! the visit's end); a visit further along than that is left alone.
//! Pending, cancelled, rescheduled and completed visits get none.
//!
//! Pure: the caller passes the appointments and the time, so the tests
//! need no clock. [`run`] is the task around it.

use crate::events::EventHub;
use crate::ui_event::UiEvent;
use clinicall_client_core::cache::AccountCache;
use clinicall_protocol::appointments::{Appointment, Status};
use clinicall_protocol::{AppointmentId, UserId};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

const MINUTE_MS: i64 = 60_000;
/// The early reminder: this long before the start.
pub const SOON: Duration = Duration::from_secs(15 * 60);
/// The start reminder still applies this long after the start.
pub const START_GRACE: Duration = Duration::from_secs(5 * 60);
/// How often the task looks, besides every change of the appointments.
pub const CHECK_EVERY: Duration = Duration::from_secs(30);

/// One reminder to give.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reminder {
    /// The visit.
    pub appointment: Appointment,
    /// Whole minutes until it starts, rounded up (0: it starts now).
    pub minutes_before: u32,
    /// The other party's name (the doctor's, for the patient).
    pub with: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Stage {
    Soon,
    Start,
}

/// What was said this run.
#[derive(Debug)]
pub struct ReminderPlan {
    me: UserId,
    given: HashSet<(AppointmentId, Stage)>,
}

impl ReminderPlan {
    /// Nothing said yet, to `me`.
    pub fn new(me: UserId) -> Self {
        ReminderPlan {
            me,
            given: HashSet::new(),
        }
    }

    /// The reminders due at `now_ms` among `appointments`, each given
    /// once: they are recorded as given.
    pub fn due(&mut self, appointments: &[Appointment], now_ms: i64) -> Vec<Reminder> {
        let mut due = Vec::new();
        for appointment in appointments {
            let Some(stage) = stage(appointment, now_ms) else {
                continue;
            };
            if self.given.contains(&(appointment.id, stage)) {
                continue;
            }
            // A later stage covers the earlier ones.
            self.given.insert((appointment.id, Stage::Soon));
            self.given.insert((appointment.id, stage));
            let left = (appointment.start_ms - now_ms).max(0);
            let other = if appointment.doctor.id == self.me {
                &appointment.patient
            } else {
                &appointment.doctor
            };
            due.push(Reminder {
                with: other.display_name.clone(),
                appointment: appointment.clone(),
                minutes_before: u32::try_from((left + MINUTE_MS - 1) / MINUTE_MS)
                    .unwrap_or(u32::MAX),
            });
        }
        due
    }
}

/// The reminder stage `appointment` is in at `now_ms`, if any.
fn stage(appointment: &Appointment, now_ms: i64) -> Option<Stage> {
    if appointment.status != Status::Scheduled || now_ms >= appointment.end_ms {
        return None;
    }
    let start = appointment.start_ms;
    let soon = i64::try_from(SOON.as_millis()).unwrap_or(i64::MAX);
    let grace = i64::try_from(START_GRACE.as_millis()).unwrap_or(i64::MAX);
    if now_ms >= start {
        (now_ms < start.saturating_add(grace)).then_some(Stage::Start)
    } else {
        (now_ms >= start.saturating_sub(soon)).then_some(Stage::Soon)
    }
}

/// Called with each reminder (an OS notification).
pub type OnReminder = Arc<dyn Fn(&Reminder) + Send + Sync>;

/// Checks every [`CHECK_EVERY`] and whenever `changed` is notified, and
/// tells the window and `on_reminder` of each reminder due. Runs until
/// aborted.
pub async fn run(
    cache: Arc<AccountCache>,
    changed: Arc<Notify>,
    hub: Arc<EventHub>,
    on_reminder: OnReminder,
) {
    let mut plan = ReminderPlan::new(cache.me());
    loop {
        let now = super::now_ms();
        match cache.upcoming_appointments(now).await {
            Ok(upcoming) => {
                for reminder in plan.due(&upcoming, now) {
                    on_reminder(&reminder);
                    hub.send(UiEvent::AppointmentReminder {
                        appointment: reminder.appointment,
                        minutes_before: reminder.minutes_before,
                    });
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read the appointments"),
        }
        tokio::select! {
            () = tokio::time::sleep(CHECK_EVERY) => {}
            () = changed.notified() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appointments::fixtures;

    const START: i64 = 1_800_000_000_000;

    fn visit(status: Status) -> Appointment {
        fixtures::appointment(START, status)
    }

    fn plan() -> ReminderPlan {
        ReminderPlan::new(UserId::random())
    }

    fn minutes(plan: &mut ReminderPlan, visits: &[Appointment], now: i64) -> Vec<u32> {
        plan.due(visits, now)
            .into_iter()
            .map(|r| r.minutes_before)
            .collect()
    }

    #[test]
    fn a_scheduled_visit_is_reminded_fifteen_minutes_before_and_at_its_start() {
        let visits = [visit(Status::Scheduled)];
        let mut plan = plan();
        assert!(minutes(&mut plan, &visits, START - 16 * MINUTE_MS).is_empty());
        assert_eq!(minutes(&mut plan, &visits, START - 15 * MINUTE_MS), [15]);
        // Once only, however often the task looks.
        assert!(minutes(&mut plan, &visits, START - 14 * MINUTE_MS).is_empty());
        assert!(minutes(&mut plan, &visits, START - 1).is_empty());
        assert_eq!(minutes(&mut plan, &visits, START), [0]);
        assert!(minutes(&mut plan, &visits, START + MINUTE_MS).is_empty());
    }

    #[test]
    fn a_late_look_gives_the_minutes_actually_left() {
        let visits = [visit(Status::Scheduled)];
        let mut plan = plan();
        // Started with 7.5 minutes to go: "in 8 minutes".
        assert_eq!(
            minutes(&mut plan, &visits, START - 7 * MINUTE_MS - 30_000),
            [8]
        );
    }

    #[test]
    fn a_look_after_the_start_gives_only_the_start_reminder() {
        let visits = [visit(Status::Scheduled)];
        let mut plan = plan();
        assert_eq!(minutes(&mut plan, &visits, START + 2 * MINUTE_MS), [0]);
        // The early one is not given afterwards either.
        assert!(minutes(&mut plan, &visits, START - MINUTE_MS).is_empty());
    }

    #[test]
    fn visits_well_under_way_or_over_get_none() {
        let visits = [visit(Status::Scheduled)];
        let grace = START_GRACE.as_millis() as i64;
        assert!(plan().due(&visits, START + grace).is_empty());
        assert!(plan().due(&visits, START + 30 * MINUTE_MS).is_empty());
        // A visit shorter than the grace: nothing once it has ended.
        let mut short = visit(Status::Scheduled);
        short.end_ms = START + MINUTE_MS;
        assert!(plan().due(&[short], START + MINUTE_MS).is_empty());
    }

    #[test]
    fn only_scheduled_visits_are_reminded() {
        for status in [
            Status::Pending,
            Status::Cancelled,
            Status::Rescheduled,
            Status::Completed,
        ] {
            let visits = [visit(status)];
            let mut plan = plan();
            assert!(
                plan.due(&visits, START - MINUTE_MS).is_empty(),
                "{status:?}"
            );
            assert!(plan.due(&visits, START).is_empty(), "{status:?}");
        }
    }

    #[test]
    fn each_visit_is_reminded_on_its_own() {
        let first = visit(Status::Scheduled);
        let mut second = visit(Status::Scheduled);
        second.start_ms = START + 10 * MINUTE_MS;
        second.end_ms = START + 40 * MINUTE_MS;
        let visits = [first.clone(), second.clone()];
        let mut plan = plan();
        let due = plan.due(&visits, START - 5 * MINUTE_MS);
        assert_eq!(
            due.iter()
                .map(|r| (r.appointment.id, r.minutes_before))
                .collect::<Vec<_>>(),
            [(first.id, 5), (second.id, 15)]
        );
        // A visit confirmed later (it was pending) is reminded when it is.
        let mut third = visit(Status::Pending);
        third.start_ms = START + 5 * MINUTE_MS;
        let mut visits = vec![first, second, third.clone()];
        assert!(plan.due(&visits, START - 4 * MINUTE_MS).is_empty());
        visits[2].status = Status::Scheduled;
        let due = plan.due(&visits, START - 4 * MINUTE_MS);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].appointment.id, third.id);
        assert_eq!(due[0].minutes_before, 9);
    }

    #[test]
    fn each_party_is_reminded_of_the_other() {
        let mut a = visit(Status::Scheduled);
        a.doctor.display_name = "Dr Who".into();
        a.patient.display_name = "Pat".into();
        let at = START - MINUTE_MS;
        let to_doctor = ReminderPlan::new(a.doctor.id).due(std::slice::from_ref(&a), at);
        assert_eq!(to_doctor[0].with, "Pat");
        let to_patient = ReminderPlan::new(a.patient.id).due(&[a], at);
        assert_eq!(to_patient[0].with, "Dr Who");
    }
}
