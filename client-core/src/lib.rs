//! The Clinicall client core: everything the app does without a window.
//!
//! - [`signaling`]: the account REST client and the signaling connection
//!   (hello, resume, reconnect with jittered backoff, clean shutdown);
//! - [`call`]: the call as a pure state machine, driven by events and time;
//! - [`driver`]: the thin tokio task that runs the call machine over the
//!   signaling client and a media engine;
//! - [`media`]: the WebRTC media engine (peer connection, VP8/Opus
//!   pipelines, stats) behind the driver's `MediaEngine` trait;
//! - [`cache`]: the offline-first account cache (SQLCipher): chat with its
//!   outbox, sync cursors, search and attachment files; appointments,
//!   doctor profiles, notes and visit records;
//! - [`chat`]: the chat sync engine between that cache and the server
//!   (outbox, resync by cursor, pushes);
//! - [`appointments`]: the directory and appointments REST client and its
//!   sync engine (resync by cursor, pushes) into the same cache;
//! - [`feed`]: how the driver hands the sync engines their part of the
//!   signaling stream.
#![warn(missing_docs)]

pub mod appointments;
pub mod cache;
pub mod call;
pub mod chat;
pub mod driver;
pub mod feed;
pub mod media;
pub mod signaling;
mod timer;

pub use clinicall_protocol as protocol;
