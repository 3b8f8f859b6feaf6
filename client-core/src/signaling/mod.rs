//! The account REST client and the signaling connection.
//!
//! - [`rest`]: stateless REST calls (register, login, refresh, logout, me);
//! - [`attachments`]: chat files up and down, with the login's token;
//! - [`auth`]: the signed-in state, with the refresh token behind a
//!   [`TokenStore`]; [`keychain`] keeps it in the OS keychain;
//! - [`endpoint`]: URLs, and the refusal of clear text to remote hosts;
//! - [`backoff`] and [`session`]: pure policy and bookkeeping (reconnect
//!   delays; session id, `last_seq`, snapshot pages, resume decisions);
//! - [`client`]: the I/O: one background task per [`SignalingClient`].
//!
//! ```no_run
//! use clinicall_client_core::signaling::{
//!     AuthSession, ClientConfig, MemoryTokenStore, RestClient, SignalingClient, SignalingEvent,
//! };
//! use std::sync::Arc;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let rest = RestClient::new("http://127.0.0.1:8787", false)?;
//! let auth = Arc::new(AuthSession::new(rest, Arc::new(MemoryTokenStore::new())));
//! auth.login("pat@example.org", "password-123").await?;
//! let (client, mut events) = SignalingClient::start(ClientConfig::new("http://127.0.0.1:8787"), auth)?;
//! while let Some(event) = events.recv().await {
//!     if let SignalingEvent::Connected { resumed, .. } = event {
//!         println!("online (resumed: {resumed})");
//!         break;
//!     }
//! }
//! client.shutdown().await;
//! # Ok(()) }
//! ```

pub mod attachments;
pub mod auth;
pub mod backoff;
pub mod client;
pub mod endpoint;
mod event;
mod handshake;
pub mod keychain;
pub mod rest;
pub mod session;
mod task;

pub use attachments::{AttachmentClient, AttachmentError};
pub use auth::{AuthSession, MemoryTokenStore, TokenStore, TokenStoreError};
pub use client::{ClientConfig, SignalingClient};
pub use event::{DisconnectReason, SignalingEvent};
pub use keychain::{KeychainBackend, KeychainError, KeychainTokenStore};
pub use rest::{RestClient, RestError};

/// Why a signaling operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server URL does not parse or has an unsupported scheme.
    #[error("invalid server URL: {0}")]
    InvalidUrl(String),
    /// Clear-text `http`/`ws` to a host that is not this machine, without
    /// `allow_insecure`. Nothing was sent.
    #[error("refusing unencrypted connection to {host}; use https, or allow insecure connections")]
    InsecureTransport {
        /// The refused host.
        host: String,
    },
    /// Not connected right now (connecting, or waiting to reconnect).
    /// Messages are not queued; retry after `Connected`.
    #[error("not connected to the signaling server")]
    NotConnected,
    /// The client was shut down, or signed out.
    #[error("the signaling client has stopped")]
    Closed,
    /// A request was pending when the server started a new session, which
    /// will never answer it.
    #[error("the session was replaced before the server answered")]
    SessionLost,
    /// A request got no reply within the configured timeout.
    #[error("no reply from the server in time")]
    Timeout,
    /// The message breaks a protocol limit (the server would refuse it).
    #[error("invalid message: {0}")]
    Invalid(#[from] clinicall_protocol::ValidationError),
    /// `hello` is the client's own business.
    #[error("hello is sent by the signaling client itself")]
    HelloNotAllowed,
}
