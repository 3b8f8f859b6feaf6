//! The appointments engine's task: sync by cursor on every connect, store
//! `appointment_changed` pushes at once, tell the UI what changed. See the
//! module docs of [`crate::appointments`].

use super::handle::{AppointmentError, AppointmentEvent, AppointmentsHandle};
use super::rest::AppointmentsClient;
use super::room::{self, RoomWaiting, Wishes};
use crate::cache::AccountCache;
use crate::feed::{EngineFeed, FeedItem};
use crate::protocol::{AppointmentId, ServerMessage};
use crate::signaling::SignalingClient;
use crate::timer::sleep_until;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc};
use tokio::time::Instant;

/// Capacity of the [`AppointmentEvent`] channel; a full one pauses the
/// engine (never the driver: see [`EngineFeed`]).
const EVENT_CAPACITY: usize = 256;

/// Most sync pages in one go: a safety stop against a server that keeps
/// saying `more` without moving its cursor forward (at 100 a page, far
/// more appointments than one user has).
const MAX_PAGES: usize = 1000;

/// Settings of an [`AppointmentSync`] engine.
#[derive(Clone, Debug)]
pub struct AppointmentSyncConfig {
    /// How long to wait before syncing again after a failure that may pass
    /// (server busy, a request timed out), when no reconnect comes first.
    pub retry_after: Duration,
}

impl Default for AppointmentSyncConfig {
    fn default() -> Self {
        Self {
            retry_after: Duration::from_secs(5),
        }
    }
}

/// What the handle tells the engine.
#[derive(Debug)]
pub(super) enum Command {
    /// The user's own action stored these appointments.
    Stored(Vec<AppointmentId>),
    /// The server answered the user's own waiting-room request.
    Room(RoomWaiting),
    /// Stop.
    Shutdown,
}

/// What starting an engine gives: the app's handle, the driver's feed and
/// the engine's news.
pub type Started = (
    AppointmentsHandle,
    EngineFeed,
    mpsc::Receiver<AppointmentEvent>,
);

/// Starts appointment engines.
#[derive(Debug)]
pub struct AppointmentSync;

impl AppointmentSync {
    /// Spawns the engine over `cache` and the REST `client`. Give the
    /// returned [`EngineFeed`] to
    /// [`CallDriver::start_with_feeds`](crate::driver::CallDriver::start_with_feeds)
    /// (beside the chat engine's), which feeds it the connection's news and
    /// the `appointment_changed` and `room_waiting` pushes. Must be called
    /// inside a tokio runtime.
    ///
    /// Without the signaling client the waiting-room calls of the handle
    /// fail with [`RoomError::NoSignaling`](super::RoomError::NoSignaling):
    /// see [`start_with_room`](Self::start_with_room).
    pub fn start(
        client: AppointmentsClient,
        cache: Arc<AccountCache>,
        config: AppointmentSyncConfig,
    ) -> Started {
        Self::spawn(client, None, cache, config)
    }

    /// [`start`](Self::start), with the waiting room: `signaling` is the
    /// client the driver runs over, used for
    /// [`AppointmentsHandle::join_room`], [`leave_room`](AppointmentsHandle::leave_room)
    /// and [`who_waits`](AppointmentsHandle::who_waits), and to wait again
    /// after a reconnect (see [`super::room`]).
    pub fn start_with_room(
        client: AppointmentsClient,
        signaling: SignalingClient,
        cache: Arc<AccountCache>,
        config: AppointmentSyncConfig,
    ) -> Started {
        Self::spawn(client, Some(signaling), cache, config)
    }

    fn spawn(
        client: AppointmentsClient,
        signaling: Option<SignalingClient>,
        cache: Arc<AccountCache>,
        config: AppointmentSyncConfig,
    ) -> Started {
        let (feed, feed_rx) = EngineFeed::watching(is_appointment_push, is_visit_ring);
        let (commands_tx, commands_rx) = mpsc::channel(64);
        let (events_tx, events_rx) = mpsc::channel(EVENT_CAPACITY);
        let wishes = Wishes::default();
        let engine = Engine {
            client: client.clone(),
            cache: Arc::clone(&cache),
            config,
            feed: feed_rx,
            commands: commands_rx,
            events: events_tx,
            online: false,
            sync_due: false,
            retry_at: None,
            signaling: signaling.clone(),
            wishes: wishes.clone(),
        };
        let handle = AppointmentsHandle {
            client,
            cache,
            commands: commands_tx,
            task: Arc::new(Mutex::new(Some(tokio::spawn(engine.run())))),
            signaling,
            wishes,
        };
        (handle, feed, events_rx)
    }
}

/// The pushes the appointments engine takes from the driver.
fn is_appointment_push(msg: &ServerMessage) -> bool {
    matches!(
        msg,
        ServerMessage::AppointmentChanged { .. } | ServerMessage::RoomWaiting { .. }
    )
}

/// The messages it watches and leaves to the driver: a call for a visit
/// rings, which ends the wait in its room.
fn is_visit_ring(msg: &ServerMessage) -> bool {
    matches!(
        msg,
        ServerMessage::CallIncoming {
            appointment_id: Some(_),
            ..
        }
    )
}

