//! [`WebRtcEngine`]: the call driver's media side, one session per call.

use super::peer;
use super::session::{self, SessionCommand, SessionParams};
use super::{MediaIo, MediaSettings};
use crate::call::MediaRole;
use crate::driver::{MediaEngine, MediaEventSink};
use clinicall_protocol::{CallId, IceServer, Signal, UserId};
use rtc::peer_connection::certificate::RTCCertificate;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Real media for calls: give it to [`crate::driver::CallDriver::start`].
pub struct WebRtcEngine {
    settings: Arc<MediaSettings>,
    io: Arc<dyn MediaIo>,
    ice_servers: Vec<IceServer>,
    /// Reused by every call (see `peer::generate_certificate`); `None`
    /// if it could not be made, and then each call makes its own.
    certificate: Option<RTCCertificate>,
    registry: Arc<Registry>,
}

impl std::fmt::Debug for WebRtcEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtcEngine")
            .field("settings", &self.settings)
            .field("ice_servers", &self.ice_servers.len())
            .finish_non_exhaustive()
    }
}

/// The sessions of one engine: running ones by call, and the tasks of
/// stopped ones until they have released everything.
#[derive(Debug, Default)]
struct Registry {
    live: Mutex<HashMap<CallId, mpsc::UnboundedSender<SessionCommand>>>,
    closing: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these short critical sections leaves plain
    // data behind, still consistent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The app's handle on the engine's sessions (the engine itself is moved
/// into the call driver). Cheap to clone.
#[derive(Clone, Debug)]
pub struct MediaControl {
    registry: Arc<Registry>,
}

impl WebRtcEngine {
    /// An engine taking media from and giving it to `io`.
    pub fn new(settings: MediaSettings, io: Arc<dyn MediaIo>) -> (WebRtcEngine, MediaControl) {
        let registry = Arc::new(Registry::default());
        let certificate = peer::generate_certificate()
            .inspect_err(|e| tracing::warn!(error = %e, "no shared DTLS certificate"))
            .ok();
        let engine = WebRtcEngine {
            settings: Arc::new(settings),
            io,
            ice_servers: Vec::new(),
            certificate,
            registry: registry.clone(),
        };
        (engine, MediaControl { registry })
    }
}

impl MediaEngine for WebRtcEngine {
    fn start(&mut self, call_id: CallId, role: MediaRole, events: MediaEventSink) {
        let (tx, rx) = mpsc::unbounded_channel();
        let params = SessionParams {
            call_id,
            role,
            settings: self.settings.clone(),
            ice_servers: self.ice_servers.clone(),
            certificate: self.certificate.clone(),
            io: self.io.clone(),
            events,
        };
        let task = tokio::spawn(session::run(params, rx));
        lock(&self.registry.closing).push(task);
        if lock(&self.registry.live).insert(call_id, tx).is_some() {
            tracing::error!(%call_id, "media started twice for one call");
        }
    }

    fn restart_ice(&mut self, call_id: CallId) {
        self.command(call_id, SessionCommand::RestartIce);
    }

    fn stop(&mut self, call_id: CallId) {
        // Dropping the command sender ends the session, which closes the
        // peer connection, its sockets and threads.
        lock(&self.registry.live).remove(&call_id);
    }

    fn handle_signal(&mut self, call_id: CallId, _from: UserId, signal: Signal) {
        self.command(call_id, SessionCommand::Signal(signal));
    }

    fn set_ice_servers(&mut self, servers: Vec<IceServer>) {
        self.ice_servers = servers;
    }
}

impl WebRtcEngine {
    fn command(&self, call_id: CallId, command: SessionCommand) {
        match lock(&self.registry.live).get(&call_id) {
            Some(tx) => {
                let _ = tx.send(command);
            }
            None => tracing::debug!(%call_id, ?command, "no media session for this call"),
        }
    }
}

impl MediaControl {
    /// Calls with a media session running.
    pub fn live_sessions(&self) -> usize {
        lock(&self.registry.live).len()
    }

    /// Closes the live sessions' sockets and binds new ones, as after a
    /// network change; ICE notices the old path is gone, and the call
    /// machine restarts ICE. For tests and diagnostics.
    pub fn rebind_sockets(&self) {
        for tx in lock(&self.registry.live).values() {
            let _ = tx.send(SessionCommand::Rebind);
        }
    }

    /// Makes every live session send a keyframe next and ask the other
    /// party for one, so a display attached mid-call can start decoding.
    pub fn refresh_video(&self) {
        for tx in lock(&self.registry.live).values() {
            let _ = tx.send(SessionCommand::RefreshVideo);
        }
    }

    /// Waits until every stopped session has released its peer connection,
    /// sockets and threads. Sessions still live are not waited for.
    pub async fn wait_released(&self) {
        loop {
            let finished: Vec<JoinHandle<()>> = {
                let mut closing = lock(&self.registry.closing);
                let (done, running): (Vec<_>, Vec<_>) =
                    closing.drain(..).partition(|task| task.is_finished());
                *closing = running;
                done
            };
            for task in finished {
                if let Err(e) = task.await {
                    tracing::error!(error = %e, "media session task failed");
                }
            }
            let pending = lock(&self.registry.closing).len();
            if pending <= self.live_sessions() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}
