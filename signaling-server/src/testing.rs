//! Test support (feature `test-support`): the configuration every test in
//! the workspace runs a real server with, so the server's own tests, the
//! client core's and the headless client's agree on it.

use crate::Config;
use std::path::Path;
use std::time::Duration;

/// JWT secret of test servers.
pub const SECRET: &str = "test-secret-test-secret-test-secret!";
/// The bootstrap admin of test servers.
pub const ADMIN_EMAIL: &str = "admin@test.clinicall";
/// Its password.
pub const ADMIN_PASSWORD: &str = "admin-password";
/// Password tests give the accounts they create.
pub const PASSWORD: &str = "password-123";

/// A server for tests: database in `dir`, any free loopback port, cheap
/// password hashing (tests log in often), no sign-in rate limit, a known
/// JWT secret and bootstrap admin, and a short shutdown grace.
pub fn test_config(dir: &Path) -> Config {
    let mut config = Config::default();
    config.server.listen = ([127, 0, 0, 1], 0).into();
    config.server.shutdown_grace = Duration::from_secs(2);
    config.storage.database = dir.join("server.sqlite3");
    config.auth.jwt_secret = Some(SECRET.into());
    config.auth.argon2_memory_kib = 64;
    config.auth.argon2_iterations = 1;
    config.auth.bootstrap_admin_email = Some(ADMIN_EMAIL.into());
    config.auth.bootstrap_admin_password = Some(ADMIN_PASSWORD.into());
    config.limits.auth_requests_per_minute = 0;
    config
}
