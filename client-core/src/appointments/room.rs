//! The waiting room of an appointment, on this device: the requests
//! (`room_join`, `room_leave` over [`SignalingClient::request`]), and what
//! the engine keeps so that a waiting patient stays waiting across
//! reconnects.
//!
//! **The patient waits until they leave, or the visit's call rings.** The
//! server forgets the waiting of a session it drops (the device was away
//! past its resume grace). So the device remembers that it waits; after a
//! reconnect that starts a *new* session, the engine joins again; a
//! *resumed* session still waits on the server and nothing is sent. The
//! wish ends when the patient leaves ([`AppointmentsHandle::leave_room`]),
//! when a call for the appointment rings this user (`call_incoming` with
//! its id: the doctor admitted, or called for the visit), or when the
//! server refuses to let them wait any more (the visit was cancelled,
//! say). A rejoin that crosses the doctor's admit is harmless: the server
//! does not put a patient whose visit's call rings back in the room.
//!
//! A leave asked for while the socket is down is sent when the session
//! resumes (on a new session the server has already forgotten the wait).
//!
//! **The doctor looks in** with the same message
//! ([`AppointmentsHandle::who_waits`]), and hears every change as
//! [`AppointmentEvent::RoomWaiting`](super::AppointmentEvent::RoomWaiting)
//! on all of their devices; admitting is a call action:
//! [`CallHandle::admit`](crate::driver::CallHandle::admit).

use super::handle::{AppointmentEvent, AppointmentsHandle};
use super::sync::Command;
use crate::protocol::{AppointmentId, ClientMessage, ErrorCode, ServerMessage, UserSummary};
use crate::signaling::{self, SignalingClient};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc;

/// Who waits in an appointment's waiting room: the server's `room_waiting`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomWaiting {
    /// The appointment.
    pub appointment_id: AppointmentId,
    /// Its patient.
    pub patient: UserSummary,
    /// The patient is waiting now.
    pub waiting: bool,
}

impl From<RoomWaiting> for AppointmentEvent {
    fn from(r: RoomWaiting) -> Self {
        AppointmentEvent::RoomWaiting {
            appointment_id: r.appointment_id,
            patient: r.patient,
            waiting: r.waiting,
        }
    }
}

/// Why a waiting-room request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RoomError {
    /// The engine was started without the signaling connection
    /// ([`AppointmentSync::start`](super::AppointmentSync::start)); use
    /// [`AppointmentSync::start_with_room`](super::AppointmentSync::start_with_room).
    #[error("the waiting room needs the signaling connection")]
    NoSignaling,
    /// The server could not be asked (offline, timed out, stopped).
    #[error(transparent)]
    Signaling(#[from] signaling::Error),
    /// The server refused: `not_found` (no such appointment, or not
    /// yours), `forbidden` (not your part: a doctor leaving),
    /// `invalid_transition` (the visit is not scheduled).
    #[error("{message}")]
    Refused {
        /// The server's code.
        code: ErrorCode,
        /// Its explanation.
        message: String,
    },
    /// The server answered with something else than `room_waiting`.
    #[error("unexpected reply from the server: {0}")]
    UnexpectedReply(&'static str),
}

impl RoomError {
    /// The server's error code, when the server refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            RoomError::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// A refusal that will not change by asking again (the room is not
    /// this user's, or the visit is no longer scheduled).
    fn is_final(&self) -> bool {
        matches!(
            self.code(),
            Some(ErrorCode::NotFound | ErrorCode::Forbidden | ErrorCode::InvalidTransition)
        )
    }
}

/// What this device wants of a room.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Wish {
    /// To wait (as this patient).
    Wait(UserSummary),
    /// To leave, not yet told to the server.
    Leave,
}

/// The rooms this device waits in or has yet to leave, shared by the
/// handle and the engine.
#[derive(Clone, Debug, Default)]
pub(super) struct Wishes(Arc<Mutex<HashMap<AppointmentId, Wish>>>);

