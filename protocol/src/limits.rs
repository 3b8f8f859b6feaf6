//! Size limits on everything a client sends. They bound the server's memory
//! per message and keep relayed data to what WebRTC negotiation needs.

/// Most contacts in one `presence_snapshot` frame (about 100 bytes each).
pub const SNAPSHOT_PAGE: usize = 32;

/// Largest client frame the server parses, in bytes. Bigger frames get a
/// `message_too_large` error and the connection stays open.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

pub(crate) const MAX_REQ_ID: usize = 64;
pub(crate) const MAX_TOKEN: usize = 4096;
pub(crate) const MAX_APPOINTMENT_ID: usize = 64;
/// Real SDP for audio+video+data with many codecs is 5–10 KB.
pub(crate) const MAX_SDP: usize = 48 * 1024;
/// A candidate line is around 100 bytes; leave room for long hostnames.
pub(crate) const MAX_CANDIDATE: usize = 1024;
pub(crate) const MAX_SHORT_FIELD: usize = 256;

/// A field broke a limit.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("field `{field}` {problem}")]
pub struct ValidationError {
    /// The field's name.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

pub(crate) fn check_len(
    field: &'static str,
    value: &str,
    max: usize,
) -> Result<(), ValidationError> {
    if value.len() > max {
        return Err(ValidationError {
            field,
            problem: format!("is {} bytes, longer than the limit of {max}", value.len()),
        });
    }
    Ok(())
}

pub(crate) fn check_nonempty_len(
    field: &'static str,
    value: &str,
    max: usize,
) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(ValidationError {
            field,
            problem: "must not be empty".into(),
        });
    }
    check_len(field, value, max)
}
