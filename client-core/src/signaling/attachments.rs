//! Chat attachments over REST: upload a file to a conversation, download
//! a file or its thumbnail. Bytes never travel over the WebSocket; a
//! message carries only the [`AttachmentMeta`] the upload returned.
//!
//! Every call presents the login's access token and, like
//! [`AuthSession::me`], refreshes it once and retries when the server says
//! it expired.

use super::auth::AuthSession;
use super::endpoint;
use super::rest::{RestError, error_from};
use clinicall_protocol::chat::AttachmentMeta;
use clinicall_protocol::{AttachmentId, ConversationId, ErrorCode};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// How long one attachment transfer may take. Longer than the account
/// calls' limit: megabytes over a patient's home uplink take a while.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(300);

/// Largest thumbnail accepted. The server makes JPEGs of at most 256 px,
/// far below this; more is not a thumbnail.
pub const MAX_THUMBNAIL_BYTES: u64 = 1024 * 1024;

/// Why an attachment call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttachmentError {
    /// The file is over the server's size limit (413).
    #[error("the file is too large: {0}")]
    TooLarge(String),
    /// The server does not take this type, or the bytes are not of the
    /// declared type (415).
    #[error("the file type is not accepted: {0}")]
    UnsupportedType(String),
    /// No such attachment or conversation, or not one of this user's (the
    /// server does not tell the two apart).
    #[error("attachment or conversation not found")]
    NotFound,
    /// The file is empty, its name is not acceptable, or its body broke
    /// off (422, 400).
    #[error("the file was refused: {0}")]
    Invalid(String),
    /// A download was longer than the attachment's declared size (or a
    /// thumbnail longer than [`MAX_THUMBNAIL_BYTES`]).
    #[error("the server sent more than the {limit} bytes expected")]
    Oversized {
        /// The bytes expected at most.
        limit: u64,
    },
    /// Any other failure: signed out, unreachable, refused.
    #[error(transparent)]
    Rest(#[from] RestError),
}

impl AttachmentError {
    fn from_rest(e: RestError) -> Self {
        match e.code() {
            Some(ErrorCode::PayloadTooLarge) => AttachmentError::TooLarge(message(&e)),
            Some(ErrorCode::UnsupportedMediaType) => AttachmentError::UnsupportedType(message(&e)),
            Some(ErrorCode::NotFound) => AttachmentError::NotFound,
            Some(ErrorCode::InvalidMessage | ErrorCode::InvalidField) => {
                AttachmentError::Invalid(message(&e))
            }
            _ => AttachmentError::Rest(e),
        }
    }
}

fn message(e: &RestError) -> String {
    match e {
        RestError::Api { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Attachment transfers for one login. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AttachmentClient {
    auth: Arc<AuthSession>,
    http: reqwest::Client,
}

impl AttachmentClient {
    /// Transfers for the login `auth`, to its server.
    pub fn new(auth: Arc<AuthSession>) -> Result<Self, AttachmentError> {
        let http = reqwest::Client::builder()
            .timeout(TRANSFER_TIMEOUT)
            .build()
            .map_err(RestError::Transport)?;
        Ok(AttachmentClient { auth, http })
    }

    /// `POST /api/v1/conversations/{id}/attachments?name=`: uploads
    /// `bytes` as `content_type` (`image/png`, `image/jpeg`, `image/gif`,
    /// `image/webp` or `application/pdf`; the server checks the bytes
    /// match). Returns what to put in the message.
    pub async fn upload(
        &self,
        conversation: ConversationId,
        name: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<AttachmentMeta, AttachmentError> {
        let mut url = self.url(&format!("conversations/{conversation}/attachments"))?;
        url.query_pairs_mut().append_pair("name", name);
        // reqwest bodies from `Bytes` are cheap to clone for the retry.
        let body = bytes::Bytes::from(bytes);
        let response = self
            .auth
            .send_authed(|token| {
                self.http
                    .post(url.clone())
                    .bearer_auth(token)
                    .header(CONTENT_TYPE, content_type)
                    .body(body.clone())
            })
            .await?;
        let status = response.status();
        if status != StatusCode::CREATED {
            return Err(AttachmentError::from_rest(error_from(response).await));
        }
        let raw = response.bytes().await.map_err(RestError::Transport)?;
        serde_json::from_slice(&raw).map_err(|e| {
            AttachmentError::Rest(RestError::Unexpected {
                status: status.as_u16(),
                detail: format!("attachment meta does not parse: {e}"),
            })
        })
    }

    /// `GET /api/v1/attachments/{id}`: the file's bytes, refused if longer
    /// than `meta.size`. (The cache checks them against `meta.sha256`.)
    pub async fn download(&self, meta: &AttachmentMeta) -> Result<Vec<u8>, AttachmentError> {
        self.fetch(&format!("attachments/{}", meta.id), meta.size)
            .await
    }

    /// `GET /api/v1/attachments/{id}/thumbnail`: a small JPEG, for
    /// attachments with `has_thumbnail`.
    pub async fn thumbnail(&self, id: AttachmentId) -> Result<Vec<u8>, AttachmentError> {
        self.fetch(&format!("attachments/{id}/thumbnail"), MAX_THUMBNAIL_BYTES)
            .await
    }

    async fn fetch(&self, path: &str, limit: u64) -> Result<Vec<u8>, AttachmentError> {
        let url = self.url(path)?;
        let mut response = self
            .auth
            .send_authed(|token| self.http.get(url.clone()).bearer_auth(token))
            .await?;
        if response.status() != StatusCode::OK {
            return Err(AttachmentError::from_rest(error_from(response).await));
        }
        // Read in chunks so a server that sends more than promised cannot
        // fill memory.
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(RestError::Transport)? {
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(AttachmentError::Oversized { limit });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    fn url(&self, path: &str) -> Result<Url, AttachmentError> {
        endpoint::join(self.auth.rest().base(), &format!("api/v1/{path}"))
            .map_err(|e| AttachmentError::Rest(RestError::Endpoint(Box::new(e))))
    }
}