impl Wishes {
    fn lock(&self) -> MutexGuard<'_, HashMap<AppointmentId, Wish>> {
        // Plain data, consistent after any panic elsewhere.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn waiting(&self) -> Vec<AppointmentId> {
        let mut ids: Vec<AppointmentId> = self
            .lock()
            .iter()
            .filter(|(_, w)| matches!(w, Wish::Wait(_)))
            .map(|(id, _)| *id)
            .collect();
        ids.sort();
        ids
    }

    /// The call for `appointment_id` rings: this device no longer waits.
    /// Returns the ended wait, if it was one.
    pub(super) fn rang(&self, appointment_id: AppointmentId) -> Option<RoomWaiting> {
        let mut wishes = self.lock();
        match wishes.get(&appointment_id) {
            Some(Wish::Wait(patient)) => {
                let patient = patient.clone();
                wishes.remove(&appointment_id);
                Some(RoomWaiting {
                    appointment_id,
                    patient,
                    waiting: false,
                })
            }
            _ => None,
        }
    }
}

/// Sends a room request and reads its `room_waiting` reply.
async fn ask(signaling: &SignalingClient, msg: ClientMessage) -> Result<RoomWaiting, RoomError> {
    match signaling.request(msg).await?.msg {
        ServerMessage::RoomWaiting {
            appointment_id,
            patient,
            waiting,
        } => Ok(RoomWaiting {
            appointment_id,
            patient,
            waiting,
        }),
        ServerMessage::Error { code, message, .. } => Err(RoomError::Refused { code, message }),
        _ => Err(RoomError::UnexpectedReply("expected room_waiting")),
    }
}

impl AppointmentsHandle {
    /// Patient: waits in the visit's waiting room (it must be
    /// `scheduled`); the doctor's devices hear it, and this device keeps
    /// waiting across reconnects until [`leave_room`](Self::leave_room) or
    /// the visit's call rings (see [`crate::appointments::room`]). Doctor: the
    /// same as [`who_waits`](Self::who_waits).
    ///
    /// Answers the server's `room_waiting` (also emitted as
    /// [`AppointmentEvent::RoomWaiting`]); `waiting: false` for a patient
    /// whose visit's call already rings. Refusals carry the server's code:
    /// `not_found` (no such appointment, or not yours),
    /// `invalid_transition` (not scheduled).
    pub async fn join_room(&self, appointment: AppointmentId) -> Result<RoomWaiting, RoomError> {
        let signaling = self.signaling()?;
        let reply = ask(
            signaling,
            ClientMessage::RoomJoin {
                appointment_id: appointment,
            },
        )
        .await?;
        if reply.patient.id == self.cache.me() {
            let mut wishes = self.wishes.lock();
            if reply.waiting {
                wishes.insert(appointment, Wish::Wait(reply.patient.clone()));
            } else {
                wishes.remove(&appointment);
            }
        }
        self.told(reply.clone()).await;
        Ok(reply)
    }

    /// Patient: leaves the waiting room. Offline, the leave is kept and
    /// sent when the session resumes, and this returns the
    /// [`RoomError::Signaling`] error.
    pub async fn leave_room(&self, appointment: AppointmentId) -> Result<RoomWaiting, RoomError> {
        let signaling = self.signaling()?;
        self.wishes.lock().insert(appointment, Wish::Leave);
        let result = ask(
            signaling,
            ClientMessage::RoomLeave {
                appointment_id: appointment,
            },
        )
        .await;
        if !matches!(&result, Err(RoomError::Signaling(_))) {
            // Answered: nothing left to tell the server.
            self.wishes.lock().remove(&appointment);
        }
        let reply = result?;
        self.told(reply.clone()).await;
        Ok(reply)
    }

