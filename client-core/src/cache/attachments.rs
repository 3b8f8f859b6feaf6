//! Downloaded attachments on disk, encrypted and bounded in size.
//!
//! Files are named by their SHA-256 (what `AttachmentMeta` carries), so a
//! file sent in several messages is kept once, and bytes are checked
//! against the name before they are kept. Each file is sealed with
//! XChaCha20-Poly1305 under the cache's file key (kept inside the
//! encrypted database): a random nonce, then the ciphertext; the name is
//! the associated data, so a file swapped under another name fails to
//! open. Use is tracked in the database (`attachment_files`); when the
//! total passes the bound, the least recently used files go first.

use super::CacheError;
use super::key::to_hex;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

const NONCE_LEN: usize = 24;

/// The key of the attachment files.
#[derive(Clone)]
pub(crate) struct FileKey(XChaCha20Poly1305);

impl FileKey {
    /// The cache's file key, made on first use.
    pub(crate) fn load_or_create(conn: &mut Connection) -> Result<FileKey, CacheError> {
        let tx = conn.transaction()?;
        let stored: Option<Vec<u8>> = tx
            .query_row("SELECT key FROM file_key WHERE id = 1", [], |r| r.get(0))
            .optional()?;
        let key = match stored {
            Some(key) => key,
            None => {
                let mut key = vec![0u8; 32];
                rand::rng().fill_bytes(&mut key);
                tx.execute("INSERT INTO file_key (id, key) VALUES (1, ?1)", [&key])?;
                key
            }
        };
        tx.commit()?;
        let cipher = XChaCha20Poly1305::new_from_slice(&key).map_err(|_| CacheError::KeyCorrupt)?;
        Ok(FileKey(cipher))
    }

    /// Nonce, then ciphertext and tag, bound to `sha256`.
    pub(crate) fn seal(&self, sha256: &str, bytes: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: bytes,
            aad: sha256.as_bytes(),
        };
        let sealed = self
            .0
            .encrypt(&XNonce::from(nonce), payload)
            .expect("XChaCha20-Poly1305 encrypts any length that fits in memory");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// The plain bytes, or `None` if the file is not a file sealed under
    /// this key and name (tampered, truncated, from an older cache).
    pub(crate) fn open(&self, sha256: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        let payload = Payload {
            msg: body,
            aad: sha256.as_bytes(),
        };
        self.0.decrypt(&XNonce::from(nonce), payload).ok()
    }
}

/// Checks that `sha256` is 64 lowercase hex digits (it becomes a file name).
pub(crate) fn check_name(sha256: &str) -> Result<(), CacheError> {
    if sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        Ok(())
    } else {
        Err(CacheError::BadSha256(sha256.to_owned()))
    }
}

/// Hashes `bytes` and compares with `sha256`.
pub(crate) fn verify(sha256: &str, bytes: &[u8]) -> Result<(), CacheError> {
    check_name(sha256)?;
    let actual = to_hex(&Sha256::digest(bytes));
    if actual == sha256 {
        Ok(())
    } else {
        Err(CacheError::AttachmentHashMismatch {
            expected: sha256.to_owned(),
            actual,
        })
    }
}

fn next_use(tx: &Connection) -> Result<i64, CacheError> {
    Ok(tx
        .prepare_cached("SELECT coalesce(max(last_used), 0) + 1 FROM attachment_files")?
        .query_row([], |r| r.get(0))?)
}

