//! The app's side of the appointments engine: actions whose results go
//! into the cache at once, fetches that keep what the user has seen for
//! offline reading, the engine's news and its errors.

use super::rest::AppointmentsClient;
use super::room::Wishes;
use super::sync::Command;
use crate::cache::{AccountCache, CacheError};
use crate::protocol::appointments::{
    Appointment, DoctorProfile, Notes, RescheduleBody, Rescheduled, Visit,
};
use crate::protocol::{AppointmentId, ErrorCode, UserId, UserSummary};
use crate::signaling::{RestError, SignalingClient};
use std::future::Future;
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;

/// What changed, for the UI to re-read from the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AppointmentEvent {
    /// These appointments changed in the cache (a push, a sync page, or
    /// the user's own action): re-read them and the lists they are in.
    Changed {
        /// The appointments.
        ids: Vec<AppointmentId>,
    },
    /// A sync by cursor finished after a connect: the cache holds every
    /// change up to `cursor`.
    Synced {
        /// The stored cursor.
        cursor: u64,
    },
    /// Whether the engine hears the server (connected or not).
    Status {
        /// Connected to the server.
        online: bool,
    },
    /// Who waits in an appointment's waiting room. To the doctor: every
    /// change (the patient came, left, was admitted, or their device went
    /// away). To the patient: the answer to their own
    /// [`join_room`](AppointmentsHandle::join_room) and
    /// [`leave_room`](AppointmentsHandle::leave_room), a rejoin after a
    /// reconnect, and the end of the wait when the visit's call rings or
    /// the server no longer lets them wait.
    RoomWaiting {
        /// The appointment.
        appointment_id: AppointmentId,
        /// Its patient.
        patient: UserSummary,
        /// The patient is waiting now.
        waiting: bool,
    },
}

/// Why an appointment action failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppointmentError {
    /// The server refused ([`RestError::Api`], with its code, such as
    /// `slot_taken`), or could not be reached.
    #[error(transparent)]
    Rest(#[from] RestError),
    /// The cache failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

impl AppointmentError {
    /// The server's error code, when the server refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            AppointmentError::Rest(e) => e.code(),
            AppointmentError::Cache(_) => None,
        }
    }
}

/// Controls of a running appointments engine. Cheap to clone. Read the
/// schedule, visits and profiles from [`cache`](Self::cache); act through
/// the methods here, which store what the server answers.
#[derive(Clone, Debug)]
pub struct AppointmentsHandle {
    pub(super) client: AppointmentsClient,
    pub(super) cache: Arc<AccountCache>,
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) task: Arc<Mutex<Option<JoinHandle<()>>>>,
    /// For the waiting room, when the engine was started with it.
    pub(super) signaling: Option<SignalingClient>,
    pub(super) wishes: Wishes,
}

impl AppointmentsHandle {
    /// The REST client, for calls whose answers are not kept (directory
    /// search, slots, profile edits).
    pub fn rest(&self) -> &AppointmentsClient {
        &self.client
    }

    /// The cache: what reads offline.
    pub fn cache(&self) -> &Arc<AccountCache> {
        &self.cache
    }

    /// Runs an action that answers with the appointment (book, confirm,
    /// reject, cancel, complete, notes, rating) and stores the answer at
    /// once, without waiting for its push:
    /// `handle.act(handle.rest().confirm(id, None))`.
    pub async fn act(
        &self,
        action: impl Future<Output = Result<Appointment, RestError>>,
    ) -> Result<Appointment, AppointmentError> {
        let appointment = action.await?;
        self.store(vec![appointment.clone()]).await?;
        Ok(appointment)
    }

    /// Reschedules (doctor) and stores both the replaced appointment and
    /// its replacement.
    pub async fn reschedule(
        &self,
        id: AppointmentId,
        body: &RescheduleBody,
    ) -> Result<Rescheduled, AppointmentError> {
        let pair = self.client.reschedule(id, body).await?;
        self.store(vec![pair.old.clone(), pair.new.clone()]).await?;
        Ok(pair)
    }

    /// A doctor's profile from the server, kept for offline reading
    /// ([`AccountCache::doctor`]).
    pub async fn doctor(&self, id: UserId) -> Result<DoctorProfile, AppointmentError> {
        let profile = self.client.doctor(id).await?;
        self.cache.store_doctor(profile.clone()).await?;
        Ok(profile)
    }

    /// The clinical notes from the server (an audited read), kept for
    /// offline reading ([`AccountCache::notes`]).
    pub async fn notes(&self, id: AppointmentId) -> Result<Notes, AppointmentError> {
        let notes = self.client.notes(id).await?;
        self.cache.store_notes(notes.clone()).await?;
        Ok(notes)
    }

    /// The visit records from the server, kept for offline reading
    /// ([`AccountCache::visits`]).
    pub async fn visits(&self, id: AppointmentId) -> Result<Vec<Visit>, AppointmentError> {
        let visits = self.client.visits(id).await?;
        self.cache.store_visits(id, visits.clone()).await?;
        Ok(visits)
    }

    /// Stops the engine and waits for it. Idempotent.
    pub async fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown).await;
        let handle = self.task.lock().await.take();
        if let Some(handle) = handle
            && let Err(e) = handle.await
        {
            tracing::error!(error = %e, "appointments engine task failed");
        }
    }

    async fn store(&self, appointments: Vec<Appointment>) -> Result<(), AppointmentError> {
        let ids = self.cache.apply_appointments(appointments).await?;
        if !ids.is_empty() {
            // A stopped engine has nobody to tell.
            let _ = self.commands.send(Command::Stored(ids)).await;
        }
        Ok(())
    }
}
