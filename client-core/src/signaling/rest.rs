//! The account REST API (`/api/v1/...`): register, login, refresh, logout,
//! me. Stateless; token bookkeeping is [`super::auth::AuthSession`]'s job.

use super::endpoint;
use clinicall_protocol::ErrorCode;
use clinicall_protocol::rest::{
    Account, ErrorBody, LoginRequest, NewUser, RefreshRequest, TokenPair,
};
use reqwest::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use url::Url;

/// How long one REST request may take, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a REST call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestError {
    /// The server refused the request with its JSON error body.
    #[error("server refused ({status}): {code:?}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The stable code; branch on this, not on the message.
        code: ErrorCode,
        /// Human-readable explanation from the server.
        message: String,
        /// The request field at fault, for validation errors.
        field: Option<String>,
    },
    /// The request never got an HTTP answer (DNS, refused, TLS, timeout).
    #[error("could not reach the server: {0}")]
    Transport(#[source] reqwest::Error),
    /// An answer that is not what the protocol promises (wrong status
    /// without an error body, or a body that does not parse).
    #[error("unexpected answer from the server ({status}): {detail}")]
    Unexpected {
        /// HTTP status.
        status: u16,
        /// What was wrong.
        detail: String,
    },
    /// No refresh token is stored: the user must log in.
    #[error("not signed in")]
    NotSignedIn,
    /// The configured server URL is unusable or refused (clear text to a
    /// remote host).
    #[error(transparent)]
    Endpoint(Box<super::Error>),
}

impl RestError {
    /// The server's error code, when the server refused the request.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            RestError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the login is over (refresh refused, or signed out) and the
    /// user must enter their password again.
    pub fn is_signed_out(&self) -> bool {
        matches!(self, RestError::NotSignedIn)
            || matches!(
                self.code(),
                Some(ErrorCode::InvalidRefreshToken | ErrorCode::SessionRevoked)
            )
    }
}

/// A REST client for one server. Cheap to clone.
#[derive(Clone, Debug)]
pub struct RestClient {
    http: reqwest::Client,
    base: Url,
}

impl RestClient {
    /// A client for the server at `base` (for example
    /// `https://clinic.example`). Clear-text HTTP to a non-loopback host is
    /// refused unless `allow_insecure`: passwords and tokens travel here.
    pub fn new(base: &str, allow_insecure: bool) -> Result<Self, RestError> {
        let base = endpoint::parse_base(base, allow_insecure)
            .map_err(|e| RestError::Endpoint(Box::new(e)))?;
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(RestError::Transport)?;
        Ok(Self { http, base })
    }

    /// The server base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `POST /auth/register`: a patient signs up.
    pub async fn register(&self, user: &NewUser) -> Result<Account, RestError> {
        let req = self.http.post(self.url("auth/register")?).json(user);
        parse(
            req.send().await.map_err(RestError::Transport)?,
            StatusCode::CREATED,
        )
        .await
    }

    /// `POST /auth/login`.
    pub async fn login(&self, email: &str, password: &str) -> Result<TokenPair, RestError> {
        let body = LoginRequest {
            email: email.into(),
            password: password.into(),
        };
        self.post_json("auth/login", &body).await
    }

    /// `POST /auth/refresh`. The presented token is spent whatever happens
    /// next: store the returned one before anything else.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, RestError> {
        let body = RefreshRequest {
            refresh_token: refresh_token.into(),
        };
        self.post_json("auth/refresh", &body).await
    }

    /// `POST /auth/logout`: signs the login out everywhere it is connected.
    pub async fn logout(&self, refresh_token: &str) -> Result<(), RestError> {
        let body = RefreshRequest {
            refresh_token: refresh_token.into(),
        };
        let resp = self.http.post(self.url("auth/logout")?).json(&body);
        let resp = resp.send().await.map_err(RestError::Transport)?;
        if resp.status() == StatusCode::NO_CONTENT {
            return Ok(());
        }
        Err(error_from(resp).await)
    }

    /// `GET /me`.
    pub async fn me(&self, access_token: &str) -> Result<Account, RestError> {
        let req = self.http.get(self.url("me")?).bearer_auth(access_token);
        parse(
            req.send().await.map_err(RestError::Transport)?,
            StatusCode::OK,
        )
        .await
    }

    fn url(&self, path: &str) -> Result<Url, RestError> {
        endpoint::join(&self.base, &format!("api/v1/{path}"))
            .map_err(|e| RestError::Endpoint(Box::new(e)))
    }

    async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, RestError> {
        let req = self.http.post(self.url(path)?).json(body);
        parse(
            req.send().await.map_err(RestError::Transport)?,
            StatusCode::OK,
        )
        .await
    }
}

/// The body of an answer with the `expected` status, or the error it
/// carries.
pub(crate) async fn parse<T: DeserializeOwned>(
    resp: reqwest::Response,
    expected: StatusCode,
) -> Result<T, RestError> {
    let status = resp.status();
    if status != expected {
        return Err(error_from(resp).await);
    }
    let bytes = resp.bytes().await.map_err(RestError::Transport)?;
    serde_json::from_slice(&bytes).map_err(|e| RestError::Unexpected {
        status: status.as_u16(),
        detail: format!("body does not parse: {e}"),
    })
}

/// Maps a failed response to [`RestError::Api`] via the server's
/// `ErrorBody`, or to [`RestError::Unexpected`] when there is none (a proxy
/// in front of the server, for example).
pub(crate) async fn error_from(resp: reqwest::Response) -> RestError {
    let status = resp.status().as_u16();
    match resp.bytes().await {
        Ok(bytes) => error_from_body(status, &bytes),
        Err(e) => RestError::Transport(e),
    }
}

/// Parses an error body of any HTTP answer (also the WebSocket upgrade's).
pub(crate) fn error_from_body(status: u16, body: &[u8]) -> RestError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { error }) => RestError::Api {
            status,
            code: error.code,
            message: error.message,
            field: error.field,
        },
        Err(_) => RestError::Unexpected {
            status,
            detail: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        },
    }
}
