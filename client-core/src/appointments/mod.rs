//! Appointments and the doctor directory: the REST client, and the sync
//! engine that keeps the encrypted cache ([`AccountCache`](crate::cache::AccountCache))
//! in step with the server so the schedule and past visits read offline.
//!
//! - [`rest`]: the calls (directory, slots, profile, booking, the status
//!   workflow, notes, rating, visit records, changes since a cursor);
//! - [`AppointmentSync`] (one tokio task): on every connect it pages
//!   through `GET /appointments?since=<cursor>` and stores each page with
//!   its cursor; every `appointment_changed` push is stored at once (a
//!   push does not move the cursor: change numbers are global, so a push
//!   says nothing about the changes before it, and the next sync fetches
//!   it again harmlessly). It owns no socket: the
//!   [`CallDriver`](crate::driver::CallDriver) hands it connects, drops and
//!   the pushes through an [`EngineFeed`](crate::feed::EngineFeed)
//!   ([`CallDriver::start_with_feeds`](crate::driver::CallDriver::start_with_feeds)).
//! - [`AppointmentsHandle`]: the user's actions, whose answers are stored
//!   at once, and fetches of profiles, notes and visit records that are
//!   kept for offline reading.
//! - [`room`]: the waiting room, when the engine is started with the
//!   signaling client ([`AppointmentSync::start_with_room`]): the patient
//!   waits with [`AppointmentsHandle::join_room`] (and stays waiting across
//!   reconnects until [`leave_room`](AppointmentsHandle::leave_room) or
//!   the visit's call rings); the doctor looks in with
//!   [`who_waits`](AppointmentsHandle::who_waits), hears every change as
//!   [`AppointmentEvent::RoomWaiting`], and admits with
//!   [`CallHandle::admit`](crate::driver::CallHandle::admit).
//! - [`quality`]: the [`QualityReporter`] posts this party's
//!   [`QualitySummary`](crate::protocol::appointments::QualitySummary) of
//!   every ended call of an appointment for its visit record; hand it each
//!   [`DriverEvent`](crate::driver::DriverEvent) the app reads.
//!
//! The UI reads the cache and re-reads when an [`AppointmentEvent`] says
//! something changed.
//!
//! For the desktop shell, one Tauri command each:
//!
//! | command | call | answer |
//! | --- | --- | --- |
//! | patient: wait | `appointments.join_room(id)` | [`RoomWaiting`] or [`RoomError`] (`code()`: `not_found`, `invalid_transition`) |
//! | patient: leave | `appointments.leave_room(id)` | same |
//! | doctor: who waits | `appointments.who_waits(id)` | same |
//! | doctor: admit | `calls.admit(id, waiting.patient.id)` | [`DriverError`](crate::driver::DriverError); the call then goes on as an outgoing one |
//!
//! ```no_run
//! use clinicall_client_core::appointments::{
//!     AppointmentSync, AppointmentSyncConfig, AppointmentsClient,
//! };
//! use clinicall_client_core::cache::AccountCache;
//! use clinicall_client_core::signaling::AuthSession;
//! use std::sync::Arc;
//!
//! # async fn demo(auth: Arc<AuthSession>, cache: Arc<AccountCache>, now_ms: i64) -> Result<(), Box<dyn std::error::Error>> {
//! let rest = AppointmentsClient::new(auth)?;
//! let (appointments, feed, mut events) =
//!     AppointmentSync::start(rest, cache, AppointmentSyncConfig::default());
//! // (or `start_with_room(rest, signaling_client, cache, config)` for the
//! // waiting room.) Give `feed` to CallDriver::start_with_feeds, then:
//! while let Some(_event) = events.recv().await {
//!     let upcoming = appointments.cache().upcoming_appointments(now_ms).await?;
//!     println!("{} upcoming visits", upcoming.len());
//! }
//! # drop(feed);
//! # Ok(()) }
//! ```

mod handle;
pub mod quality;
pub mod rest;
pub mod room;
mod sync;

pub use handle::{AppointmentError, AppointmentEvent, AppointmentsHandle};
pub use quality::{QualityAccumulator, QualityReporter, ReportRetry};
pub use rest::{AppointmentsClient, DoctorQuery};
pub use room::{RoomError, RoomWaiting};
pub use sync::{AppointmentSync, AppointmentSyncConfig, Started};
