//! The cache's reads and writes on one SQLite connection, with no threads
//! and no I/O besides the database: what `ChatCache` runs on its writer
//! thread and reader connections.

use super::CacheError;
use super::model::{
    ApplyOutcome, CachedMessage, ConversationView, MessagePage, MessageState, OutboxItem,
    PageCursor, PagePosition, SyncCursor,
};
use crate::protocol::chat::{AttachmentMeta, ChatMessage, ConversationSummary};
use crate::protocol::{
    AttachmentId, ClientEnvelope, ClientMessage, ConversationId, MessageId, Role, UserId,
    UserSummary,
};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use uuid::Uuid;

pub(crate) fn seq_sql(seq: u64) -> Result<i64, CacheError> {
    i64::try_from(seq).map_err(|_| CacheError::OutOfRange(seq))
}

/// SQLite never hands back a negative seq we wrote; 0 if it somehow did.
fn seq_u64(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or(0)
}

fn uuid_col(row: &Row<'_>, index: usize) -> rusqlite::Result<Uuid> {
    let bytes: [u8; 16] = row.get(index)?;
    Ok(Uuid::from_bytes(bytes))
}

fn role_text(role: Role) -> &'static str {
    match role {
        Role::Patient => "patient",
        Role::Doctor => "doctor",
        Role::Admin => "admin",
    }
}

fn role_parse(text: &str) -> Option<Role> {
    match text {
        "patient" => Some(Role::Patient),
        "doctor" => Some(Role::Doctor),
        "admin" => Some(Role::Admin),
        _ => None,
    }
}

/// Search keys per millisecond (see the schema).
const KEYS_PER_MS: i64 = 1024;

/// A free search key for a message of `time_ms`: after every key of the
/// same millisecond.
fn search_key(tx: &Connection, time_ms: i64) -> Result<i64, CacheError> {
    let base = time_ms.clamp(0, i64::MAX / KEYS_PER_MS - 1) * KEYS_PER_MS;
    let next: i64 = tx
        .prepare_cached(
            "SELECT coalesce(max(search_key) + 1, ?1) FROM messages
             WHERE search_key BETWEEN ?1 AND ?1 + 1023",
        )?
        .query_row([base], |r| r.get(0))?;
    if next < base + KEYS_PER_MS {
        return Ok(next);
    }
    // Over 1024 messages in one millisecond: any free key will do (their
    // order among themselves is not meaningful anyway).
    Ok(tx
        .prepare_cached("SELECT max(search_key) + 1 FROM messages")?
        .query_row([], |r| r.get(0))?)
}

/// Makes sure the conversation has a row and a cursor.
fn ensure_conversation(tx: &Connection, conversation: &ConversationId) -> Result<(), CacheError> {
    let id = conversation.0.as_bytes();
    tx.prepare_cached("INSERT OR IGNORE INTO conversations (id) VALUES (?1)")?
        .execute([id])?;
    tx.prepare_cached("INSERT OR IGNORE INTO sync_cursors (conversation_id) VALUES (?1)")?
        .execute([id])?;
    Ok(())
}

/// Stores conversation summaries (from `chat_conversations` or
/// `chat_conversation`). Seqs only move forward: a summary older than
/// what the cache holds does not undo reads or messages.
pub(crate) fn upsert_conversations(
    tx: &Transaction<'_>,
    summaries: &[ConversationSummary],
) -> Result<(), CacheError> {
    for summary in summaries {
        ensure_conversation(tx, &summary.id)?;
        let last_seq = seq_sql(summary.last_seq)?;
        tx.prepare_cached(
            "UPDATE conversations SET
                 peer_id = ?2, peer_name = ?3, peer_role = ?4,
                 last_seq = max(last_seq, ?5),
                 read_seq = max(read_seq, ?6),
                 peer_read_seq = max(peer_read_seq, ?7),
                 unread_base = CASE WHEN ?5 >= base_seq THEN ?8 ELSE unread_base END,
                 base_seq = max(base_seq, ?5)
             WHERE id = ?1",
        )?
        .execute(params![
            summary.id.0.as_bytes(),
            summary.peer.id.0.as_bytes(),
            summary.peer.display_name,
            role_text(summary.peer.role),
            last_seq,
            seq_sql(summary.read_seq)?,
            seq_sql(summary.peer_read_seq)?,
            seq_sql(summary.unread)?,
        ])?;
    }
    Ok(())
}

