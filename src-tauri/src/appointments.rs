//! Appointments in the shell: for each sign-in, the client core's
//! appointments engine on the account's shared cache, the task that tells
//! the window what changed, and the visit reminders.
//!
//! - [`view`]: what the window is shown (serializable, pure rules);
//! - [`commands`]: the directory, booking, workflow and waiting-room
//!   commands the window invokes;
//! - [`reminders`]: which visits to remind of, and the task that does;
//! - [`deeplink`]: `clinicall://appointment/<id>` links.

pub mod commands;
pub mod deeplink;
pub mod reminders;
pub mod view;

use crate::events::EventHub;
use crate::ui_event::UiEvent;
use clinicall_client_core::appointments::{
    AppointmentEvent, AppointmentSync, AppointmentSyncConfig, AppointmentsClient,
    AppointmentsHandle,
};
use clinicall_client_core::cache::AccountCache;
use clinicall_client_core::feed::EngineFeed;
use clinicall_client_core::signaling::{AuthSession, SignalingClient};
use clinicall_protocol::UserId;
use reminders::OnReminder;
use std::sync::Arc;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

/// The appointments of one signed-in connection.
pub struct AppointmentsSession {
    /// Acts, fetches and keeps; its cache answers the window's reads.
    pub handle: AppointmentsHandle,
    /// The signed-in user.
    pub me: UserId,
    forwarder: JoinHandle<()>,
    reminders: JoinHandle<()>,
}

impl AppointmentsSession {
    /// Starts the engine over the account's `cache` with `auth`'s REST
    /// calls and the waiting room over `signaling`, and the reminders.
    /// Returns the session and the feed the call driver must be started
    /// with (`CallDriver::start_with_feeds`).
    pub fn start(
        signaling: SignalingClient,
        auth: Arc<AuthSession>,
        cache: Arc<AccountCache>,
        hub: Arc<EventHub>,
        on_reminder: OnReminder,
    ) -> Result<(AppointmentsSession, EngineFeed), String> {
        let me = cache.me();
        let rest = AppointmentsClient::new(auth).map_err(|e| e.to_string())?;
        let (handle, feed, events) = AppointmentSync::start_with_room(
            rest,
            signaling,
            cache.clone(),
            AppointmentSyncConfig::default(),
        );
        let changed = Arc::new(Notify::new());
        let reminders = tokio::spawn(reminders::run(
            cache,
            changed.clone(),
            hub.clone(),
            on_reminder,
        ));
        let forwarder = tokio::spawn(forward(events, hub, changed));
        Ok((
            AppointmentsSession {
                handle,
                me,
                forwarder,
                reminders,
            },
            feed,
        ))
    }

    /// Stops the engine and the reminders, and lets go of the cache (for
    /// [`AccountStore::close`](crate::account::AccountStore::close)).
    pub async fn stop(self) {
        let AppointmentsSession {
            handle,
            forwarder,
            reminders,
            ..
        } = self;
        handle.shutdown().await;
        // The forwarder ends with the engine's event stream.
        let _ = forwarder.await;
        reminders.abort();
        let _ = reminders.await;
    }
}

/// Tells the window what the engine reports (waiting-room news included),
/// and the reminders that the appointments changed.
async fn forward(
    mut events: mpsc::Receiver<AppointmentEvent>,
    hub: Arc<EventHub>,
    changed: Arc<Notify>,
) {
    while let Some(event) = events.recv().await {
        match event {
            AppointmentEvent::Changed { ids } => {
                changed.notify_one();
                hub.send(UiEvent::AppointmentsChanged { ids });
            }
            AppointmentEvent::Status { online } => {
                hub.send(UiEvent::AppointmentsStatus { online });
            }
            // The answers to room_join/room_leave, and (to the doctor)
            // every change of who waits.
            AppointmentEvent::RoomWaiting {
                appointment_id,
                patient,
                waiting,
            } => {
                hub.send(UiEvent::RoomWaiting {
                    appointment_id,
                    patient,
                    waiting,
                });
            }
            // `Synced` follows the `Changed` of what the sync stored;
            // newer engines may report more.
            _ => {}
        }
    }
}

/// Now, in Unix ms (the appointments' clock).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Appointments for the unit tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use clinicall_protocol::appointments::{Appointment, Mode, Status};
    use clinicall_protocol::{AppointmentId, Role, UserId, UserSummary};

    fn user(role: Role) -> UserSummary {
        UserSummary {
            id: UserId::random(),
            display_name: "Someone".into(),
            role,
        }
    }

    /// A half-hour visit starting at `start_ms`, between new people.
    pub fn appointment(start_ms: i64, status: Status) -> Appointment {
        Appointment {
            id: AppointmentId::random(),
            doctor: user(Role::Doctor),
            patient: user(Role::Patient),
            start_ms,
            end_ms: start_ms + 30 * 60_000,
            mode: Mode::Video,
            reason: "check-up".into(),
            status,
            doctor_comment: None,
            cancelled_by: None,
            rescheduled_from: None,
            rescheduled_to: None,
            notes_updated_at_ms: None,
            rating: None,
            review: None,
            created_at_ms: 0,
            updated_at_ms: 0,
            change: 1,
        }
    }
}
