//! The Clinicall client core: signaling client, call state machine, WebRTC
//! session, media pipeline, local store and secrets, all without a window.
//!
//! The call-engine issue fills this crate; today it only re-exports the wire
//! protocol so the workspace layout is in place.
#![warn(missing_docs)]

pub use clinicall_protocol as protocol;
