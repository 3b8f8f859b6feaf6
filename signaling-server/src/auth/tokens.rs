//! Access tokens (HS256 JWTs, short-lived, stateless to verify) and refresh
//! tokens (random, single-use, stored only as SHA-256 hashes).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clinicall_protocol::{Role, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;
use uuid::Uuid;

/// What an access token says.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    /// The user.
    pub sub: UserId,
    /// The login (auth session) it was issued under; revoking that login
    /// invalidates the token before it expires.
    pub sid: Uuid,
    /// The user's role when issued.
    pub role: Role,
    /// Expiry, Unix seconds.
    pub exp: u64,
    /// Issued at, Unix seconds.
    pub iat: u64,
}

/// Why an access token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Past `exp`.
    #[error("access token expired")]
    Expired,
    /// Malformed, wrong signature, or wrong algorithm.
    #[error("access token invalid")]
    Invalid,
}

/// Signs and verifies access tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl TokenKeys {
    /// Keys from a shared secret.
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is exact: a short-lived token gets no extra minute.
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    /// The access token lifetime.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues a token for `user` under login `sid`, valid from `now_secs`.
    pub fn issue(&self, user: UserId, sid: Uuid, role: Role, now_secs: u64) -> String {
        let claims = Claims {
            sub: user,
            sid,
            role,
            iat: now_secs,
            exp: now_secs + self.ttl.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            // Encoding a plain struct with an HMAC key cannot fail.
            .unwrap_or_default()
    }

    /// Verifies signature and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

/// A new refresh token: what the client gets, and the hash we store.
pub fn new_refresh_token() -> (String, [u8; 32]) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

/// The stored form of a refresh token.
pub fn hash_refresh_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A random secret for servers started without one.
pub fn random_secret() -> Vec<u8> {
    let mut bytes = vec![0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn issued_tokens_verify_and_carry_claims() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(60));
        let user = UserId::random();
        let sid = Uuid::new_v4();
        let token = keys.issue(user, sid, Role::Doctor, now());
        let claims = keys.verify(&token).unwrap();
        assert_eq!(
            (claims.sub, claims.sid, claims.role),
            (user, sid, Role::Doctor)
        );
    }

    #[test]
    fn expired_forged_and_garbage_tokens_are_refused() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(60));
        let old = keys.issue(
            UserId::random(),
            Uuid::new_v4(),
            Role::Patient,
            now() - 3600,
        );
        assert_eq!(keys.verify(&old), Err(TokenError::Expired));
        let other = TokenKeys::new(b"another-secret-another-secret-xx", Duration::from_secs(60));
        let forged = other.issue(UserId::random(), Uuid::new_v4(), Role::Admin, now());
        assert_eq!(keys.verify(&forged), Err(TokenError::Invalid));
        assert_eq!(keys.verify("not.a.jwt"), Err(TokenError::Invalid));
    }

    #[test]
    fn refresh_tokens_are_unique_and_hash_consistently() {
        let (a, ha) = new_refresh_token();
        let (b, hb) = new_refresh_token();
        assert_ne!(a, b);
        assert_ne!(ha, hb);
        assert_eq!(hash_refresh_token(&a), ha);
    }
}
