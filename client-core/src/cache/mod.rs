//! The offline-first account cache: conversations, messages, the outbox,
//! sync cursors, full-text search and downloaded attachments, and
//! appointments, doctor profiles, read notes and visit records (with their
//! sync cursor), in one SQLCipher-encrypted SQLite database per account.
//!
//! - **One writer.** Every change runs on one thread that owns the only
//!   writing connection, in one transaction per call; readers use their
//!   own connections (WAL lets them read while it writes). Every method is
//!   `async` and runs SQLite off the tokio runtime's threads.
//! - **Encrypted at rest.** The database (and its WAL) is SQLCipher with
//!   a random 256-bit key from a [`KeySource`]; the app keeps the key in
//!   the OS keychain ([`KeychainKeySource`]). A cache whose key is missing
//!   or wrong is reported ([`CacheError::KeyMissing`],
//!   [`CacheError::WrongKey`]) and never replaced by a new one; only
//!   [`ChatCache::wipe`] / [`wipe_dir`] (logout) remove it.
//! - **Shaped for the sync engine.** Sends go to the outbox first
//!   ([`ChatCache::enqueue`]); the engine resends [`ChatCache::outbox`]
//!   until [`ChatCache::ack`]. Incoming messages ([`ChatCache::apply_messages`])
//!   are stored once per [`MessageId`] and advance the conversation's
//!   [`SyncCursor`] only over seqs held without a gap.
//!
//! ```no_run
//! use clinicall_client_core::cache::{CacheConfig, ChatCache, KeychainKeySource};
//! use clinicall_client_core::protocol::{ConversationId, UserId};
//! use std::sync::Arc;
//!
//! # async fn demo(me: UserId, conversation: ConversationId) -> Result<(), Box<dyn std::error::Error>> {
//! let keys = Arc::new(KeychainKeySource::new("https://clinic.example.org", "pat@example.org")?);
//! let cache = ChatCache::open(CacheConfig::new("/home/pat/.cache/clinicall/chat", me), keys).await?;
//! let pending = cache.enqueue(conversation, "See you at 10".into(), Vec::new()).await?;
//! // The sync engine sends `pending` as chat_send, then on chat_ack:
//! cache.ack(pending.id, 42, 1_764_547_200_000).await?;
//! # Ok(()) }
//! ```

mod appointments;
mod attachments;
mod error;
mod key;
mod model;
mod schema;
mod search;
mod store;

pub use error::CacheError;
pub use key::{CacheKey, KEY_LEN, KeySource, KeychainKeySource, MemoryKeySource};
pub use model::{
    ApplyOutcome, CachedMessage, ConversationView, MessagePage, MessageState, OutboxItem,
    PageCursor, SearchCursor, SearchHit, SearchOrder, SearchPage, SearchRequest, SnippetPart,
    SyncCursor,
};

use crate::protocol::chat::{AttachmentMeta, ChatMessage, ConversationSummary};
use crate::protocol::{ConversationId, MessageId, UserId};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

/// The database file's name inside the cache directory.
pub const DATABASE_FILE: &str = "chat.db";
/// The attachment directory's name inside the cache directory.
pub const ATTACHMENTS_DIR: &str = "attachments";
/// Default bound of the attachment files: 512 MiB.
pub const DEFAULT_ATTACHMENT_BUDGET: u64 = 512 * 1024 * 1024;
/// Idle reader connections kept open.
const IDLE_READERS: usize = 4;

/// Where and for whom a cache is opened.
#[derive(Clone, Debug)]
pub struct CacheConfig {
    /// The cache's own directory (one per account and server).
    pub dir: PathBuf,
    /// The signed-in user: their messages are never unread.
    pub me: UserId,
    /// Most bytes of downloaded attachments to keep.
    pub attachment_budget: u64,
}

impl CacheConfig {
    /// A cache in `dir` for `me`, with the default attachment bound.
    pub fn new(dir: impl Into<PathBuf>, me: UserId) -> Self {
        CacheConfig {
            dir: dir.into(),
            me,
            attachment_budget: DEFAULT_ATTACHMENT_BUDGET,
        }
    }
}

