//! The directory and appointments REST API (`/api/v1/doctors`,
//! `/api/v1/appointments`, `/api/v1/calls/{id}/quality`). Stateless: what
//! to keep is the cache's job, when to sync the engine's.
//!
//! Every call presents the login's access token and refreshes it once
//! when the server says it expired. A refusal is a
//! [`RestError::Api`] with the server's [`ErrorCode`](crate::protocol::ErrorCode)
//! (`slot_taken`, `invalid_transition`, `notes_locked`, ...) and message.

use crate::protocol::appointments::{
    Appointment, AppointmentChanges, CompleteBody, DoctorPage, DoctorProfile, NewAppointment,
    Notes, NotesBody, ProfileDetails, QualitySummary, RatingBody, RescheduleBody, Rescheduled,
    Slot, TransitionBody, Visit,
};
use crate::protocol::{AppointmentId, CallId, UserId};
use crate::signaling::endpoint;
use crate::signaling::rest::{REQUEST_TIMEOUT, error_from, parse};
use crate::signaling::{AuthSession, RestError};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use url::Url;

/// A directory search (`GET /api/v1/doctors`). Empty filters match all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DoctorQuery {
    /// Part of the doctor's name.
    pub name: Option<String>,
    /// The specialization, whole (case-insensitive).
    pub specialization: Option<String>,
    /// Only doctors with a free slot starting in `[from, to)`, Unix ms.
    pub free_between: Option<(i64, i64)>,
    /// Page size (the server allows 1 to 100; default 20).
    pub limit: Option<u32>,
    /// Matches to skip: the previous page's `next_offset`.
    pub offset: Option<u32>,
}

impl DoctorQuery {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(name) = &self.name {
            pairs.push(("name", name.clone()));
        }
        if let Some(specialization) = &self.specialization {
            pairs.push(("specialization", specialization.clone()));
        }
        if let Some((from, to)) = self.free_between {
            pairs.push(("free_from", from.to_string()));
            pairs.push(("free_to", to.to_string()));
        }
        if let Some(limit) = self.limit {
            pairs.push(("limit", limit.to_string()));
        }
        if let Some(offset) = self.offset {
            pairs.push(("offset", offset.to_string()));
        }
        pairs
    }
}

/// Appointments and directory calls for one login. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppointmentsClient {
    auth: Arc<AuthSession>,
    http: reqwest::Client,
}

