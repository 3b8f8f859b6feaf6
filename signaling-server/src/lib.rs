//! Clinicall's signaling server: accounts, presence and call signaling for
//! the desktop app. Media never passes through it.
//!
//! [`start`] runs a server from a [`Config`] and returns a handle, which is
//! how both the `signaling-server` binary and the tests use it:
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let mut config = clinicall_signaling_server::Config::default();
//! config.server.listen = "127.0.0.1:0".parse()?;
//! let server = clinicall_signaling_server::start(config).await?;
//! println!("listening on {}", server.addr());
//! server.shutdown().await;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod appointments;
pub mod attachments;
pub mod auth;
pub mod cli;
pub mod config;
pub mod demo;
pub mod error;
pub mod http;
pub mod signaling;
pub mod state;
pub mod storage;
pub mod telemetry;
#[cfg(feature = "test-support")]
pub mod testing;
mod util;

/// Wall-clock Unix milliseconds (for the command-line tools).
pub fn util_now_ms() -> i64 {
    util::now_ms()
}

pub use config::Config;

use anyhow::Context;
use auth::{AuthService, PasswordHashing, TokenKeys};
use axum::serve::ListenerExt;
use clinicall_protocol::rest::NewUser;
use clinicall_protocol::{ConnectionLimits, MAX_MESSAGE_BYTES, Role};
use governor::{Quota, RateLimiter};
use signaling::Signaling;
use signaling::hub::HubConfig;
use state::AppState;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use storage::{SqliteStore, Store};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server.
pub struct RunningServer {
    addr: SocketAddr,
    state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// The bound address (useful when the config asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Shared state, for tests and subcommands.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Graceful shutdown: stop accepting, tell clients to reconnect, close
    /// their sockets, and wait (up to the configured grace) for them.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.task.await;
    }

    /// Waits until the server stops on its own (it does not, except on
    /// failure) or `signal` resolves, then shuts down gracefully.
    pub async fn run_until(self, signal: impl std::future::Future<Output = ()>) {
        signal.await;
        tracing::info!("shutdown requested");
        self.shutdown().await;
    }
}

/// Builds the application state: opens storage, creates the bootstrap
/// admin if configured.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    let store: Arc<dyn Store> = {
        let path = config.storage.database.clone();
        Arc::new(
            tokio::task::spawn_blocking(move || SqliteStore::open(&path))
                .await?
                .with_context(|| {
                    format!("opening database {}", config.storage.database.display())
                })?,
        )
    };
    let hashing =
        PasswordHashing::new(config.auth.argon2_memory_kib, config.auth.argon2_iterations)?;
    let secret = match &config.auth.jwt_secret {
        Some(secret) => secret.as_bytes().to_vec(),
        None => {
            tracing::warn!(
                "auth.jwt_secret is not set: using a random one; everyone is signed out on restart"
            );
            auth::random_secret()
        }
    };
    let keys = TokenKeys::new(&secret, config.auth.access_token_ttl);
    let auth =
        AuthService::new(store.clone(), hashing, keys, config.auth.refresh_token_ttl).await?;

    if let (Some(email), Some(password)) = (
        &config.auth.bootstrap_admin_email,
        &config.auth.bootstrap_admin_password,
    ) {
        let new = NewUser {
            email: email.clone(),
            password: password.clone(),
            display_name: "Administrator".into(),
            role: None,
        };
        match auth.create_account(new, Role::Admin).await {
            Ok(account) => tracing::info!(user = %account.id, "bootstrap admin created"),
            Err(e) if e.code == clinicall_protocol::ErrorCode::EmailTaken => {}
            Err(e) => anyhow::bail!("creating bootstrap admin: {}", e.message),
        }
    }

    let limits = &config.limits;
    let hub_config = HubConfig {
        ring_timeout: config.calls.ring_timeout,
        resume_grace: config.presence.resume_grace,
        limits: ConnectionLimits {
            max_message_bytes: MAX_MESSAGE_BYTES,
            messages_per_second: limits.messages_per_second,
            message_burst: limits.message_burst.max(limits.messages_per_second),
        },
        patients_see_all_doctors: config.presence.patients_see_all_doctors,
        heartbeat_interval: config.presence.heartbeat_interval,
        max_sessions_per_user: config.limits.max_sessions_per_user,
        ice: signaling::ice::IceServers::from_config(&config.ice),
    };
    let doctors = if config.presence.patients_see_all_doctors {
        store
            .list_accounts()
            .await?
            .into_iter()
            .filter(|a| a.role == Role::Doctor)
            .map(|a| clinicall_protocol::UserSummary {
                id: a.id,
                display_name: a.display_name,
                role: a.role,
            })
            .collect()
    } else {
        Vec::new()
    };
    let auth_limiter = NonZeroU32::new(limits.auth_requests_per_minute)
        .map(|n| Arc::new(RateLimiter::keyed(Quota::per_minute(n))));
    let attachments_dir = config.attachments_dir();
    let blobs =
        attachments::BlobStore::open(attachments_dir.clone(), config.chat.max_attachment_bytes)
            .with_context(|| format!("opening attachments folder {}", attachments_dir.display()))?;
    Ok(AppState {
        signaling: Signaling::start(hub_config, doctors, store.clone()),
        blobs,
        config: Arc::new(config),
        store,
        auth,
        metrics: telemetry::metrics_handle(),
        auth_limiter,
        ready: Arc::new(AtomicBool::new(false)),
    })
}