fn insert_attachments(
    tx: &Connection,
    local_id: i64,
    attachments: &[AttachmentMeta],
) -> Result<(), CacheError> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO attachments
             (message_local_id, position, id, name, content_type, size, sha256, has_thumbnail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for (position, a) in attachments.iter().enumerate() {
        insert.execute(params![
            local_id,
            position as i64,
            a.id.0.as_bytes(),
            a.name,
            a.content_type,
            seq_sql(a.size)?,
            a.sha256,
            a.has_thumbnail,
        ])?;
    }
    Ok(())
}

/// Writes messages from the server (a push or a fetch page), once each.
pub(crate) fn apply_messages(
    tx: &Transaction<'_>,
    messages: &[ChatMessage],
    now_ms: i64,
) -> Result<ApplyOutcome, CacheError> {
    let mut outcome = ApplyOutcome::default();
    let mut touched: Vec<ConversationId> = Vec::new();
    for message in messages {
        if !touched.contains(&message.conversation_id) {
            ensure_conversation(tx, &message.conversation_id)?;
            touched.push(message.conversation_id);
        }
        let seq = seq_sql(message.seq)?;
        let known: Option<(i64, Option<i64>)> = tx
            .prepare_cached("SELECT local_id, seq FROM messages WHERE id = ?1")?
            .query_row([message.id.0.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        match known {
            Some((_, Some(_))) => outcome.duplicates += 1,
            Some((local_id, None)) => {
                // Our own pending message, echoed (to this or another of
                // our devices) before or instead of its ack.
                if confirm(
                    tx,
                    local_id,
                    &message.conversation_id,
                    seq,
                    message.sent_at_ms,
                )? {
                    outcome.confirmed += 1;
                } else {
                    outcome.conflicts += 1;
                }
            }
            None => {
                let inserted = tx
                    .prepare_cached(
                        "INSERT INTO messages
                             (id, conversation_id, seq, sender, body, sent_at_ms, created_at_ms,
                              search_key)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                         ON CONFLICT (conversation_id, seq) DO NOTHING",
                    )?
                    .execute(params![
                        message.id.0.as_bytes(),
                        message.conversation_id.0.as_bytes(),
                        seq,
                        message.sender.0.as_bytes(),
                        message.body,
                        message.sent_at_ms,
                        now_ms,
                        search_key(tx, message.sent_at_ms)?,
                    ])?;
                if inserted == 0 {
                    tracing::warn!(
                        conversation = %message.conversation_id,
                        seq = message.seq,
                        "chat cache: seq already held by another message; kept the first"
                    );
                    outcome.conflicts += 1;
                    continue;
                }
                insert_attachments(tx, tx.last_insert_rowid(), &message.attachments)?;
                outcome.inserted += 1;
            }
        }
        raise_last_seq(tx, &message.conversation_id, seq)?;
    }
    for conversation in touched {
        outcome.cursors.push(advance_cursor(tx, &conversation)?);
    }
    Ok(outcome)
}

fn raise_last_seq(
    tx: &Connection,
    conversation: &ConversationId,
    seq: i64,
) -> Result<(), CacheError> {
    tx.prepare_cached("UPDATE conversations SET last_seq = max(last_seq, ?2) WHERE id = ?1")?
        .execute(params![conversation.0.as_bytes(), seq])?;
    Ok(())
}

/// Turns a pending message into a sent one and takes it out of the
/// outbox. `false` if its seq is taken by another message.
fn confirm(
    tx: &Connection,
    local_id: i64,
    conversation: &ConversationId,
    seq: i64,
    sent_at_ms: i64,
) -> Result<bool, CacheError> {
    let taken: Option<i64> = tx
        .prepare_cached("SELECT local_id FROM messages WHERE conversation_id = ?1 AND seq = ?2")?
        .query_row(params![conversation.0.as_bytes(), seq], |r| r.get(0))
        .optional()?;
    if taken.is_some_and(|other| other != local_id) {
        return Ok(false);
    }
    // Sent: its time, and so its place in search order, is the server's.
    let key = search_key(tx, sent_at_ms)?;
    tx.prepare_cached(
        "UPDATE messages SET seq = ?2, sent_at_ms = ?3, search_key = ?4 WHERE local_id = ?1",
    )?
    .execute(params![local_id, seq, sent_at_ms, key])?;
    tx.prepare_cached("DELETE FROM outbox WHERE message_local_id = ?1")?
        .execute([local_id])?;
    Ok(true)
}

/// Moves the conversation's cursor over every seq held right after it.
pub(crate) fn advance_cursor(
    tx: &Connection,
    conversation: &ConversationId,
) -> Result<SyncCursor, CacheError> {
    let id = conversation.0.as_bytes();
    let mut cursor: i64 = tx
        .prepare_cached("SELECT contiguous_seq FROM sync_cursors WHERE conversation_id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    let start = cursor;
    {
        let mut held = tx.prepare_cached(
            "SELECT seq FROM messages WHERE conversation_id = ?1 AND seq > ?2 ORDER BY seq",
        )?;
        let mut rows = held.query(params![id, cursor])?;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            if seq != cursor + 1 {
                break;
            }
            cursor = seq;
        }
    }
    if cursor != start {
        tx.prepare_cached(
            "UPDATE sync_cursors SET contiguous_seq = ?2 WHERE conversation_id = ?1",
        )?
        .execute(params![id, cursor])?;
    }
    sync_cursor(tx, conversation)
}

/// The conversation's cursor (zeros for one the cache has never seen).
pub(crate) fn sync_cursor(
    conn: &Connection,
    conversation: &ConversationId,
) -> Result<SyncCursor, CacheError> {
    let (contiguous, known): (i64, i64) = conn
        .prepare_cached(
            "SELECT
                 coalesce((SELECT contiguous_seq FROM sync_cursors WHERE conversation_id = ?1), 0),
                 max(
                     coalesce((SELECT last_seq FROM conversations WHERE id = ?1), 0),
                     coalesce((SELECT max(seq) FROM messages WHERE conversation_id = ?1), 0))",
        )?
        .query_row([conversation.0.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(SyncCursor {
        conversation_id: *conversation,
        contiguous_seq: seq_u64(contiguous),
        known_seq: seq_u64(known),
    })
}

/// Every conversation's cursor.
pub(crate) fn sync_cursors(conn: &Connection) -> Result<Vec<SyncCursor>, CacheError> {
    let ids: Vec<Uuid> = conn
        .prepare_cached("SELECT id FROM conversations ORDER BY id")?
        .query_map([], |r| uuid_col(r, 0))?
        .collect::<Result<_, _>>()?;
    ids.into_iter()
        .map(|id| sync_cursor(conn, &ConversationId(id)))
        .collect()
}

/// Writes the user's new message as pending and queues it, in one
/// transaction.
pub(crate) fn enqueue(
    tx: &Transaction<'_>,
    me: &UserId,
    conversation: &ConversationId,
    body: &str,
    attachments: &[AttachmentMeta],
    now_ms: i64,
) -> Result<OutboxItem, CacheError> {
    let id = MessageId::random();
    // A send the server would refuse must not enter the outbox: it would
    // be resent forever.
    ClientEnvelope {
        req: None,
        msg: ClientMessage::ChatSend {
            conversation_id: *conversation,
            id,
            body: body.to_owned(),
            attachments: attachments.iter().map(|a| a.id).collect(),
        },
    }
    .validate()?;
    ensure_conversation(tx, conversation)?;
    tx.prepare_cached(
        "INSERT INTO messages
             (id, conversation_id, seq, sender, body, sent_at_ms, created_at_ms, search_key)
         VALUES (?1, ?2, NULL, ?3, ?4, NULL, ?5, ?6)",
    )?
    .execute(params![
        id.0.as_bytes(),
        conversation.0.as_bytes(),
        me.0.as_bytes(),
        body,
        now_ms,
        search_key(tx, now_ms)?,
    ])?;
    let local_id = tx.last_insert_rowid();
    insert_attachments(tx, local_id, attachments)?;
    tx.prepare_cached("INSERT INTO outbox (message_local_id) VALUES (?1)")?
        .execute([local_id])?;
    Ok(OutboxItem {
        conversation_id: *conversation,
        id,
        body: body.to_owned(),
        attachments: attachments.iter().map(|a| a.id).collect(),
        created_at_ms: now_ms,
    })
}

/// The outbox, oldest send first.
pub(crate) fn outbox(conn: &Connection) -> Result<Vec<OutboxItem>, CacheError> {
    let mut rows = conn.prepare_cached(
        "SELECT m.local_id, m.conversation_id, m.id, m.body, m.created_at_ms
         FROM outbox o JOIN messages m ON m.local_id = o.message_local_id
         ORDER BY o.position",
    )?;
    let items = rows
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                ConversationId(uuid_col(r, 1)?),
                MessageId(uuid_col(r, 2)?),
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    items
        .into_iter()
        .map(|(local_id, conversation_id, id, body, created_at_ms)| {
            Ok(OutboxItem {
                conversation_id,
                id,
                body,
                attachments: attachments_of(conn, local_id)?
                    .into_iter()
                    .map(|a| a.id)
                    .collect::<Vec<AttachmentId>>(),
                created_at_ms,
            })
        })
        .collect()
}

pub(crate) fn outbox_len(conn: &Connection) -> Result<usize, CacheError> {
    let count: i64 = conn
        .prepare_cached("SELECT count(*) FROM outbox")?
        .query_row([], |r| r.get(0))?;
    Ok(usize::try_from(count).unwrap_or(0))
}

/// The server refused the pending message `id` for good: it leaves the
/// outbox and keeps `reason` for the thread view.
pub(crate) fn refuse(
    tx: &Transaction<'_>,
    id: &MessageId,
    reason: &str,
) -> Result<ConversationId, CacheError> {
    let (local_id, conversation): (i64, ConversationId) = tx
        .prepare_cached(
            "SELECT local_id, conversation_id FROM messages WHERE id = ?1 AND seq IS NULL",
        )?
        .query_row([id.0.as_bytes()], |r| {
            Ok((r.get(0)?, ConversationId(uuid_col(r, 1)?)))
        })
        .optional()?
        .ok_or(CacheError::UnknownMessage(*id))?;
    tx.prepare_cached("UPDATE messages SET refused = ?2 WHERE local_id = ?1")?
        .execute(params![local_id, reason])?;
    tx.prepare_cached("DELETE FROM outbox WHERE message_local_id = ?1")?
        .execute([local_id])?;
    Ok(conversation)
}

/// The server stored the message `id` as `seq`.
pub(crate) fn ack(
    tx: &Transaction<'_>,
    id: &MessageId,
    seq: u64,
    sent_at_ms: i64,
) -> Result<SyncCursor, CacheError> {
    let seq_i = seq_sql(seq)?;
    let (local_id, conversation, held): (i64, ConversationId, Option<i64>) = tx
        .prepare_cached("SELECT local_id, conversation_id, seq FROM messages WHERE id = ?1")?
        .query_row([id.0.as_bytes()], |r| {
            Ok((r.get(0)?, ConversationId(uuid_col(r, 1)?), r.get(2)?))
        })
        .optional()?
        .ok_or(CacheError::UnknownMessage(*id))?;
    match held {
        // Already confirmed by its echo: an ack again is harmless.
        Some(_) => {}
        None => {
            if !confirm(tx, local_id, &conversation, seq_i, sent_at_ms)? {
                return Err(CacheError::SeqConflict { conversation, seq });
            }
            raise_last_seq(tx, &conversation, seq_i)?;
        }
    }
    advance_cursor(tx, &conversation)
}

/// Raises the user's read mark (own reads: sent or echoed from another
/// device).
pub(crate) fn mark_read(
    tx: &Transaction<'_>,
    me: &UserId,
    conversation: &ConversationId,
    up_to: u64,
) -> Result<(), CacheError> {
    ensure_conversation(tx, conversation)?;
    let id = conversation.0.as_bytes();
    let up_to = seq_sql(up_to)?;
    tx.prepare_cached("UPDATE conversations SET read_seq = max(read_seq, ?2) WHERE id = ?1")?
        .execute(params![id, up_to])?;
    // Reading below the server's count's base: recount from the cache when
    // it holds everything up to the base; otherwise the server's count
    // stands until the next summary.
    tx.prepare_cached(
        "UPDATE conversations SET unread_base = CASE
             WHEN read_seq >= base_seq THEN 0
             WHEN (SELECT contiguous_seq FROM sync_cursors WHERE conversation_id = ?1) >= base_seq
                 THEN (SELECT count(*) FROM messages m
                       WHERE m.conversation_id = ?1 AND m.seq > read_seq AND m.seq <= base_seq
                         AND m.sender != ?2)
             ELSE unread_base END
         WHERE id = ?1",
    )?
    .execute(params![id, me.0.as_bytes()])?;
    Ok(())
}

/// The other party read up to `up_to`.
pub(crate) fn mark_peer_read(
    tx: &Transaction<'_>,
    conversation: &ConversationId,
    up_to: u64,
) -> Result<(), CacheError> {
    ensure_conversation(tx, conversation)?;
    tx.prepare_cached(
        "UPDATE conversations SET peer_read_seq = max(peer_read_seq, ?2) WHERE id = ?1",
    )?
    .execute(params![conversation.0.as_bytes(), seq_sql(up_to)?])?;
    Ok(())
}

const MESSAGE_COLUMNS: &str =
    "local_id, conversation_id, id, sender, body, seq, sent_at_ms, created_at_ms, refused";

fn message_row(row: &Row<'_>) -> rusqlite::Result<(i64, CachedMessage)> {
    let seq: Option<i64> = row.get(5)?;
    let sent_at_ms: Option<i64> = row.get(6)?;
    let state = match (seq, sent_at_ms) {
        (Some(seq), Some(sent_at_ms)) => MessageState::Sent {
            seq: seq_u64(seq),
            sent_at_ms,
        },
        _ => match row.get::<_, Option<String>>(8)? {
            Some(reason) => MessageState::Refused {
                created_at_ms: row.get(7)?,
                reason,
            },
            None => MessageState::Pending {
                created_at_ms: row.get(7)?,
            },
        },
    };
    Ok((
        row.get(0)?,
        CachedMessage {
            conversation_id: ConversationId(uuid_col(row, 1)?),
            id: MessageId(uuid_col(row, 2)?),
            sender: UserId(uuid_col(row, 3)?),
            body: row.get(4)?,
            attachments: Vec::new(),
            state,
        },
    ))
}

fn attachments_of(conn: &Connection, local_id: i64) -> Result<Vec<AttachmentMeta>, CacheError> {
    let mut rows = conn.prepare_cached(
        "SELECT id, name, content_type, size, sha256, has_thumbnail FROM attachments
         WHERE message_local_id = ?1 ORDER BY position",
    )?;
    let found = rows
        .query_map([local_id], |r| {
            Ok(AttachmentMeta {
                id: AttachmentId(uuid_col(r, 0)?),
                name: r.get(1)?,
                content_type: r.get(2)?,
                size: seq_u64(r.get(3)?),
                sha256: r.get(4)?,
                has_thumbnail: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(found)
}

fn with_attachments(
    conn: &Connection,
    rows: Vec<(i64, CachedMessage)>,
) -> Result<Vec<(i64, CachedMessage)>, CacheError> {
    rows.into_iter()
        .map(|(local_id, mut message)| {
            message.attachments = attachments_of(conn, local_id)?;
            Ok((local_id, message))
        })
        .collect()
}

/// A page of the thread, newest first: pending messages, then sent ones
/// by descending seq.
pub(crate) fn messages_page(
    conn: &Connection,
    conversation: &ConversationId,
    before: Option<PageCursor>,
    limit: u32,
) -> Result<MessagePage, CacheError> {
    let id = conversation.0.as_bytes();
    let limit = i64::from(limit.max(1));
    let mut out: Vec<(i64, CachedMessage)> = Vec::new();
    let mut last_position = None;
    let sent_before = match before.map(|c| c.0) {
        None | Some(PagePosition::Pending(_)) => {
            let pending_before = match before.map(|c| c.0) {
                Some(PagePosition::Pending(local_id)) => local_id,
                _ => i64::MAX,
            };
            let pending = conn
                .prepare_cached(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages
                     WHERE conversation_id = ?1 AND seq IS NULL AND local_id < ?2
                     ORDER BY local_id DESC LIMIT ?3"
                ))?
                .query_map(params![id, pending_before, limit + 1], message_row)?
                .collect::<Result<Vec<_>, _>>()?;
            out.extend(pending);
            i64::MAX
        }
        Some(PagePosition::Sent(seq)) => seq,
    };
    let room = limit + 1 - out.len() as i64;
    if room > 0 {
        let sent = conn
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages
                 WHERE conversation_id = ?1 AND seq < ?2
                 ORDER BY seq DESC LIMIT ?3"
            ))?
            .query_map(params![id, sent_before, room], message_row)?
            .collect::<Result<Vec<_>, _>>()?;
        out.extend(sent);
    }
    // One extra row was read to know whether an older page exists.
    let more = out.len() as i64 > limit;
    out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    if more && let Some((local_id, message)) = out.last() {
        last_position = Some(PageCursor(match message.seq() {
            Some(seq) => PagePosition::Sent(seq_sql(seq)?),
            None => PagePosition::Pending(*local_id),
        }));
    }
    Ok(MessagePage {
        messages: with_attachments(conn, out)?
            .into_iter()
            .map(|(_, m)| m)
            .collect(),
        older: last_position,
    })
}

/// One message by id.
pub(crate) fn message(
    conn: &Connection,
    id: &MessageId,
) -> Result<Option<CachedMessage>, CacheError> {
    let found = conn
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1"
        ))?
        .query_row([id.0.as_bytes()], message_row)
        .optional()?;
    Ok(match found {
        Some(row) => with_attachments(conn, vec![row])?.pop().map(|(_, m)| m),
        None => None,
    })
}

/// The conversation list, most recent activity first.
pub(crate) fn conversations(
    conn: &Connection,
    me: &UserId,
) -> Result<Vec<ConversationView>, CacheError> {
    let mut rows = conn.prepare_cached(
        "SELECT c.id, c.peer_id, c.peer_name, c.peer_role,
                max(c.last_seq, coalesce((SELECT max(seq) FROM messages m WHERE m.conversation_id = c.id), 0)),
                c.read_seq, c.peer_read_seq,
                (CASE WHEN c.read_seq < c.base_seq THEN c.unread_base ELSE 0 END)
                + (SELECT count(*) FROM messages m
                   WHERE m.conversation_id = c.id AND m.seq > max(c.read_seq, c.base_seq)
                     AND m.sender != ?1)
         FROM conversations c",
    )?;
    let list = rows
        .query_map([me.0.as_bytes()], |r| {
            let peer = match (
                r.get::<_, Option<[u8; 16]>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?
                    .as_deref()
                    .and_then(role_parse),
            ) {
                (Some(id), Some(display_name), Some(role)) => Some(UserSummary {
                    id: UserId(Uuid::from_bytes(id)),
                    display_name,
                    role,
                }),
                _ => None,
            };
            Ok(ConversationView {
                id: ConversationId(uuid_col(r, 0)?),
                peer,
                last_seq: seq_u64(r.get(4)?),
                read_seq: seq_u64(r.get(5)?),
                peer_read_seq: seq_u64(r.get(6)?),
                unread: seq_u64(r.get(7)?),
                last_message: None,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut with_last = Vec::with_capacity(list.len());
    for mut view in list {
        view.last_message = messages_page(conn, &view.id, None, 1)?.messages.pop();
        with_last.push(view);
    }
    // Newest activity first; conversations with no message last.
    with_last.sort_by_key(|v| {
        std::cmp::Reverse(v.last_message.as_ref().map(|m| match &m.state {
            MessageState::Sent { sent_at_ms, .. } => *sent_at_ms,
            MessageState::Pending { created_at_ms }
            | MessageState::Refused { created_at_ms, .. } => *created_at_ms,
        }))
    });
    Ok(with_last)
}
