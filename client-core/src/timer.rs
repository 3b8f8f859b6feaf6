//! The deadline sleep the tokio tasks (driver, sync engines) share.

use tokio::time::Instant;

/// Sleeps until `deadline`, or forever without one: the body of a
/// `select!` arm that only fires when a deadline is set.
pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
