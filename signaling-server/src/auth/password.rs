//! argon2id password hashing, run off the async threads and bounded so a
//! burst of logins cannot starve call signaling of CPU.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Hashes and verifies passwords.
#[derive(Clone)]
pub struct PasswordHashing {
    params: Params,
    /// At most one hash per core at a time.
    permits: Arc<Semaphore>,
}

/// Hashing failed (bad parameters or an internal error), not a wrong password.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

impl PasswordHashing {
    /// New hasher with the given argon2id costs.
    pub fn new(memory_kib: u32, iterations: u32) -> Result<Self, HashError> {
        let params =
            Params::new(memory_kib, iterations, 1, None).map_err(|e| HashError(e.to_string()))?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(cores)),
        })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// A PHC string (`$argon2id$v=19$m=...`) with a fresh random salt.
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| HashError(e.to_string()))?;
        let argon2 = self.argon2();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
            argon2
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| HashError(e.to_string()))
        })
        .await
        .map_err(|e| HashError(e.to_string()))?
    }

    /// Whether `password` matches `phc`. The stored string carries its own
    /// cost parameters, so hashes made under older settings still verify.
    pub async fn verify(&self, password: String, phc: String) -> Result<bool, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| HashError(e.to_string()))?;
        let argon2 = self.argon2();
        tokio::task::spawn_blocking(move || {
            let parsed = PasswordHash::new(&phc).map_err(|e| HashError(e.to_string()))?;
            Ok(argon2.verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
        .map_err(|e| HashError(e.to_string()))?
    }

    /// A hash of a random password, verified against when the email is
    /// unknown so a login takes as long whether or not the account exists.
    pub async fn dummy_hash(&self) -> Result<String, HashError> {
        self.hash("no-such-account-timing-guard".into()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_verifies_only_the_right_password() {
        let hashing = PasswordHashing::new(64, 1).unwrap();
        let phc = hashing.hash("correct horse".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(
            hashing
                .verify("correct horse".into(), phc.clone())
                .await
                .unwrap()
        );
        assert!(
            !hashing
                .verify("wrong horse".into(), phc.clone())
                .await
                .unwrap()
        );
        // Same password, different salt.
        assert_ne!(hashing.hash("correct horse".into()).await.unwrap(), phc);
    }
}
