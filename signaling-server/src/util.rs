//! Small helpers shared across modules.

use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock Unix milliseconds, for stored timestamps.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Wall-clock Unix seconds, for token claims.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
