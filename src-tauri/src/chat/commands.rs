//! The chat commands the window invokes (mirrored by the chat part of
//! `ui/src/ipc/commands.ts`). Reads go to the cache, so they work offline;
//! sends go through the outbox; only opening a new conversation, loading
//! older history and transfers need the server.

use super::view::{self, ConversationItem, SearchView, ThreadView};
use crate::commands::CommandError;
use crate::shell::Shell;
use clinicall_client_core::cache::{ChatCache, SearchRequest};
use clinicall_client_core::chat::ChatHandle;
use clinicall_client_core::signaling::{AttachmentClient, AttachmentError};
use clinicall_protocol::chat::AttachmentMeta;
use clinicall_protocol::{ConversationId, MessageId, UserId};
use tauri::State;
use tauri::ipc::{InvokeBody, Request, Response};

type Result<T> = std::result::Result<T, CommandError>;

/// Most messages one thread read returns (the window asks for more as the
/// person scrolls up, a page at a time).
const MAX_THREAD: u32 = 2000;
/// Most search hits one read returns.
const MAX_HITS: u32 = 200;

/// What a chat command needs, cloned out of the connection so the lock
/// is not held across the server's answer.
struct Chat {
    handle: ChatHandle,
    files: AttachmentClient,
    me: UserId,
}

impl Chat {
    fn cache(&self) -> &ChatCache {
        self.handle.cache()
    }
}

async fn chat(shell: &Shell) -> Result<Chat> {
    let guard = shell.connection.lock().await;
    let Some(connection) = guard.as_ref() else {
        return Err(CommandError::new("signed_out", "Please sign in first."));
    };
    match &connection.chat {
        Ok(session) => Ok(Chat {
            handle: session.handle.clone(),
            files: session.files.clone(),
            me: session.me,
        }),
        Err(why) => Err(CommandError::new(
            "chat_unavailable",
            format!("Chat is not available on this computer: {why}"),
        )),
    }
}

/// The conversation `raw` names, and the chat.
async fn in_conversation(shell: &Shell, raw: &str) -> Result<(ConversationId, Chat)> {
    let id = parse(raw, "conversation")?;
    Ok((id, chat(shell).await?))
}

fn parse<T: std::str::FromStr>(raw: &str, what: &str) -> Result<T> {
    raw.parse()
        .map_err(|_| CommandError::new("bad_request", format!("not a {what} id")))
}

fn cache_error(e: impl std::fmt::Display) -> CommandError {
    CommandError::new("cache", format!("The chat history could not be read: {e}"))
}

fn chat_error(e: impl std::fmt::Display) -> CommandError {
    CommandError::new("chat", e)
}

fn file_error(e: AttachmentError) -> CommandError {
    let code = match e {
        AttachmentError::TooLarge(_) => "too_large",
        AttachmentError::UnsupportedType(_) => "unsupported_type",
        AttachmentError::NotFound => "not_found",
        _ => "attachment",
    };
    CommandError::new(code, e)
}

/// The conversation list, newest activity first.
#[tauri::command]
pub async fn chat_conversations(shell: State<'_, Shell>) -> Result<Vec<ConversationItem>> {
    let chat = chat(&shell).await?;
    let views = chat.cache().conversations().await.map_err(cache_error)?;
    Ok(view::conversation_list(views, chat.me))
}

/// Finds or starts the conversation with a contact (needs the server).
#[tauri::command]
pub async fn chat_open(shell: State<'_, Shell>, user_id: String) -> Result<ConversationId> {
    let peer: UserId = parse(&user_id, "user")?;
    let chat = chat(&shell).await?;
    chat.handle.open(peer).await.map_err(chat_error)
}

async fn read_thread(chat: &Chat, id: ConversationId, limit: u32) -> Result<ThreadView> {
    let limit = limit.clamp(1, MAX_THREAD);
    let page = chat
        .cache()
        .messages_page(id, None, limit)
        .await
        .map_err(cache_error)?;
    let conversations = chat.cache().conversations().await.map_err(cache_error)?;
    let conversation = conversations.iter().find(|c| c.id == id);
    Ok(view::thread(page, conversation, id, chat.me))
}

/// The newest `limit` messages of a conversation, from the cache.
///
/// The cache's page cursor is opaque and stays here; the window asks for
/// a larger `limit` to see older messages, which costs a re-read of a
/// page it mostly had, and keeps no cursor that a new message could make
/// stale.
#[tauri::command]
pub async fn chat_thread(
    shell: State<'_, Shell>,
    conversation_id: String,
    limit: u32,
) -> Result<ThreadView> {
    let (id, chat) = in_conversation(&shell, &conversation_id).await?;
    read_thread(&chat, id, limit).await
}

/// As [`chat_thread`], fetching older history from the server first when
/// the cache holds fewer than `limit` messages of it.
#[tauri::command]
pub async fn chat_load_older(
    shell: State<'_, Shell>,
    conversation_id: String,
    limit: u32,
) -> Result<ThreadView> {
    let (id, chat) = in_conversation(&shell, &conversation_id).await?;
    let held = read_thread(&chat, id, limit).await?;
    let last_seq = held_last_seq(&chat, id).await?;
    let Some(before) = view::fetch_older_before(&held, limit.min(MAX_THREAD) as usize, last_seq)
    else {
        return Ok(held);
    };
    chat.handle
        .load_older(id, before)
        .await
        .map_err(chat_error)?;
    read_thread(&chat, id, limit).await
}