/// Writes the sealed bytes of a verified file of `size` plain bytes as
/// `dir/<sha256>` (through a temporary file, so a crash never leaves a
/// partial file under the real name), records the use and evicts down to
/// `budget`.
pub(crate) fn store(
    tx: &Transaction<'_>,
    dir: &Path,
    sha256: &str,
    sealed: &[u8],
    size: u64,
    budget: u64,
) -> Result<(), CacheError> {
    if size > budget {
        return Err(CacheError::AttachmentTooLarge { size, budget });
    }
    std::fs::create_dir_all(dir).map_err(CacheError::io(dir))?;
    let path = dir.join(sha256);
    let partial = dir.join(format!("{sha256}.partial"));
    std::fs::write(&partial, sealed).map_err(CacheError::io(&partial))?;
    std::fs::rename(&partial, &path).map_err(CacheError::io(&path))?;
    let used = next_use(tx)?;
    tx.prepare_cached(
        "INSERT INTO attachment_files (sha256, size, last_used) VALUES (?1, ?2, ?3)
         ON CONFLICT (sha256) DO UPDATE SET size = ?2, last_used = ?3",
    )?
    .execute(params![sha256, size as i64, used])?;
    evict(tx, dir, budget)
}

/// Removes least recently used files until the total fits `budget`.
fn evict(tx: &Connection, dir: &Path, budget: u64) -> Result<(), CacheError> {
    let mut total: i64 = tx
        .prepare_cached("SELECT coalesce(sum(size), 0) FROM attachment_files")?
        .query_row([], |r| r.get(0))?;
    let budget = i64::try_from(budget).unwrap_or(i64::MAX);
    while total > budget {
        let Some((sha256, size)): Option<(String, i64)> = tx
            .prepare_cached("SELECT sha256, size FROM attachment_files ORDER BY last_used LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
        else {
            break;
        };
        let path = dir.join(&sha256);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            // Already gone (removed by hand): only the record is left.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CacheError::Io { path, source: e }),
        }
        tx.prepare_cached("DELETE FROM attachment_files WHERE sha256 = ?1")?
            .execute([&sha256])?;
        total -= size;
    }
    Ok(())
}

/// The cached (sealed) file for `sha256`, marked as just used; `None` if
/// it is not cached (or was removed behind the cache's back).
pub(crate) fn mark_used(
    tx: &Transaction<'_>,
    dir: &Path,
    sha256: &str,
) -> Result<Option<PathBuf>, CacheError> {
    check_name(sha256)?;
    let known: Option<i64> = tx
        .prepare_cached("SELECT size FROM attachment_files WHERE sha256 = ?1")?
        .query_row([sha256], |r| r.get(0))
        .optional()?;
    if known.is_none() {
        return Ok(None);
    }
    let path = dir.join(sha256);
    if !path.is_file() {
        tx.prepare_cached("DELETE FROM attachment_files WHERE sha256 = ?1")?
            .execute([sha256])?;
        return Ok(None);
    }
    let used = next_use(tx)?;
    tx.prepare_cached("UPDATE attachment_files SET last_used = ?2 WHERE sha256 = ?1")?
        .execute(params![sha256, used])?;
    Ok(Some(path))
}

/// Forgets a cached file that could not be opened, and removes it.
pub(crate) fn forget(tx: &Transaction<'_>, dir: &Path, sha256: &str) -> Result<(), CacheError> {
    check_name(sha256)?;
    let path = dir.join(sha256);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(CacheError::Io { path, source: e }),
    }
    tx.prepare_cached("DELETE FROM attachment_files WHERE sha256 = ?1")?
        .execute([sha256])?;
    Ok(())
}

/// Bytes of cached attachments.
pub(crate) fn total(conn: &Connection) -> Result<u64, CacheError> {
    let total: i64 = conn
        .prepare_cached("SELECT coalesce(sum(size), 0) FROM attachment_files")?
        .query_row([], |r| r.get(0))?;
    Ok(u64::try_from(total).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_lowercase_sha256_hex() {
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        verify(empty, b"").unwrap();
        assert!(matches!(
            verify(empty, b"x"),
            Err(CacheError::AttachmentHashMismatch { .. })
        ));
        assert!(matches!(
            check_name("../etc/passwd"),
            Err(CacheError::BadSha256(_))
        ));
        assert!(check_name(&empty.to_uppercase()).is_err());
    }
}