struct Engine {
    client: AppointmentsClient,
    cache: Arc<AccountCache>,
    config: AppointmentSyncConfig,
    feed: mpsc::UnboundedReceiver<FeedItem>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<AppointmentEvent>,
    /// Between `Connected` and `Disconnected`.
    online: bool,
    /// A connect happened, or a sync failed: fetch changes since the
    /// cursor.
    sync_due: bool,
    /// After a failure, no sync before this (a reconnect clears it).
    retry_at: Option<Instant>,
    /// For the waiting room, if started with it.
    signaling: Option<SignalingClient>,
    /// The rooms this device waits in, shared with the handle.
    wishes: Wishes,
}

impl Engine {
    async fn run(mut self) {
        loop {
            if self.online && self.sync_due && self.retry_at.is_none() {
                match self.sync().await {
                    Ok(()) => self.sync_due = false,
                    Err(e) => self.failed(e),
                }
            }
            tokio::select! {
                item = self.feed.recv() => match item {
                    Some(FeedItem::Connected { resumed }) => {
                        self.online = true;
                        self.sync_due = true;
                        self.retry_at = None;
                        self.emit(AppointmentEvent::Status { online: true }).await;
                        if let Some(signaling) = &self.signaling {
                            tokio::spawn(room::after_connect(
                                signaling.clone(),
                                self.wishes.clone(),
                                resumed,
                                self.events.clone(),
                            ));
                        }
                    }
                    Some(FeedItem::Disconnected) => {
                        self.online = false;
                        self.emit(AppointmentEvent::Status { online: false }).await;
                    }
                    Some(FeedItem::Push(msg)) => self.on_push(*msg).await,
                    Some(FeedItem::Seen(msg)) => self.on_seen(*msg).await,
                    Some(FeedItem::Closed) | None => break,
                },
                command = self.commands.recv() => match command {
                    Some(Command::Stored(ids)) => self.changed(ids).await,
                    Some(Command::Room(reply)) => self.emit(reply.into()).await,
                    Some(Command::Shutdown) | None => break,
                },
                () = sleep_until(self.retry_at), if self.retry_at.is_some() => {
                    self.retry_at = None;
                }
            }
        }
        if self.online {
            self.emit(AppointmentEvent::Status { online: false }).await;
        }
    }

    async fn on_push(&mut self, msg: ServerMessage) {
        let appointment = match msg {
            ServerMessage::AppointmentChanged { appointment } => appointment,
            ServerMessage::RoomWaiting {
                appointment_id,
                patient,
                waiting,
            } => {
                let news = AppointmentEvent::RoomWaiting {
                    appointment_id,
                    patient,
                    waiting,
                };
                return self.emit(news).await;
            }
            msg => {
                tracing::debug!(?msg, "not an appointment push");
                return;
            }
        };
        match self.cache.apply_appointments(vec![appointment]).await {
            Ok(ids) => self.changed(ids).await,
            // The next sync by cursor brings it again.
            Err(e) => self.failed(e.into()),
        }
    }

    /// A call for a visit rings this user: a wait in its room is over.
    async fn on_seen(&mut self, msg: ServerMessage) {
        let ServerMessage::CallIncoming {
            appointment_id: Some(label),
            ..
        } = msg
        else {
            return;
        };
        let ended = label
            .parse::<AppointmentId>()
            .ok()
            .and_then(|id| self.wishes.rang(id));
        if let Some(ended) = ended {
            self.emit(ended.into()).await;
        }
    }

    fn failed(&mut self, error: AppointmentError) {
        tracing::warn!(%error, "appointment sync failed; trying again later");
        self.sync_due = true;
        self.retry_at = Some(Instant::now() + self.config.retry_after);
    }

    /// Pages through the changes since the stored cursor until the server
    /// has no more, storing each page with its cursor; then fetches the
    /// profiles of doctors the user has appointments with.
    async fn sync(&mut self) -> Result<(), AppointmentError> {
        let mut since = self.cache.appointment_cursor().await?;
        for _ in 0..MAX_PAGES {
            let page = self.client.changes(since).await?;
            let (cursor, more) = (page.cursor, page.more);
            let ids = self.cache.apply_appointment_changes(page).await?;
            self.changed(ids).await;
            let advanced = cursor > since;
            since = since.max(cursor);
            if !more || !advanced {
                break;
            }
        }
        self.fetch_missing_doctors().await?;
        self.emit(AppointmentEvent::Synced { cursor: since }).await;
        Ok(())
    }

    /// Profiles of the doctors of cached appointments, so a doctor's page
    /// reads offline. One that cannot be had (say, an account since
    /// removed) does not stop the sync.
    async fn fetch_missing_doctors(&mut self) -> Result<(), AppointmentError> {
        for doctor in self.cache.doctors_without_profile().await? {
            match self.client.doctor(doctor).await {
                Ok(profile) => self.cache.store_doctor(profile).await?,
                Err(e) if e.code().is_some() => {
                    tracing::info!(error = %e, %doctor, "doctor profile not available");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn changed(&mut self, ids: Vec<AppointmentId>) {
        if !ids.is_empty() {
            self.emit(AppointmentEvent::Changed { ids }).await;
        }
    }

    async fn emit(&mut self, event: AppointmentEvent) {
        // Nobody listens any more: that is the app's right.
        let _ = self.events.send(event).await;
    }
}