impl AppointmentsClient {
    /// Calls for the login `auth`, to its server.
    pub fn new(auth: Arc<AuthSession>) -> Result<Self, RestError> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(RestError::Transport)?;
        Ok(Self { auth, http })
    }

    /// The login these calls are made for.
    pub fn auth(&self) -> &Arc<AuthSession> {
        &self.auth
    }

    /// `GET /doctors`: one page of the directory, by name then id.
    pub async fn search_doctors(&self, query: &DoctorQuery) -> Result<DoctorPage, RestError> {
        let mut url = self.url("doctors")?;
        url.query_pairs_mut().extend_pairs(query.pairs());
        self.get(url).await
    }

    /// `GET /doctors/{id}`.
    pub async fn doctor(&self, id: UserId) -> Result<DoctorProfile, RestError> {
        self.get(self.url(&format!("doctors/{id}"))?).await
    }

    /// `GET /doctors/{id}/slots`: the slots starting in `[from, to)`, Unix
    /// ms (the server's default: the next seven days).
    pub async fn slots(
        &self,
        doctor: UserId,
        window: Option<(i64, i64)>,
    ) -> Result<Vec<Slot>, RestError> {
        let mut url = self.url(&format!("doctors/{doctor}/slots"))?;
        if let Some((from, to)) = window {
            url.query_pairs_mut()
                .append_pair("from", &from.to_string())
                .append_pair("to", &to.to_string());
        }
        self.get(url).await
    }

    /// `PUT /doctors/{id}/profile`: a doctor writes their own profile (an
    /// admin, anyone's).
    pub async fn put_profile(
        &self,
        doctor: UserId,
        details: &ProfileDetails,
    ) -> Result<DoctorProfile, RestError> {
        let url = self.url(&format!("doctors/{doctor}/profile"))?;
        self.send(Method::PUT, url, details, StatusCode::OK).await
    }

    /// `POST /appointments`: the patient books a free slot (`pending`).
    /// A slot someone else holds is refused with `slot_taken`.
    pub async fn book(&self, booking: &NewAppointment) -> Result<Appointment, RestError> {
        let url = self.url("appointments")?;
        self.send(Method::POST, url, booking, StatusCode::CREATED)
            .await
    }

    /// `GET /appointments/{id}`.
    pub async fn appointment(&self, id: AppointmentId) -> Result<Appointment, RestError> {
        self.get(self.url(&format!("appointments/{id}"))?).await
    }

    /// `GET /appointments?since=`: the user's appointments changed after
    /// change `since`, one page (`more` says whether another follows).
    pub async fn changes(&self, since: u64) -> Result<AppointmentChanges, RestError> {
        let mut url = self.url("appointments")?;
        url.query_pairs_mut()
            .append_pair("since", &since.to_string());
        self.get(url).await
    }

    /// `POST /appointments/{id}/confirm`: the doctor accepts, with an
    /// optional comment for the patient.
    pub async fn confirm(
        &self,
        id: AppointmentId,
        comment: Option<String>,
    ) -> Result<Appointment, RestError> {
        self.action(id, "confirm", &TransitionBody { comment })
            .await
    }

    /// `POST /appointments/{id}/reject`: the doctor declines.
    pub async fn reject(
        &self,
        id: AppointmentId,
        comment: Option<String>,
    ) -> Result<Appointment, RestError> {
        self.action(id, "reject", &TransitionBody { comment }).await
    }

    /// `POST /appointments/{id}/cancel`: either party calls it off.
    pub async fn cancel(
        &self,
        id: AppointmentId,
        comment: Option<String>,
    ) -> Result<Appointment, RestError> {
        self.action(id, "cancel", &TransitionBody { comment }).await
    }

    /// `POST /appointments/{id}/reschedule`: the doctor moves the visit to
    /// the slot starting at `start_ms`.
    pub async fn reschedule(
        &self,
        id: AppointmentId,
        body: &RescheduleBody,
    ) -> Result<Rescheduled, RestError> {
        self.action(id, "reschedule", body).await
    }

    /// `POST /appointments/{id}/complete`: the doctor closes the visit;
    /// `notes` (if any) replace the draft and become final.
    pub async fn complete(
        &self,
        id: AppointmentId,
        notes: Option<String>,
    ) -> Result<Appointment, RestError> {
        self.action(id, "complete", &CompleteBody { notes }).await
    }

    /// `GET /appointments/{id}/notes` (the server audits every read).
    pub async fn notes(&self, id: AppointmentId) -> Result<Notes, RestError> {
        self.get(self.url(&format!("appointments/{id}/notes"))?)
            .await
    }

    /// `PUT /appointments/{id}/notes`: the doctor's draft, until completed.
    pub async fn write_notes(
        &self,
        id: AppointmentId,
        text: String,
    ) -> Result<Appointment, RestError> {
        let url = self.url(&format!("appointments/{id}/notes"))?;
        self.send(Method::PUT, url, &NotesBody { text }, StatusCode::OK)
            .await
    }

    /// `POST /appointments/{id}/notes/amendments`: an amendment to final
    /// notes.
    pub async fn amend_notes(
        &self,
        id: AppointmentId,
        text: String,
    ) -> Result<Appointment, RestError> {
        let url = self.url(&format!("appointments/{id}/notes/amendments"))?;
        self.send(Method::POST, url, &NotesBody { text }, StatusCode::CREATED)
            .await
    }

    /// `POST /appointments/{id}/rating`: the patient rates a completed
    /// visit, once.
    pub async fn rate(
        &self,
        id: AppointmentId,
        rating: &RatingBody,
    ) -> Result<Appointment, RestError> {
        self.action(id, "rating", rating).await
    }

    /// `GET /appointments/{id}/visits`: the appointment's calls with the
    /// parties' quality reports.
    pub async fn visits(&self, id: AppointmentId) -> Result<Vec<Visit>, RestError> {
        self.get(self.url(&format!("appointments/{id}/visits"))?)
            .await
    }

    /// `POST /calls/{id}/quality`: this party's summary of an ended call.
    pub async fn report_quality(
        &self,
        call: CallId,
        summary: &QualitySummary,
    ) -> Result<(), RestError> {
        let url = self.url(&format!("calls/{call}/quality"))?;
        let response = self
            .auth
            .send_authed(|token| self.http.post(url.clone()).bearer_auth(token).json(summary))
            .await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(());
        }
        Err(error_from(response).await)
    }

    /// `POST /appointments/{id}/{action}` answered with 200.
    async fn action<B: Serialize, T: DeserializeOwned>(
        &self,
        id: AppointmentId,
        action: &str,
        body: &B,
    ) -> Result<T, RestError> {
        let url = self.url(&format!("appointments/{id}/{action}"))?;
        self.send(Method::POST, url, body, StatusCode::OK).await
    }

    async fn get<T: DeserializeOwned>(&self, url: Url) -> Result<T, RestError> {
        let response = self
            .auth
            .send_authed(|token| self.http.get(url.clone()).bearer_auth(token))
            .await?;
        parse(response, StatusCode::OK).await
    }

    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: &B,
        expected: StatusCode,
    ) -> Result<T, RestError> {
        let response = self
            .auth
            .send_authed(|token| {
                self.http
                    .request(method.clone(), url.clone())
                    .bearer_auth(token)
                    .json(body)
            })
            .await?;
        parse(response, expected).await
    }

    fn url(&self, path: &str) -> Result<Url, RestError> {
        endpoint::join(self.auth.rest().base(), &format!("api/v1/{path}"))
            .map_err(|e| RestError::Endpoint(Box::new(e)))
    }
}