/// The database, `-wal` and `-shm` files of the cache in `dir`.
fn database_files(dir: &Path) -> [PathBuf; 3] {
    let db = dir.join(DATABASE_FILE);
    let side = |suffix: &str| {
        let mut name = db.clone().into_os_string();
        name.push(suffix);
        PathBuf::from(name)
    };
    [side(""), side("-wal"), side("-shm")]
}

fn has_data(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() > 0)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Opens a connection to the database with `key` and proves the key opens
/// it, before anything is written.
fn connect(path: &Path, key: &CacheKey, create: bool) -> Result<Connection, CacheError> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    // SQLCipher keeps process-wide state (crypto provider, log settings,
    // defaults) that it sets up and reads unguarded while a connection is
    // keyed; two connections keyed at the same moment on two threads
    // failed once in CI with "An error occurred with PRAGMA key or rekey".
    // Opening is rare, so keying one connection at a time costs nothing.
    static KEYING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _keying = KEYING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let conn = Connection::open_with_flags(path, flags)?;
    // Without SQLCipher `PRAGMA key` is silently ignored and everything
    // would be written in clear: refuse instead.
    let cipher: Option<String> = conn
        .query_row("PRAGMA cipher_version", [], |r| r.get(0))
        .ok();
    if cipher.is_none_or(|v| v.is_empty()) {
        return Err(CacheError::NoEncryption);
    }
    // SQLCipher logs a failed decryption to stderr itself; the caller
    // gets WrongKey instead.
    conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
    conn.execute_batch(&key.pragma())?;
    // The first read decrypts page 1: a wrong key fails here ("file is not
    // a database"), having written nothing.
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(_) => Ok(conn),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::NotADatabase =>
        {
            Err(CacheError::WrongKey {
                database: path.to_owned(),
            })
        }
        Err(e) => Err(e.into()),
    }
}

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Reader connections, opened on demand, kept while idle.
struct Readers {
    path: PathBuf,
    key: CacheKey,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    fn run<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, CacheError>,
    ) -> Result<T, CacheError> {
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => {
                let conn = connect(&self.path, &self.key, false)?;
                // Readers must never write: only the writer thread does.
                // A larger page cache than SQLite's 2 MB keeps search and
                // paging from decrypting the same pages again.
                conn.execute_batch("PRAGMA query_only = ON; PRAGMA cache_size = -8192;")?;
                conn
            }
        };
        let result = f(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

/// The account's cache under a name that fits what it holds since it
/// also keeps appointments. New code may use either; the type was not
/// renamed so that the chat code and the app keep compiling unchanged.
pub type AccountCache = ChatCache;

/// An open chat cache. Share it behind an `Arc`; [`close`](Self::close)
/// or [`wipe`](Self::wipe) it when the account signs out.
pub struct ChatCache {
    writer: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    readers: Arc<Readers>,
    dir: PathBuf,
    me: UserId,
    attachment_budget: u64,
    file_key: attachments::FileKey,
}

impl std::fmt::Debug for ChatCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatCache")
            .field("dir", &self.dir)
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

impl ChatCache {
    /// Opens the cache in `config.dir`, creating it (and its key) when
    /// there is neither, and brings its schema up to date.
    ///
    /// # Errors
    /// [`CacheError::KeyMissing`] when a database exists but `keys` has no
    /// key; [`CacheError::WrongKey`] when the key does not open it (in
    /// both cases nothing is written); [`CacheError::NoEncryption`] on a
    /// build without SQLCipher; key source, file and SQLite errors.
    pub async fn open(config: CacheConfig, keys: Arc<dyn KeySource>) -> Result<Self, CacheError> {
        tokio::task::spawn_blocking(move || Self::open_blocking(config, keys.as_ref()))
            .await
            .map_err(|_| CacheError::Closed)?
    }

    fn open_blocking(config: CacheConfig, keys: &dyn KeySource) -> Result<Self, CacheError> {
        let [db, wal, _] = database_files(&config.dir);
        let exists = has_data(&db) || has_data(&wal);
        let key = match (keys.load()?, exists) {
            (Some(key), _) => key,
            (None, true) => return Err(CacheError::KeyMissing { database: db }),
            (None, false) => {
                // The key is stored before the database exists: a failure
                // here leaves no database without a key.
                let key = CacheKey::generate();
                keys.store(&key)?;
                key
            }
        };
        create_private_dir(&config.dir)?;
        let mut conn = connect(&db, &key, true)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;",
        )?;
        schema::migrations().to_latest(&mut conn)?;
        let file_key = attachments::FileKey::load_or_create(&mut conn)?;

        let (sender, jobs) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("chat-cache-writer".into())
            .spawn(move || {
                for job in jobs {
                    job(&mut conn);
                }
            })
            .map_err(CacheError::io(&config.dir))?;
        Ok(ChatCache {
            writer: Some(sender),
            thread: Some(thread),
            readers: Arc::new(Readers {
                path: db,
                key,
                idle: Mutex::new(Vec::new()),
            }),
            dir: config.dir,
            me: config.me,
            attachment_budget: config.attachment_budget,
            file_key,
        })
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The signed-in user the cache belongs to.
    pub fn me(&self) -> UserId {
        self.me
    }

    /// Runs `f` on the writer thread with its connection.
    async fn on_writer<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, CacheError> + Send + 'static,
    ) -> Result<T, CacheError> {
        let (reply, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = reply.send(f(conn));
        });
        self.writer
            .as_ref()
            .ok_or(CacheError::Closed)?
            .send(job)
            .map_err(|_| CacheError::Closed)?;
        result.await.map_err(|_| CacheError::Closed)?
    }

    /// Runs `f` in one transaction on the writer thread.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, CacheError> + Send + 'static,
    ) -> Result<T, CacheError> {
        self.on_writer(move |conn| {
            let tx = conn.transaction()?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })
        .await
    }

    /// Runs `f` on a reader connection, off the runtime's threads.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, CacheError> + Send + 'static,
    ) -> Result<T, CacheError> {
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || readers.run(f))
            .await
            .map_err(|_| CacheError::Closed)?
    }

    /// Stores conversation summaries (`chat_conversations`,
    /// `chat_conversation`). Seqs never move back.
    pub async fn upsert_conversations(
        &self,
        summaries: Vec<ConversationSummary>,
    ) -> Result<(), CacheError> {
        self.write(move |tx| store::upsert_conversations(tx, &summaries))
            .await
    }

    /// Stores messages from the server (`chat_message`, a `chat_messages`
    /// page, in any order), each once; the user's own pending messages
    /// among them become sent. Returns what changed and the cursors.
    pub async fn apply_messages(
        &self,
        messages: Vec<ChatMessage>,
    ) -> Result<ApplyOutcome, CacheError> {
        self.write(move |tx| store::apply_messages(tx, &messages, now_ms()))
            .await
    }

    /// The user sends a message: it is stored as pending and queued in
    /// the outbox, in one transaction, under a fresh [`MessageId`].
    pub async fn enqueue(
        &self,
        conversation: ConversationId,
        body: String,
        attachments: Vec<AttachmentMeta>,
    ) -> Result<OutboxItem, CacheError> {
        let me = self.me;
        self.write(move |tx| store::enqueue(tx, &me, &conversation, &body, &attachments, now_ms()))
            .await
    }

    /// Sends not yet acknowledged, oldest first (also after a restart).
    pub async fn outbox(&self) -> Result<Vec<OutboxItem>, CacheError> {
        self.read(store::outbox).await
    }

    /// How many sends wait in the outbox (for a status line, without
    /// reading them).
    pub async fn outbox_len(&self) -> Result<usize, CacheError> {
        self.read(store::outbox_len).await
    }

    /// `chat_ack`: the message `id` is stored as `seq`. It leaves the
    /// outbox. Acking twice is harmless.
    ///
    /// # Errors
    /// [`CacheError::UnknownMessage`] for an id the cache never had;
    /// [`CacheError::SeqConflict`] when another message holds `seq`.
    pub async fn ack(
        &self,
        id: MessageId,
        seq: u64,
        sent_at_ms: i64,
    ) -> Result<SyncCursor, CacheError> {
        self.write(move |tx| store::ack(tx, &id, seq, sent_at_ms))
            .await
    }

    /// The server refused the pending message `id` for good (see
    /// [`MessageState::Refused`]): it leaves the outbox. Returns its
    /// conversation.
    ///
    /// # Errors
    /// [`CacheError::UnknownMessage`] unless `id` is a pending message.
    pub async fn refuse(
        &self,
        id: MessageId,
        reason: String,
    ) -> Result<ConversationId, CacheError> {
        self.write(move |tx| store::refuse(tx, &id, &reason)).await
    }

    /// The user has read `conversation` up to `up_to` (never lowers it).
    pub async fn mark_read(
        &self,
        conversation: ConversationId,
        up_to: u64,
    ) -> Result<(), CacheError> {
        let me = self.me;
        self.write(move |tx| store::mark_read(tx, &me, &conversation, up_to))
            .await
    }

    /// A `chat_read` from the server: the user (on another device) or the
    /// other party read up to `up_to`.
    pub async fn apply_read(
        &self,
        conversation: ConversationId,
        reader: UserId,
        up_to: u64,
    ) -> Result<(), CacheError> {
        if reader == self.me {
            return self.mark_read(conversation, up_to).await;
        }
        self.write(move |tx| store::mark_peer_read(tx, &conversation, up_to))
            .await
    }

    /// The conversation's sync cursor.
    pub async fn sync_cursor(
        &self,
        conversation: ConversationId,
    ) -> Result<SyncCursor, CacheError> {
        self.read(move |conn| store::sync_cursor(conn, &conversation))
            .await
    }

    /// Every conversation's sync cursor (after a reconnect).
    pub async fn sync_cursors(&self) -> Result<Vec<SyncCursor>, CacheError> {
        self.read(store::sync_cursors).await
    }

    /// The conversation list with unread counts and last messages, most
    /// recent activity first.
    pub async fn conversations(&self) -> Result<Vec<ConversationView>, CacheError> {
        let me = self.me;
        self.read(move |conn| store::conversations(conn, &me)).await
    }

    /// A page of a thread, newest first; `before` is the previous page's
    /// [`MessagePage::older`] (`None` for the newest page).
    pub async fn messages_page(
        &self,
        conversation: ConversationId,
        before: Option<PageCursor>,
        limit: u32,
    ) -> Result<MessagePage, CacheError> {
        self.read(move |conn| store::messages_page(conn, &conversation, before, limit))
            .await
    }

    /// One message by id.
    pub async fn message(&self, id: MessageId) -> Result<Option<CachedMessage>, CacheError> {
        self.read(move |conn| store::message(conn, &id)).await
    }

    /// A page of full-text search hits.
    pub async fn search(&self, request: SearchRequest) -> Result<SearchPage, CacheError> {
        self.read(move |conn| search::search(conn, &request)).await
    }

    /// Keeps downloaded attachment bytes, encrypted, as a file named by
    /// `sha256`, evicting least recently used files down to the bound.
    ///
    /// # Errors
    /// [`CacheError::AttachmentHashMismatch`] when the bytes do not hash
    /// to `sha256` (nothing is written);
    /// [`CacheError::AttachmentTooLarge`] when they alone exceed the bound.
    pub async fn store_attachment(&self, sha256: String, bytes: Vec<u8>) -> Result<(), CacheError> {
        // Hashing and encrypting megabytes is CPU work: not on the writer
        // thread, which others wait for, nor on the runtime.
        let key = self.file_key.clone();
        let (sha256, sealed, size) = tokio::task::spawn_blocking(move || {
            attachments::verify(&sha256, &bytes)?;
            let sealed = key.seal(&sha256, &bytes);
            Ok::<_, CacheError>((sha256, sealed, bytes.len() as u64))
        })
        .await
        .map_err(|_| CacheError::Closed)??;
        let dir = self.dir.join(ATTACHMENTS_DIR);
        let budget = self.attachment_budget;
        self.write(move |tx| attachments::store(tx, &dir, &sha256, &sealed, size, budget))
            .await
    }

    /// The bytes of the cached attachment `sha256`, marked as just used,
    /// or `None` if it is not cached. A file that does not decrypt
    /// (tampered, truncated) is removed and reported as not cached, so it
    /// is downloaded again.
    pub async fn attachment(&self, sha256: String) -> Result<Option<Vec<u8>>, CacheError> {
        let dir = self.dir.join(ATTACHMENTS_DIR);
        let name = sha256.clone();
        let Some(path) = self
            .write(move |tx| attachments::mark_used(tx, &dir, &name))
            .await?
        else {
            return Ok(None);
        };
        let key = self.file_key.clone();
        let name = sha256.clone();
        let plain = tokio::task::spawn_blocking(move || {
            let sealed = std::fs::read(&path).map_err(CacheError::io(&path))?;
            Ok::<_, CacheError>(key.open(&name, &sealed))
        })
        .await
        .map_err(|_| CacheError::Closed)??;
        if plain.is_none() {
            tracing::warn!(%sha256, "a cached attachment did not decrypt; removing it");
            let dir = self.dir.join(ATTACHMENTS_DIR);
            self.write(move |tx| attachments::forget(tx, &dir, &sha256))
                .await?;
        }
        Ok(plain)
    }

    /// Bytes of attachment files kept.
    pub async fn attachment_bytes(&self) -> Result<u64, CacheError> {
        self.read(attachments::total).await
    }

    /// Copies the WAL into the database file and empties it (SQLite also
    /// does this on its own every 1000 pages).
    pub async fn checkpoint(&self) -> Result<(), CacheError> {
        self.on_writer(
            |conn| Ok(conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?),
        )
        .await
    }

    /// Finishes queued writes and closes every connection.
    pub async fn close(mut self) -> Result<(), CacheError> {
        drop(self.writer.take());
        let thread = self.thread.take();
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || {
            if let Some(thread) = thread {
                let _ = thread.join();
            }
            readers
                .idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
        })
        .await
        .map_err(|_| CacheError::Closed)
    }

    /// Logout: closes the cache and deletes it ([`wipe_dir`]).
    pub async fn wipe(self, keys: Arc<dyn KeySource>) -> Result<(), CacheError> {
        let dir = self.dir.clone();
        self.close().await?;
        tokio::task::spawn_blocking(move || wipe_dir(&dir, keys.as_ref()))
            .await
            .map_err(|_| CacheError::Closed)?
    }
}

/// Deletes the cache in `dir` (database, `-wal`, `-shm`, attachment
/// files), then its key. Works on a cache that cannot be opened (missing
/// or wrong key); the cache must not be open. Deleting what is not there
/// is not an error.
pub fn wipe_dir(dir: &Path, keys: &dyn KeySource) -> Result<(), CacheError> {
    for path in database_files(dir) {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CacheError::Io { path, source: e }),
        }
    }
    let attachments = dir.join(ATTACHMENTS_DIR);
    match std::fs::remove_dir_all(&attachments) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(CacheError::Io {
                path: attachments,
                source: e,
            });
        }
    }
    // Last: while any file is left, the key is what can still read it.
    keys.delete()
}

/// The cache directory, readable by the user only (the database is
/// encrypted; attachment files are not).
fn create_private_dir(dir: &Path) -> Result<(), CacheError> {
    std::fs::create_dir_all(dir).map_err(CacheError::io(dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(CacheError::io(dir))?;
    }
    Ok(())
}
