//! Chat sync: keeps the encrypted [`ChatCache`](crate::cache::ChatCache) and
//! the server in step, so that every message is delivered exactly once and
//! the history reads offline.
//!
//! The engine is one tokio task ([`ChatSync::start`]). It owns no socket:
//! the [`CallDriver`](crate::driver::CallDriver) reads the signaling stream
//! and hands the chat part of it over through a [`ChatFeed`]
//! (`Connected`, `Disconnected`, and the `chat_message`, `chat_read`,
//! `chat_typing` pushes), and the engine sends through the same
//! [`SignalingClient`](crate::signaling::SignalingClient).
//!
//! What it does:
//!
//! - **On every connect:** `chat_list`, stored; read marks made offline are
//!   sent; every conversation whose cursor is behind the server's
//!   `last_seq` is fetched after its cursor until the server says there is
//!   no more; then the outbox drains.
//! - **Outbox:** a send goes to the cache first ([`ChatHandle::send`]
//!   works offline), then out, oldest first, paced below the server's rate
//!   limit, until each is acked. A resend after a lost ack is safe: the
//!   server knows the message id. A send refused for good (say the
//!   conversation is gone) leaves the outbox marked refused.
//! - **Pushes:** each `chat_message` is stored once; one whose seq leaves
//!   a hole (a push lost with a dropped session) makes the engine fetch
//!   the hole.
//!
//! The UI reads the cache ([`ChatHandle::cache`]) and re-reads when a
//! [`ChatEvent`] says something changed.

mod engine;
mod handle;
mod pacer;

pub use engine::{ChatSync, ChatSyncConfig};
/// The chat engine's input from the driver (the chat pushes and the
/// connection's news).
pub type ChatFeed = crate::feed::EngineFeed;
pub use handle::{ChatError, ChatEvent, ChatHandle};
pub use pacer::Pacer;