    /// Doctor: whether the visit's patient waits now (`room_join` from a
    /// doctor looks in). Changes arrive as
    /// [`AppointmentEvent::RoomWaiting`] without asking; ask after a
    /// reconnect, or when opening the visit.
    pub async fn who_waits(&self, appointment: AppointmentId) -> Result<RoomWaiting, RoomError> {
        let signaling = self.signaling()?;
        ask(
            signaling,
            ClientMessage::RoomJoin {
                appointment_id: appointment,
            },
        )
        .await
    }

    /// The appointments whose waiting room this device waits in (as the
    /// patient), by id.
    pub fn waiting_rooms(&self) -> Vec<AppointmentId> {
        self.wishes.waiting()
    }

    fn signaling(&self) -> Result<&SignalingClient, RoomError> {
        self.signaling.as_ref().ok_or(RoomError::NoSignaling)
    }

    /// Has the engine tell the app, in order with the rest of its news.
    async fn told(&self, reply: RoomWaiting) {
        // A stopped engine has nobody to tell.
        let _ = self.commands.send(Command::Room(reply)).await;
    }
}

/// After a connect: a new session joins the rooms this device waits in
/// again and forgets the leaves it owed (the server forgot the waiting);
/// a resumed one owes only its leaves. Runs in its own task so the engine
/// never waits on the socket.
pub(super) async fn after_connect(
    signaling: SignalingClient,
    wishes: Wishes,
    resumed: bool,
    events: mpsc::Sender<AppointmentEvent>,
) {
    let owed: Vec<(AppointmentId, Wish)> = {
        let mut all = wishes.lock();
        if !resumed {
            all.retain(|_, wish| matches!(wish, Wish::Wait(_)));
        }
        all.iter().map(|(id, w)| (*id, w.clone())).collect()
    };
    for (appointment_id, wish) in owed {
        match (wish, resumed) {
            (Wish::Wait(patient), false) => {
                let result = ask(&signaling, ClientMessage::RoomJoin { appointment_id }).await;
                let news = match result {
                    Ok(reply) => {
                        if !reply.waiting {
                            forget_wait(&wishes, appointment_id);
                        }
                        Some(reply)
                    }
                    Err(e) if e.is_final() => {
                        tracing::info!(error = %e, %appointment_id, "no longer waiting");
                        forget_wait(&wishes, appointment_id);
                        Some(RoomWaiting {
                            appointment_id,
                            patient,
                            waiting: false,
                        })
                    }
                    // The next connect tries again.
                    Err(e) => {
                        tracing::info!(error = %e, %appointment_id, "could not wait again yet");
                        None
                    }
                };
                if let Some(news) = news {
                    let _ = events.send(news.into()).await;
                }
            }
            (Wish::Leave, true) => {
                let result = ask(&signaling, ClientMessage::RoomLeave { appointment_id }).await;
                match result {
                    Err(RoomError::Signaling(e)) => {
                        tracing::info!(error = %e, %appointment_id, "leave not sent yet");
                    }
                    other => {
                        forget_leave(&wishes, appointment_id);
                        if let Ok(reply) = other {
                            let _ = events.send(reply.into()).await;
                        }
                    }
                }
            }
            // A resumed session still waits; a new one owes no leave.
            (Wish::Wait(_), true) | (Wish::Leave, false) => {}
        }
    }
}

/// Forgets a wait, unless the user changed their mind meanwhile.
fn forget_wait(wishes: &Wishes, appointment_id: AppointmentId) {
    let mut all = wishes.lock();
    if matches!(all.get(&appointment_id), Some(Wish::Wait(_))) {
        all.remove(&appointment_id);
    }
}

/// Forgets a leave the server has answered, unless the user asked to wait
/// again meanwhile.
fn forget_leave(wishes: &Wishes, appointment_id: AppointmentId) {
    let mut all = wishes.lock();
    if all.get(&appointment_id) == Some(&Wish::Leave) {
        all.remove(&appointment_id);
    }
}
