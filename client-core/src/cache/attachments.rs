//! Downloaded attachments on disk, bounded in size.
//!
//! Files are named by their SHA-256 (what `AttachmentMeta` carries), so a
//! file sent in several messages is kept once, and bytes are checked
//! against the name before they are kept. Use is tracked in the database
//! (`attachment_files`); when the total passes the bound, the least
//! recently used files go first.

use super::CacheError;
use super::key::to_hex;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

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

/// Writes verified bytes as `dir/<sha256>` (through a temporary file, so
/// a crash never leaves a partial file under the real name), records the
/// use and evicts down to `budget`. Returns the file's path.
pub(crate) fn store(
    tx: &Transaction<'_>,
    dir: &Path,
    sha256: &str,
    bytes: &[u8],
    budget: u64,
) -> Result<PathBuf, CacheError> {
    let size = bytes.len() as u64;
    if size > budget {
        return Err(CacheError::AttachmentTooLarge { size, budget });
    }
    std::fs::create_dir_all(dir).map_err(CacheError::io(dir))?;
    let path = dir.join(sha256);
    let partial = dir.join(format!("{sha256}.partial"));
    std::fs::write(&partial, bytes).map_err(CacheError::io(&partial))?;
    std::fs::rename(&partial, &path).map_err(CacheError::io(&path))?;
    let used = next_use(tx)?;
    tx.prepare_cached(
        "INSERT INTO attachment_files (sha256, size, last_used) VALUES (?1, ?2, ?3)
         ON CONFLICT (sha256) DO UPDATE SET size = ?2, last_used = ?3",
    )?
    .execute(params![sha256, size as i64, used])?;
    evict(tx, dir, budget)?;
    Ok(path)
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

/// The cached file for `sha256`, marked as just used; `None` if it is not
/// cached (or was removed behind the cache's back).
pub(crate) fn open(
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
