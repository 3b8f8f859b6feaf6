//! One signed-in connection: the login, the call driver over the
//! signaling client and the media engine, the account's cache with the
//! chat and the appointments over the same connection, and the task that
//! forwards the core's events to the window.

use crate::account::AccountStore;
use crate::appointments::AppointmentsSession;
use crate::chat::ChatSession;
use crate::shell::Shell;
use crate::ui_event::{CallPhase, CallTracker, UiEvent};
use clinicall_client_core::appointments::{AppointmentsClient, QualityReporter};
use clinicall_client_core::call::CallConfig;
use clinicall_client_core::driver::{CallDriver, CallHandle, DriverEvent};
use clinicall_client_core::media::{MediaControl, MediaSettings, WebRtcEngine};
use clinicall_client_core::signaling::{AuthSession, ClientConfig, SignalingClient};
use clinicall_protocol::rest::Account;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// A running signed-in connection.
pub struct Connection {
    /// The login (tokens, REST).
    pub auth: Arc<AuthSession>,
    /// Call controls.
    pub calls: CallHandle,
    /// The media sessions.
    pub media: MediaControl,
    /// Who is signed in.
    pub account: Account,
    /// The chat, or why it could not start (calls work either way).
    pub chat: Result<ChatSession, String>,
    /// The appointments, or why they could not start.
    pub appointments: Result<AppointmentsSession, String>,
    /// The account's cache, closed after the engines stop.
    store: Option<AccountStore>,
    forwarder: JoinHandle<()>,
}

/// Called with each call view, to notify the OS when a call rings.
pub type OnCall = Arc<dyn Fn(&UiEvent) + Send + Sync>;

impl Connection {
    /// Connects `auth` (already signed in) to `server`, opens the
    /// account's cache under the shell's data folder, starts the chat and
    /// appointments engines on it and forwards events to the shell's hub.
    pub async fn start(
        server: &str,
        auth: Arc<AuthSession>,
        account: Account,
        shell: &Shell,
    ) -> Result<Connection, String> {
        let hub = shell.hub.clone();
        let on_call = shell.on_call.clone();
        let config = ClientConfig::new(server);
        let (client, signaling) =
            SignalingClient::start(config, auth.clone()).map_err(|e| e.to_string())?;
        let (engine, control) = WebRtcEngine::new(MediaSettings::default(), shell.media.clone());
        let store = AccountStore::open(server, &account, &shell.data_dir).await;
        let mut feeds = Vec::new();
        let (chat, appointments) = match &store {
            Ok(store) => {
                let chat = ChatSession::start(
                    client.clone(),
                    auth.clone(),
                    store.cache.clone(),
                    hub.clone(),
                    shell.on_message.clone(),
                );
                let appointments = AppointmentsSession::start(
                    client.clone(),
                    auth.clone(),
                    store.cache.clone(),
                    hub.clone(),
                    shell.on_reminder.clone(),
                );
                (
                    chat.map(|(session, feed)| {
                        feeds.push(feed);
                        session
                    }),
                    appointments.map(|(session, feed)| {
                        feeds.push(feed);
                        session
                    }),
                )
            }
            Err(why) => (Err(why.clone()), Err(why.clone())),
        };
        if let Err(why) = &chat {
            tracing::warn!(error = %why, "chat unavailable this session");
            hub.send(UiEvent::ChatUnavailable {
                message: why.clone(),
            });
        }
        if let Err(why) = &appointments {
            tracing::warn!(error = %why, "appointments unavailable this session");
            hub.send(UiEvent::AppointmentsUnavailable {
                message: why.clone(),
            });
        }
        let (calls, mut events) =
            CallDriver::start_with_feeds(client, signaling, engine, CallConfig::default(), feeds);
        // A visit's call quality goes to its visit record when it ends
        // (REST only: it works without the cache too).
        let mut quality = match AppointmentsClient::new(auth.clone()) {
            Ok(rest) => Some(QualityReporter::new(rest)),
            Err(e) => {
                tracing::warn!(error = %e, "call quality will not be reported this session");
                None
            }
        };
        let forwarder = tokio::spawn(async move {
            let mut tracker = CallTracker::default();
            while let Some(event) = events.recv().await {
                if matches!(event, DriverEvent::Closed) {
                    break;
                }
                if let Some(quality) = quality.as_mut() {
                    // Posts in its own task; the window's events go on.
                    drop(quality.observe(&event));
                }
                for ui in tracker.from_driver(event) {
                    if let UiEvent::Call {
                        phase: CallPhase::Incoming,
                        ..
                    } = ui
                    {
                        on_call(&ui);
                    }
                    hub.send(ui);
                }
            }
        });
        Ok(Connection {
            auth,
            calls,
            media: control,
            account,
            chat,
            appointments,
            store: store.ok(),
            forwarder,
        })
    }

    /// Hangs up, disconnects and waits for the media to be released;
    /// stops the appointments, then the chat, then closes the account's
    /// cache and, with `erase_chat`, deletes it (chat history and cached
    /// appointments) from this computer.
    pub async fn stop(self, erase_chat: bool) -> Result<(), String> {
        self.calls.shutdown().await;
        self.media.wait_released().await;
        let _ = self.forwarder.await;
        if let Ok(appointments) = self.appointments {
            appointments.stop().await;
        }
        if let Ok(chat) = self.chat {
            chat.stop().await;
        }
        match self.store {
            Some(store) => store.close(erase_chat).await,
            None => Ok(()),
        }
    }
}