/// Starts serving on `config.server.listen`.
pub async fn start(config: Config) -> anyhow::Result<RunningServer> {
    let state = build_state(config).await?;
    start_with_state(state).await
}

/// Starts serving with an already-built state.
pub async fn start_with_state(state: AppState) -> anyhow::Result<RunningServer> {
    let listen = state.config.server.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    let app = http::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let shutdown_state = state.clone();
    let signaling_for_task = state.signaling.clone();
    let grace = state.config.server.shutdown_grace;
    let pruner = state.auth_limiter.clone().map(|limiter| {
        tokio::spawn(async move {
            // Forget addresses whose budget has refilled, so the map does
            // not grow with every address ever seen.
            let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                every.tick().await;
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        })
    });
    let task = tokio::spawn(async move {
        let (stopping_tx, stopping_rx) = oneshot::channel::<()>();
        let graceful = async move {
            let _ = stop_rx.await;
            shutdown_state.ready.store(false, Ordering::Relaxed);
            shutdown_state
                .signaling
                .run(|hub, now| hub.shutdown(now, || rand::random_range(0..5_000)));
            let _ = stopping_tx.send(());
        };
        // Signaling frames are small and latency-bound: without TCP_NODELAY
        // Nagle's algorithm holds one back until the previous is acked
        // (Linux delays acks ~40 ms), which showed up as 40 ms of call setup.
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        let serve = axum::serve(listener, app).with_graceful_shutdown(graceful);
        tokio::select! {
            result = serve => {
                if let Err(e) = result {
                    tracing::error!(error = %e, "server failed");
                }
            }
            // A hung HTTP request must not hold the shutdown forever.
            _ = async {
                if stopping_rx.await.is_ok() {
                    tokio::time::sleep(grace).await;
                } else {
                    std::future::pending::<()>().await;
                }
            } => tracing::warn!("HTTP requests did not finish within the shutdown grace"),
        }
        // HTTP has stopped. Upgraded WebSockets are not tracked by axum;
        // they were told to reconnect and are closing: wait for them, then
        // for the last call records.
        let signaling = &signaling_for_task;
        if tokio::time::timeout(grace, signaling.all_connections_closed())
            .await
            .is_err()
        {
            tracing::warn!("connections did not close within the shutdown grace; stopping anyway");
        }
        signaling.flush_records().await;
        if let Some(pruner) = pruner {
            pruner.abort();
        }
        tracing::info!("stopped");
    });
    state.ready.store(true, Ordering::Relaxed);
    tracing::info!(addr = %addr, "listening");
    Ok(RunningServer {
        addr,
        state,
        stop: Some(stop_tx),
        task,
    })
}
