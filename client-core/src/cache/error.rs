//! Why a cache operation failed.

use crate::protocol::{ConversationId, MessageId};
use crate::signaling::KeychainError;
use std::path::PathBuf;

/// Why a cache operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// A database exists but the key source has no key for it (the
    /// keychain entry was removed, or this is another user's keychain).
    /// The database is left untouched; only logout (wipe) removes it.
    #[error(
        "the chat cache at {} exists but its key is not in the keychain; the cache was left untouched",
        database.display()
    )]
    KeyMissing {
        /// The database file.
        database: PathBuf,
    },
    /// The key does not open the database (another account's key, a
    /// replaced keychain entry, or a file that is not a cache). The
    /// database is left untouched.
    #[error(
        "the key does not open the chat cache at {} (or the file is not a cache); the cache was left untouched",
        database.display()
    )]
    WrongKey {
        /// The database file.
        database: PathBuf,
    },
    /// The keychain entry holds something that is not a key.
    #[error("the chat cache key in the keychain is malformed")]
    KeyCorrupt,
    /// The keychain could not be used.
    #[error("chat cache key: {0}")]
    Keychain(#[from] KeychainError),
    /// This build's SQLite has no SQLCipher: the cache would be written in
    /// clear, so it is not opened.
    #[error("this build's SQLite cannot encrypt (no SQLCipher); the chat cache is disabled")]
    NoEncryption,
    /// SQLite failed (disk full, I/O error, corrupt file).
    #[error("chat cache database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The schema could not be brought up to date.
    #[error("chat cache schema migration: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// A file or directory of the cache could not be read or written.
    #[error("chat cache file {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Downloaded attachment bytes do not hash to the SHA-256 they were
    /// stored under; nothing was kept.
    #[error("attachment bytes hash to {actual}, not {expected}; not cached")]
    AttachmentHashMismatch {
        /// The hash the server announced.
        expected: String,
        /// The hash of the bytes.
        actual: String,
    },
    /// An attachment alone is larger than the attachment cache's bound.
    #[error("attachment of {size} bytes is larger than the attachment cache ({budget} bytes)")]
    AttachmentTooLarge {
        /// Its size.
        size: u64,
        /// The cache's bound.
        budget: u64,
    },
    /// Not a lowercase hex SHA-256.
    #[error("{0:?} is not a SHA-256 in lowercase hex")]
    BadSha256(String),
    /// A message the server would refuse (too long, too many
    /// attachments, empty): not queued.
    #[error("message not sent: {0}")]
    InvalidMessage(#[from] crate::protocol::ValidationError),
    /// An ack names a message the cache never had.
    #[error("no message {0} in the chat cache")]
    UnknownMessage(MessageId),
    /// The server gave a `seq` that another message already holds in the
    /// cache: the cache keeps the first and reports this.
    #[error("seq {seq} of conversation {conversation} already belongs to another message")]
    SeqConflict {
        /// The conversation.
        conversation: ConversationId,
        /// The contested seq.
        seq: u64,
    },
    /// A number from the server does not fit SQLite's integers.
    #[error("{0} is out of range for the chat cache")]
    OutOfRange(u64),
    /// A cached appointment record (stored as the server's JSON) does not
    /// serialize or parse; a newer app version may read it, or a sync
    /// replaces it.
    #[error("cached appointment record: {0}")]
    Record(#[source] serde_json::Error),
    /// The cache was closed (its writer thread is gone).
    #[error("the chat cache is closed")]
    Closed,
}

impl CacheError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> CacheError {
        let path = path.into();
        move |source| CacheError::Io { path, source }
    }
}
