//! Chat attachments over REST: upload to a conversation, download (and
//! thumbnail) by id. Only the conversation's two parties may do either;
//! anyone else gets 404, as for an id that does not exist, and is logged.

use crate::attachments::UploadError;
use crate::attachments::sniff::Kind;
use crate::auth::Authed;
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::AttachmentRow;
use crate::util::now_ms;
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use clinicall_protocol::chat::{AttachmentMeta, MAX_ATTACHMENT_NAME};
use clinicall_protocol::{AttachmentId, ConversationId, ErrorCode, UserId};
use serde::Deserialize;
use tokio_util::io::ReaderStream;

/// Query of the upload.
#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    /// The file name to show.
    name: String,
}

fn not_found(user: UserId, action: &'static str, what: &str) -> ApiError {
    tracing::warn!(
        user = %user,
        action,
        target = what,
        "attachment access refused: not a party to the conversation (or it does not exist)"
    );
    ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "not found")
}

fn parse_id<T: std::str::FromStr>(raw: &str) -> Option<T> {
    raw.parse().ok()
}

fn too_large(max: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        format!("attachments may be at most {max} bytes"),
    )
}

fn unsupported(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::UnsupportedMediaType,
        message,
    )
}

/// `POST /api/v1/conversations/{id}/attachments?name=<file name>`, the raw
/// bytes as body with their `Content-Type`. 201 with the
/// [`AttachmentMeta`].
pub async fn upload(
    State(state): State<AppState>,
    authed: Authed,
    Path(raw_id): Path<String>,
    query: Result<Query<UploadQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<AttachmentMeta>), ApiError> {
    let user = authed.user;
    let max = state.blobs.max_bytes();
    // Before anything reads the body: a declared size over the limit ends
    // the request here.
    let declared_len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_len.is_some_and(|len| len > max) {
        return Err(too_large(max));
    }
    let Some(conversation_id) = parse_id::<ConversationId>(&raw_id) else {
        return Err(not_found(user, "upload", &raw_id));
    };
    let parties = state.store.conversation(conversation_id).await?;
    if parties.and_then(|c| c.peer_of(user)).is_none() {
        return Err(not_found(user, "upload", &raw_id));
    }
    let Query(UploadQuery { name }) = query.map_err(|e| ApiError::field("name", e.body_text()))?;
    let name = name.trim().to_owned();
    if name.is_empty() || name.len() > MAX_ATTACHMENT_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::field(
            "name",
            format!("must be 1 to {MAX_ATTACHMENT_NAME} bytes without control characters"),
        ));
    }
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(kind) = Kind::from_declared(declared) else {
        return Err(unsupported(
            "Content-Type must be image/png, image/jpeg, image/gif, image/webp or application/pdf",
        ));
    };

    let blob = match state.blobs.store(kind, body.into_data_stream()).await {
        Ok(blob) => blob,
        Err(UploadError::TooLarge(max)) => return Err(too_large(max)),
        Err(e @ UploadError::WrongType { .. }) => {
            tracing::warn!(user = %user, conversation = %conversation_id, error = %e, "upload refused");
            return Err(unsupported(e.to_string()));
        }
        Err(UploadError::Empty) => return Err(ApiError::field("body", "the file is empty")),
        Err(e @ UploadError::Body(_)) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidMessage,
                e.to_string(),
            ));
        }
        Err(e) => return Err(ApiError::internal(e)),
    };
    let meta = AttachmentMeta {
        id: AttachmentId::random(),
        name,
        content_type: blob.kind.mime().to_owned(),
        size: blob.size,
        sha256: blob.sha256,
        has_thumbnail: blob.has_thumbnail,
    };
    state
        .store
        .insert_attachment(AttachmentRow {
            meta: meta.clone(),
            conversation_id,
            uploader: user,
            created_at_ms: now_ms(),
        })
        .await?;
    metrics::counter!("clinicall_chat_attachments_stored_total").increment(1);
    tracing::info!(
        user = %user,
        conversation = %conversation_id,
        attachment = %meta.id,
        size = meta.size,
        content_type = %meta.content_type,
        "attachment stored"
    );
    Ok((StatusCode::CREATED, Json(meta)))
}

/// `GET /api/v1/attachments/{id}`: the file.
pub async fn download(
    State(state): State<AppState>,
    authed: Authed,
    Path(raw_id): Path<String>,
) -> Result<Response, ApiError> {
    let row = visible(&state, authed.user, &raw_id, "download").await?;
    stream_file(state.blobs.path(&row.meta.sha256), &row.meta.content_type).await
}

/// `GET /api/v1/attachments/{id}/thumbnail`: a JPEG of at most 256 px.
pub async fn thumbnail(
    State(state): State<AppState>,
    authed: Authed,
    Path(raw_id): Path<String>,
) -> Result<Response, ApiError> {
    let row = visible(&state, authed.user, &raw_id, "thumbnail").await?;
    if !row.meta.has_thumbnail {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "this attachment has no thumbnail",
        ));
    }
    stream_file(state.blobs.thumbnail_path(&row.meta.sha256), "image/jpeg").await
}

/// The attachment, if `user` is a party to its conversation.
async fn visible(
    state: &AppState,
    user: UserId,
    raw_id: &str,
    action: &'static str,
) -> Result<AttachmentRow, ApiError> {
    let Some(id) = parse_id::<AttachmentId>(raw_id) else {
        return Err(not_found(user, action, raw_id));
    };
    let Some(row) = state.store.attachment(id).await? else {
        return Err(not_found(user, action, raw_id));
    };
    let parties = state.store.conversation(row.conversation_id).await?;
    if parties.and_then(|c| c.peer_of(user)).is_none() {
        return Err(not_found(user, action, raw_id));
    }
    Ok(row)
}

/// Streams a stored file in chunks: a download of the largest attachment
/// holds a few kilobytes in memory, not the whole file.
async fn stream_file(path: std::path::PathBuf, content_type: &str) -> Result<Response, ApiError> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(ApiError::internal)?;
    let length = file.metadata().await.map_err(ApiError::internal)?.len();
    let mut response = Body::from_stream(ReaderStream::new(file)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    // Never rendered inline by something that guesses types.
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    Ok(response)
}
