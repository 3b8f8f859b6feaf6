//! A visit's call quality from the headless client: the client core's
//! `QualityReporter` sees every driver event and posts the summary of an
//! ended call labelled with an appointment to its visit record, as the
//! desktop app does. Unlike the app, the headless client exits right
//! after its call, so it waits (briefly) for those posts and prints how
//! each went: `{"event": "quality_report", "ok": true}`.

use crate::print;
use clinicall_client_core::appointments::{AppointmentsClient, QualityReporter};
use clinicall_client_core::driver::DriverEvent;
use clinicall_client_core::signaling::{AuthSession, RestError};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How long the exit waits for reports still being posted (the reporter
/// retries after 1, 2 and 4 s).
const FINISH_LIMIT: Duration = Duration::from_secs(10);

/// The reports of this run's visit calls.
pub(crate) struct VisitQuality {
    reporter: Option<QualityReporter>,
    posting: Vec<JoinHandle<Result<(), RestError>>>,
}

impl VisitQuality {
    /// Reports with `auth`'s login; without a REST client (a bad server
    /// address was refused earlier, so hardly ever) nothing is reported.
    pub(crate) fn new(auth: Arc<AuthSession>) -> Self {
        let reporter = match AppointmentsClient::new(auth) {
            Ok(rest) => Some(QualityReporter::new(rest)),
            Err(e) => {
                tracing::warn!(error = %e, "call quality will not be reported");
                None
            }
        };
        VisitQuality {
            reporter,
            posting: Vec::new(),
        }
    }

    /// Takes one driver event (every one, in order).
    pub(crate) fn observe(&mut self, event: &DriverEvent) {
        if let Some(posting) = self.reporter.as_mut().and_then(|r| r.observe(event)) {
            self.posting.push(posting);
        }
    }

    /// Waits for the posts under way and prints one line for each.
    pub(crate) async fn finish(self) {
        for posting in self.posting {
            let line = match tokio::time::timeout(FINISH_LIMIT, posting).await {
                Ok(Ok(Ok(()))) => json!({"event": "quality_report", "ok": true}),
                Ok(Ok(Err(e))) => {
                    json!({"event": "quality_report", "ok": false, "error": e.to_string()})
                }
                Ok(Err(e)) => {
                    json!({"event": "quality_report", "ok": false, "error": e.to_string()})
                }
                Err(_) => json!({"event": "quality_report", "ok": false, "error": "timed out"}),
            };
            print(line);
        }
    }
}