/// The conversation's newest seq (for a conversation with nothing held).
async fn held_last_seq(chat: &Chat, id: ConversationId) -> Result<u64> {
    let conversations = chat.cache().conversations().await.map_err(cache_error)?;
    Ok(conversations
        .iter()
        .find(|c| c.id == id)
        .map_or(0, |c| c.last_seq))
}

/// Sends a message (into the outbox first: works offline). Returns it as
/// the thread will show it.
#[tauri::command]
pub async fn chat_send(
    shell: State<'_, Shell>,
    conversation_id: String,
    body: String,
    attachments: Vec<AttachmentMeta>,
) -> Result<MessageId> {
    let (id, chat) = in_conversation(&shell, &conversation_id).await?;
    chat.handle
        .send(id, body, attachments)
        .await
        .map_err(chat_error)
}

/// Marks the conversation read up to `up_to_seq`.
#[tauri::command]
pub async fn chat_mark_read(
    shell: State<'_, Shell>,
    conversation_id: String,
    up_to_seq: u64,
) -> Result<()> {
    let (id, chat) = in_conversation(&shell, &conversation_id).await?;
    chat.handle
        .mark_read(id, up_to_seq)
        .await
        .map_err(chat_error)
}

/// Tells the other party we are typing, or stopped (best effort).
#[tauri::command]
pub async fn chat_typing(
    shell: State<'_, Shell>,
    conversation_id: String,
    typing: bool,
) -> Result<()> {
    let (id, chat) = in_conversation(&shell, &conversation_id).await?;
    chat.handle.typing(id, typing).await;
    Ok(())
}

/// Full-text search of the cached history: the newest `limit` hits, in
/// one conversation or all.
#[tauri::command]
pub async fn chat_search(
    shell: State<'_, Shell>,
    text: String,
    conversation_id: Option<String>,
    limit: u32,
) -> Result<SearchView> {
    let conversation = conversation_id
        .map(|raw| parse(&raw, "conversation"))
        .transpose()?;
    let chat = chat(&shell).await?;
    let limit = limit.clamp(1, MAX_HITS);
    let mut request = SearchRequest::new(text, limit);
    request.conversation = conversation;
    let page = chat.cache().search(request).await.map_err(cache_error)?;
    Ok(SearchView {
        more: page.next.is_some(),
        hits: page.hits.into_iter().map(Into::into).collect(),
    })
}

/// Uploads a file to a conversation. The bytes are the raw invoke body
/// (no JSON array of numbers); the conversation, the file name
/// (percent-encoded) and its type come as headers.
#[tauri::command]
pub async fn chat_upload(shell: State<'_, Shell>, request: Request<'_>) -> Result<AttachmentMeta> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| CommandError::new("bad_request", format!("missing header {name}")))
    };
    let id: ConversationId = parse(&header("x-conversation")?, "conversation")?;
    let encoded = header("x-file-name")?;
    let name = percent_encoding::percent_decode_str(&encoded)
        .decode_utf8()
        .map_err(|_| CommandError::new("bad_request", "the file name is not UTF-8"))?
        .into_owned();
    let content_type = header("x-content-type")?;
    let InvokeBody::Raw(bytes) = request.body() else {
        return Err(CommandError::new(
            "bad_request",
            "the file must be sent as raw bytes",
        ));
    };
    let bytes = bytes.clone();
    let chat = chat(&shell).await?;
    let meta = chat
        .files
        .upload(id, &name, &content_type, bytes.clone())
        .await
        .map_err(file_error)?;
    // Our own files show offline too, without downloading them back.
    if let Err(e) = chat
        .cache()
        .store_attachment(meta.sha256.clone(), bytes)
        .await
    {
        tracing::warn!(error = %e, "uploaded file not kept in the cache");
    }
    Ok(meta)
}

/// An attachment's bytes: the whole file (`thumbnail` false), downloaded
/// once and then kept in the cache; or its thumbnail, which is the
/// cached file itself when that is held (so pictures show offline).
#[tauri::command]
pub async fn chat_attachment(
    shell: State<'_, Shell>,
    attachment: AttachmentMeta,
    thumbnail: bool,
) -> Result<Response> {
    let chat = chat(&shell).await?;
    if let Some(bytes) = chat
        .cache()
        .attachment(attachment.sha256.clone())
        .await
        .map_err(cache_error)?
    {
        return Ok(Response::new(bytes));
    }
    if thumbnail && attachment.has_thumbnail {
        let bytes = chat
            .files
            .thumbnail(attachment.id)
            .await
            .map_err(file_error)?;
        return Ok(Response::new(bytes));
    }
    let bytes = chat.files.download(&attachment).await.map_err(file_error)?;
    chat.cache()
        .store_attachment(attachment.sha256.clone(), bytes.clone())
        .await
        .map_err(|e| CommandError::new("attachment", e))?;
    Ok(Response::new(bytes))
}
