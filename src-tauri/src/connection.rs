//! One signed-in connection: the login, the call driver over the
//! signaling client and the media engine, the chat over the same
//! connection, and the task that forwards the core's events to the window.

use crate::chat::ChatSession;
use crate::shell::Shell;
use crate::ui_event::{CallPhase, CallTracker, UiEvent};
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
    forwarder: JoinHandle<()>,
}

/// Called with each call view, to notify the OS when a call rings.
pub type OnCall = Arc<dyn Fn(&UiEvent) + Send + Sync>;

impl Connection {
    /// Connects `auth` (already signed in) to `server`, opens the chat
    /// cache under the shell's data folder and starts forwarding events to
    /// the shell's hub.
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
        let chat = ChatSession::start(
            server,
            client.clone(),
            auth.clone(),
            &account,
            &shell.data_dir,
            hub.clone(),
            shell.on_message.clone(),
        )
        .await;
        let (chat, (calls, mut events)) = match chat {
            Ok((session, feed)) => (
                Ok(session),
                CallDriver::start_with_chat(client, signaling, engine, CallConfig::default(), feed),
            ),
            Err(why) => {
                tracing::warn!(error = %why, "chat unavailable this session");
                hub.send(UiEvent::ChatUnavailable {
                    message: why.clone(),
                });
                (
                    Err(why),
                    CallDriver::start(client, signaling, engine, CallConfig::default()),
                )
            }
        };
        let forwarder = tokio::spawn(async move {
            let mut tracker = CallTracker::default();
            while let Some(event) = events.recv().await {
                if matches!(event, DriverEvent::Closed) {
                    break;
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
            forwarder,
        })
    }

    /// Hangs up, disconnects and waits for the media to be released;
    /// stops the chat and, with `erase_chat`, deletes its history from
    /// this computer.
    pub async fn stop(self, erase_chat: bool) -> Result<(), String> {
        self.calls.shutdown().await;
        self.media.wait_released().await;
        let _ = self.forwarder.await;
        match self.chat {
            Ok(chat) => chat.stop(erase_chat).await,
            Err(_) => Ok(()),
        }
    }
}
