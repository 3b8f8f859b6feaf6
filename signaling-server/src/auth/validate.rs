//! Field validation for account input, with errors naming the field.

use crate::error::ApiError;

const MAX_EMAIL: usize = 254;
const MIN_PASSWORD: usize = 8;
const MAX_PASSWORD: usize = 256;
const MAX_DISPLAY_NAME: usize = 100;

/// A plausible email, trimmed and lower-cased. Deliverability is not our
/// business; a shape check stops typos and junk.
pub fn email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= MAX_EMAIL
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(email)
    } else {
        Err(ApiError::field("email", "not a valid email address"))
    }
}

/// Length bounds only: no composition rules (NIST SP 800-63B).
pub fn password(password: &str) -> Result<(), ApiError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD {
        return Err(ApiError::field(
            "password",
            format!("must be at least {MIN_PASSWORD} characters"),
        ));
    }
    if chars > MAX_PASSWORD {
        return Err(ApiError::field(
            "password",
            format!("must be at most {MAX_PASSWORD} characters"),
        ));
    }
    Ok(())
}

/// Trimmed, non-empty, bounded, no control characters.
pub fn display_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(ApiError::field("display_name", "must not be empty"));
    }
    if name.chars().count() > MAX_DISPLAY_NAME {
        return Err(ApiError::field(
            "display_name",
            format!("must be at most {MAX_DISPLAY_NAME} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::field(
            "display_name",
            "must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_junk_refused() {
        assert_eq!(
            email("  Dr.Who@Clinic.Example ").unwrap(),
            "dr.who@clinic.example"
        );
        for bad in [
            "", "no-at", "@x.y", "a@b", "a@.b", "a@b.", "a b@c.d", "a@b@c.d",
        ] {
            assert!(email(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn password_and_name_bounds() {
        assert!(password("1234567").is_err());
        assert!(password("12345678").is_ok());
        assert!(password(&"x".repeat(257)).is_err());
        assert_eq!(display_name("  Ann  ").unwrap(), "Ann");
        assert!(display_name("   ").is_err());
        assert!(display_name("a\u{7}b").is_err());
    }
}
