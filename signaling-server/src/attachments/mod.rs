//! Chat attachment files: checked, content-addressed, outside the database.
//!
//! An upload streams into a temporary file in the attachments folder while
//! its SHA-256 is computed; its type is read from its first bytes
//! ([`sniff`]) and must be what the client declared. Then it is renamed to
//! `<dir>/<first two hex digits>/<sha256>`, so identical files are stored
//! once and a crash never leaves a half-written file under a real name.
//! Images get a JPEG thumbnail beside it (`<sha256>.thumb.jpg`, see
//! [`thumbnail`]). The database keeps one row per upload (name, uploader,
//! conversation) pointing at the hash.

pub mod sniff;
pub mod thumbnail;

use sha2::{Digest, Sha256};
use sniff::{Kind, SNIFF_BYTES};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// Why an upload was not stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The body grew past the size limit.
    #[error("the file is larger than the limit of {0} bytes")]
    TooLarge(u64),
    /// The bytes are not an accepted type, or not the declared one.
    #[error("the file's content is {found}, not {declared}")]
    WrongType {
        /// What the client said.
        declared: &'static str,
        /// What the bytes are.
        found: &'static str,
    },
    /// The body ended before any byte came.
    #[error("the file is empty")]
    Empty,
    /// The client's body stream failed (disconnect, bad chunking).
    #[error("reading the upload failed: {0}")]
    Body(String),
    /// Writing the file failed.
    #[error("storing the file failed: {0}")]
    Io(#[from] std::io::Error),
}

/// A stored upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Its type, from its bytes.
    pub kind: Kind,
    /// Whether a thumbnail sits beside it.
    pub has_thumbnail: bool,
}

/// The attachments folder. Cheap to clone.
#[derive(Clone, Debug)]
pub struct BlobStore {
    dir: PathBuf,
    max_bytes: u64,
}

impl BlobStore {
    /// Uses (creating if needed) `dir`, accepting files up to `max_bytes`.
    pub fn open(dir: PathBuf, max_bytes: u64) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir.join("tmp"))?;
        Ok(Self { dir, max_bytes })
    }

    /// The size limit.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Where the file with this hash is (or would be).
    pub fn path(&self, sha256: &str) -> PathBuf {
        let fan = sha256.get(..2).unwrap_or("xx");
        self.dir.join(fan).join(sha256)
    }

    /// Where its thumbnail is (or would be).
    pub fn thumbnail_path(&self, sha256: &str) -> PathBuf {
        self.path(sha256).with_extension("thumb.jpg")
    }

    /// Streams an upload declared as `declared` to disk: checked against
    /// the size limit chunk by chunk and against its declared type as soon
    /// as its first bytes are in; stored under its hash only if it passes.
    /// On any error nothing is left on disk.
    pub async fn store<S, E>(&self, declared: Kind, mut body: S) -> Result<Blob, UploadError>
    where
        S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        use futures_util::StreamExt;
        let temp = TempFile(self.dir.join("tmp").join(uuid::Uuid::new_v4().to_string()));
        let mut file = tokio::fs::File::create(&temp.0).await?;
        let mut hasher = Sha256::new();
        let mut head: Vec<u8> = Vec::with_capacity(SNIFF_BYTES);
        let mut kind = None;
        let mut size: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| UploadError::Body(e.to_string()))?;
            size += chunk.len() as u64;
            if size > self.max_bytes {
                return Err(UploadError::TooLarge(self.max_bytes));
            }
            if kind.is_none() {
                let wanted = SNIFF_BYTES - head.len();
                head.extend_from_slice(&chunk[..chunk.len().min(wanted)]);
                if head.len() == SNIFF_BYTES {
                    kind = Some(check_kind(declared, &head)?);
                }
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
        }
        if size == 0 {
            return Err(UploadError::Empty);
        }
        // Shorter than the sniffing window: decide on what there is.
        let kind = match kind {
            Some(kind) => kind,
            None => check_kind(declared, &head)?,
        };
        file.sync_all().await?;
        drop(file);
        let sha256 = hex(&hasher.finalize());
        let path = self.path(&sha256);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        if tokio::fs::try_exists(&path).await? {
            // Identical content is already stored: keep that copy.
            drop(temp);
        } else {
            tokio::fs::rename(&temp.0, &path).await?;
            std::mem::forget(temp);
        }
        let has_thumbnail = kind.is_image() && self.ensure_thumbnail(&sha256, kind).await?;
        Ok(Blob {
            sha256,
            size,
            kind,
            has_thumbnail,
        })
    }

    /// Makes the thumbnail of a stored image unless it exists. Returns
    /// whether there is one.
    async fn ensure_thumbnail(&self, sha256: &str, kind: Kind) -> Result<bool, UploadError> {
        let thumb_path = self.thumbnail_path(sha256);
        if tokio::fs::try_exists(&thumb_path).await? {
            return Ok(true);
        }
        let bytes = tokio::fs::read(self.path(sha256)).await?;
        let thumb = tokio::task::spawn_blocking(move || thumbnail::make(&bytes, kind))
            .await
            .map_err(std::io::Error::other)?;
        let Some(thumb) = thumb else {
            return Ok(false);
        };
        let temp = TempFile(self.dir.join("tmp").join(uuid::Uuid::new_v4().to_string()));
        tokio::fs::write(&temp.0, &thumb).await?;
        tokio::fs::rename(&temp.0, &thumb_path).await?;
        std::mem::forget(temp);
        Ok(true)
    }
}

