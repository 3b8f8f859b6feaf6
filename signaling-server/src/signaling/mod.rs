//! Call signaling and presence over WebSocket.
//!
//! [`hub`] is the pure state machine; [`connection`] runs one socket;
//! this module is the thin runtime between them: it owns the hub behind a
//! mutex, starts the timers the hub asks for and writes call records in
//! order.

pub mod chat;
pub mod connection;
pub mod hub;
pub mod ice;
pub mod outbox;
pub mod rooms;

use crate::storage::Store;
use crate::util::now_ms;
use hub::{Effect, Hub, HubConfig, Now};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::{Notify, mpsc, oneshot};

/// The signaling runtime. Cheap to clone.
#[derive(Clone)]
pub struct Signaling {
    inner: Arc<Inner>,
}

struct Inner {
    hub: Mutex<Hub>,
    /// Call records, written by one task in the order the hub decided them.
    records: mpsc::UnboundedSender<RecordOp>,
    next_conn: AtomicU64,
    /// Open WebSocket connections, so shutdown can wait for them.
    open_connections: AtomicUsize,
    connection_closed: Notify,
    /// Chat sends of one conversation are stored and delivered one at a
    /// time (see [`Signaling::chat_order`]). Striped by conversation: a
    /// fixed number of locks, so memory does not grow with conversations.
    chat_order: Box<[tokio::sync::Mutex<()>]>,
}

/// Locks for [`Inner::chat_order`]: enough that unrelated conversations
/// rarely wait on each other.
const CHAT_ORDER_STRIPES: usize = 64;

enum RecordOp {
    Write(Effect),
    /// Answered once everything queued before it is written.
    Flush(oneshot::Sender<()>),
}

/// Counts a connection as open until dropped.
pub struct ConnectionGuard(Signaling);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.inner.open_connections.fetch_sub(1, Ordering::AcqRel);
        self.0.inner.connection_closed.notify_waiters();
    }
}

impl Signaling {
    /// Starts the runtime and its record writer.
    pub fn start(
        config: HubConfig,
        doctors: Vec<clinicall_protocol::UserSummary>,
        store: Arc<dyn Store>,
    ) -> Self {
        let (records, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_records(store, rx));
        Self {
            inner: Arc::new(Inner {
                hub: Mutex::new(Hub::new(config, doctors)),
                records,
                next_conn: AtomicU64::new(1),
                open_connections: AtomicUsize::new(0),
                connection_closed: Notify::new(),
                chat_order: (0..CHAT_ORDER_STRIPES)
                    .map(|_| tokio::sync::Mutex::new(()))
                    .collect(),
            }),
        }
    }

    /// Marks a connection open for as long as the guard lives.
    pub fn connection_opened(&self) -> ConnectionGuard {
        self.inner.open_connections.fetch_add(1, Ordering::AcqRel);
        ConnectionGuard(self.clone())
    }

    /// Resolves once no connection is open.
    pub async fn all_connections_closed(&self) {
        loop {
            let closed = self.inner.connection_closed.notified();
            tokio::pin!(closed);
            closed.as_mut().enable();
            if self.inner.open_connections.load(Ordering::Acquire) == 0 {
                return;
            }
            closed.await;
        }
    }

    /// Resolves once every call record decided so far is stored.
    pub async fn flush_records(&self) {
        let (done, wait) = oneshot::channel();
        if self.inner.records.send(RecordOp::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }

    /// Held while a chat message is stored and then delivered, so that
    /// deliveries leave in the order of the seqs the database gave: a client
    /// never sees seq 6 before 5 (and so never resyncs past a message it
    /// has not seen yet).
    pub async fn chat_order(
        &self,
        conversation: clinicall_protocol::ConversationId,
    ) -> tokio::sync::MutexGuard<'_, ()> {
        let stripe = (conversation.0.as_u128() % CHAT_ORDER_STRIPES as u128) as usize;
        self.inner.chat_order[stripe].lock().await
    }

    /// A fresh connection id.
    pub fn next_conn_id(&self) -> u64 {
        self.inner.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// The current time for the hub.
    pub fn now() -> Now {
        Now {
            mono: Instant::now(),
            wall_ms: now_ms(),
        }
    }

    /// Runs `f` on the hub and carries out the effects it returns, all under
    /// the lock so that records and messages keep the hub's order. Nothing
    /// here blocks: sends are `try_send`, timers are spawned.
    pub fn with_hub<T>(&self, f: impl FnOnce(&mut Hub, Now) -> (T, Vec<Effect>)) -> T {
        let mut hub = self.lock();
        let (value, effects) = f(&mut hub, Self::now());
        // Applied while `hub` (the guard) is still held.
        self.apply(effects);
        drop(hub);
        value
    }

    /// Like [`Signaling::with_hub`] for calls that return only effects.
    pub fn run(&self, f: impl FnOnce(&mut Hub, Now) -> Vec<Effect>) {
        self.with_hub(|hub, now| ((), f(hub, now)));
    }

    fn lock(&self) -> MutexGuard<'_, Hub> {
        // The hub has no invariant a panic could half-break that matters
        // more than staying available; keep serving.
        self.inner.hub.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn apply(&self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::RingTimer { call, after } => {
                    let this = self.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        this.run(|hub, now| hub.ring_timeout(now, call));
                    });
                }
                Effect::GraceTimer {
                    session,
                    generation,
                    after,
                } => {
                    let this = self.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        this.run(|hub, now| hub.grace_expired(now, session, generation));
                    });
                }
                record @ (Effect::CallStarted(_)
                | Effect::CallAnswered(..)
                | Effect::CallEnded(_)) => {
                    let _ = self.inner.records.send(RecordOp::Write(record));
                }
            }
        }
    }
}

async fn write_records(store: Arc<dyn Store>, mut rx: mpsc::UnboundedReceiver<RecordOp>) {
    while let Some(op) = rx.recv().await {
        let result = match op {
            RecordOp::Write(Effect::CallStarted(row)) => store.insert_call(row).await,
            RecordOp::Write(Effect::CallAnswered(id, at)) => store.call_answered(id, at).await,
            RecordOp::Write(Effect::CallEnded(end)) => store.call_ended(end).await,
            RecordOp::Write(Effect::RingTimer { .. } | Effect::GraceTimer { .. }) => Ok(()),
            RecordOp::Flush(done) => {
                let _ = done.send(());
                Ok(())
            }
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "failed to store call record");
        }
    }
}