fn check_kind(declared: Kind, head: &[u8]) -> Result<Kind, UploadError> {
    match sniff::sniff(head) {
        Some(found) if found == declared => Ok(found),
        Some(found) => Err(UploadError::WrongType {
            declared: declared.mime(),
            found: found.mime(),
        }),
        None => Err(UploadError::WrongType {
            declared: declared.mime(),
            found: "not an accepted type",
        }),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A temporary file, removed when dropped (forgotten once renamed).
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Every file under `dir` (stored, thumbnails, temporary), for checks
/// and tests.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut stack = vec![dir.to_path_buf()];
    let mut files = Vec::new();
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    fn chunks(parts: &[&[u8]]) -> impl futures_util::Stream<Item = Result<bytes::Bytes, String>> {
        let parts: Vec<Result<bytes::Bytes, String>> = parts
            .iter()
            .map(|p| Ok(bytes::Bytes::copy_from_slice(p)))
            .collect();
        stream::iter(parts)
    }

    const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n";

    #[tokio::test]
    async fn identical_files_are_stored_once_under_their_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path().to_path_buf(), 1024).unwrap();
        let a = store
            .store(Kind::Pdf, chunks(&[&PDF[..3], &PDF[3..]]))
            .await
            .unwrap();
        let b = store.store(Kind::Pdf, chunks(&[PDF])).await.unwrap();
        assert_eq!(a, b);
        assert_eq!(a.size, PDF.len() as u64);
        assert_eq!(a.sha256, hex(&Sha256::digest(PDF)));
        assert!(!a.has_thumbnail);
        assert_eq!(std::fs::read(store.path(&a.sha256)).unwrap(), PDF);
        let files = files_under(dir.path());
        assert_eq!(files.len(), 1, "{files:?}");
    }

    #[tokio::test]
    async fn refused_uploads_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path().to_path_buf(), 16).unwrap();
        let too_big = store
            .store(Kind::Pdf, chunks(&[&PDF[..10], &PDF[10..]]))
            .await;
        assert!(
            matches!(too_big, Err(UploadError::TooLarge(16))),
            "{too_big:?}"
        );
        let mislabelled = store.store(Kind::Png, chunks(&[&PDF[..16]])).await;
        assert!(
            matches!(
                mislabelled,
                Err(UploadError::WrongType {
                    found: "application/pdf",
                    ..
                })
            ),
            "{mislabelled:?}"
        );
        let exe = store.store(Kind::Png, chunks(&[b"MZ\x90\0"])).await;
        assert!(matches!(exe, Err(UploadError::WrongType { .. })), "{exe:?}");
        let broken = store
            .store(
                Kind::Pdf,
                stream::iter(vec![
                    Ok(bytes::Bytes::from_static(b"%PDF-")),
                    Err("connection reset".to_owned()),
                ]),
            )
            .await;
        assert!(matches!(broken, Err(UploadError::Body(_))), "{broken:?}");
        assert!(files_under(dir.path()).is_empty());
    }
}
