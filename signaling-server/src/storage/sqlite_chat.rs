//! Chat on SQLite: conversations, messages, read positions, attachments.
//! Plain functions on a connection; [`super::SqliteStore`] runs them in the
//! blocking pool.
//!
//! The ordering and idempotency guarantees are the schema's, not only this
//! code's: `PRIMARY KEY (conversation_id, seq)` and `UNIQUE (id)` on
//! `chat_messages`, written in one immediate transaction that also bumps
//! `conversations.last_seq`.

use super::sqlite::{db_err, parse_id, parse_role};
use super::{AttachmentRow, ConversationRow, NewChatMessage, Page, StoreError, Stored};
use clinicall_protocol::chat::{AttachmentMeta, ChatMessage, ConversationSummary};
use clinicall_protocol::{AttachmentId, ConversationId, MessageId, UserId, UserSummary};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;

fn conversation_id(s: String) -> Result<ConversationId, rusqlite::Error> {
    parse_id(s).map(ConversationId)
}

fn user_id(s: String) -> Result<UserId, rusqlite::Error> {
    parse_id(s).map(UserId)
}

fn seq(v: i64) -> u64 {
    v.max(0) as u64
}

/// SQLite integers are signed; seqs from clients are clamped into range.
fn sql_seq(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) fn open_conversation(
    c: &mut Connection,
    patient: UserId,
    doctor: UserId,
    now_ms: i64,
) -> Result<ConversationId, StoreError> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    tx.execute(
        "INSERT OR IGNORE INTO conversations
             (id, patient_id, doctor_id, created_at, last_activity_at)
         VALUES (?1, ?2, ?3, ?4, ?4)",
        params![
            Uuid::now_v7().to_string(),
            patient.to_string(),
            doctor.to_string(),
            now_ms
        ],
    )
    .map_err(db_err)?;
    let id = tx
        .query_row(
            "SELECT id FROM conversations WHERE patient_id = ?1 AND doctor_id = ?2",
            params![patient.to_string(), doctor.to_string()],
            |row| conversation_id(row.get(0)?),
        )
        .map_err(db_err)?;
    tx.commit().map_err(db_err)?;
    Ok(id)
}

pub(super) fn conversation(
    c: &Connection,
    id: ConversationId,
) -> Result<Option<ConversationRow>, StoreError> {
    c.prepare_cached("SELECT patient_id, doctor_id FROM conversations WHERE id = ?1")
        .map_err(db_err)?
        .query_row([id.to_string()], |row| {
            Ok(ConversationRow {
                id,
                patient: user_id(row.get(0)?)?,
                doctor: user_id(row.get(1)?)?,
            })
        })
        .optional()
        .map_err(db_err)
}

pub(super) fn conversation_summaries(
    c: &mut Connection,
    user: UserId,
    only: Option<ConversationId>,
) -> Result<Vec<ConversationSummary>, StoreError> {
    // `mine`/`theirs` pick the columns of this user and of the other party.
    let mut stmt = c
        .prepare_cached(
            "WITH mine AS (
                 SELECT c.id, c.last_seq, c.last_activity_at,
                        CASE WHEN c.patient_id = ?1 THEN c.patient_read_seq
                             ELSE c.doctor_read_seq END AS read_seq,
                        CASE WHEN c.patient_id = ?1 THEN c.doctor_read_seq
                             ELSE c.patient_read_seq END AS peer_read_seq,
                        CASE WHEN c.patient_id = ?1 THEN c.doctor_id
                             ELSE c.patient_id END AS peer_id
                 FROM conversations c
                 WHERE (c.patient_id = ?1 OR c.doctor_id = ?1)
                   AND (?2 IS NULL OR c.id = ?2)
             )
             SELECT m.id, m.last_seq, m.read_seq, m.peer_read_seq,
                    u.id, u.display_name, u.role,
                    (SELECT COUNT(*) FROM chat_messages x
                     WHERE x.conversation_id = m.id AND x.seq > m.read_seq
                       AND x.sender_id <> ?1) AS unread
             FROM mine m JOIN users u ON u.id = m.peer_id
             ORDER BY m.last_activity_at DESC, m.id",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map(
            params![user.to_string(), only.map(|id| id.to_string())],
            |row| {
                Ok(ConversationSummary {
                    id: conversation_id(row.get(0)?)?,
                    last_seq: seq(row.get(1)?),
                    read_seq: seq(row.get(2)?),
                    peer_read_seq: seq(row.get(3)?),
                    peer: UserSummary {
                        id: user_id(row.get(4)?)?,
                        display_name: row.get(5)?,
                        role: parse_role(row.get(6)?)?,
                    },
                    unread: seq(row.get(7)?),
                })
            },
        )
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}

pub(super) fn store_chat_message(
    c: &mut Connection,
    new: NewChatMessage,
) -> Result<Stored, StoreError> {
    // Immediate: take the write lock first, so the seq read below cannot be
    // raced by another writer (another process on the same file included).
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let Some(parties) = conversation(&tx, new.conversation_id)? else {
        return Err(StoreError::NotFound);
    };
    let Some(peer) = parties.peer_of(new.sender) else {
        return Err(StoreError::NotFound);
    };
    let existing = tx
        .prepare_cached("SELECT conversation_id, sender_id, seq FROM chat_messages WHERE id = ?1")
        .map_err(db_err)?
        .query_row([new.id.to_string()], |row| {
            Ok((
                conversation_id(row.get(0)?)?,
                user_id(row.get(1)?)?,
                seq(row.get(2)?),
            ))
        })
        .optional()
        .map_err(db_err)?;
    if let Some((conv, sender, seq)) = existing {
        if conv != new.conversation_id || sender != new.sender {
            return Err(StoreError::MessageIdTaken);
        }
        let message = message_at(&tx, conv, seq)?.ok_or(StoreError::NotFound)?;
        return Ok(Stored::Duplicate(message));
    }
    let mut attachments = Vec::with_capacity(new.attachments.len());
    for id in &new.attachments {
        match attachment(&tx, *id)? {
            Some(a) if a.conversation_id == new.conversation_id && a.uploader == new.sender => {
                attachments.push(a.meta);
            }
            _ => return Err(StoreError::AttachmentNotUsable(*id)),
        }
    }
    let seq: i64 = tx
        .prepare_cached(
            "UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = ?2
             WHERE id = ?1 RETURNING last_seq",
        )
        .map_err(db_err)?
        .query_row(
            params![new.conversation_id.to_string(), new.now_ms],
            |row| row.get(0),
        )
        .map_err(db_err)?;
    tx.prepare_cached(
        "INSERT INTO chat_messages (conversation_id, seq, id, sender_id, body, sent_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .map_err(db_err)?
    .execute(params![
        new.conversation_id.to_string(),
        seq,
        new.id.to_string(),
        new.sender.to_string(),
        new.body,
        new.now_ms
    ])
    .map_err(db_err)?;
    for (position, id) in new.attachments.iter().enumerate() {
        tx.prepare_cached(
            "INSERT INTO chat_message_attachments (message_id, position, attachment_id)
             VALUES (?1, ?2, ?3)",
        )
        .map_err(db_err)?
        .execute(params![new.id.to_string(), position as i64, id.to_string()])
        .map_err(db_err)?;
    }
    tx.commit().map_err(db_err)?;
    Ok(Stored::New {
        message: ChatMessage {
            conversation_id: new.conversation_id,
            seq: seq.max(0) as u64,
            id: new.id,
            sender: new.sender,
            body: new.body,
            attachments,
            sent_at_ms: new.now_ms,
        },
        peer,
    })
}

const MESSAGE_COLUMNS: &str = "conversation_id, seq, id, sender_id, body, sent_at";

fn message_from_row(row: &rusqlite::Row<'_>) -> Result<ChatMessage, rusqlite::Error> {
    Ok(ChatMessage {
        conversation_id: conversation_id(row.get(0)?)?,
        seq: seq(row.get(1)?),
        id: MessageId(parse_id(row.get(2)?)?),
        sender: user_id(row.get(3)?)?,
        body: row.get(4)?,
        attachments: Vec::new(),
        sent_at_ms: row.get(5)?,
    })
}

fn message_at(
    c: &Connection,
    conversation: ConversationId,
    at: u64,
) -> Result<Option<ChatMessage>, StoreError> {
    let message = c
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE conversation_id = ?1 AND seq = ?2"
        ))
        .map_err(db_err)?
        .query_row(
            params![conversation.to_string(), sql_seq(at)],
            message_from_row,
        )
        .optional()
        .map_err(db_err)?;
    message.map(|m| with_attachments(c, m)).transpose()
}

fn with_attachments(c: &Connection, mut message: ChatMessage) -> Result<ChatMessage, StoreError> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {ATTACHMENT_COLUMNS} FROM chat_message_attachments ma
             JOIN attachments a ON a.id = ma.attachment_id
             WHERE ma.message_id = ?1 ORDER BY ma.position"
        ))
        .map_err(db_err)?;
    let rows = stmt
        .query_map([message.id.to_string()], attachment_from_row)
        .map_err(db_err)?;
    message.attachments = rows
        .map(|r| r.map(|a| a.meta))
        .collect::<Result<_, _>>()
        .map_err(db_err)?;
    Ok(message)
}

pub(super) fn chat_messages(
    c: &mut Connection,
    conversation: ConversationId,
    page: Page,
    limit: u32,
) -> Result<(Vec<ChatMessage>, bool), StoreError> {
    let (condition, order, bound) = match page {
        Page::After(after) => ("seq > ?2", "ASC", sql_seq(after)),
        Page::Before(before) => ("seq < ?2", "DESC", sql_seq(before)),
        Page::Newest => ("seq <= ?2", "DESC", i64::MAX),
    };
    // One more than asked tells whether there are more.
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM chat_messages
             WHERE conversation_id = ?1 AND {condition} ORDER BY seq {order} LIMIT ?3"
        ))
        .map_err(db_err)?;
    let rows = stmt
        .query_map(
            params![conversation.to_string(), bound, i64::from(limit) + 1],
            message_from_row,
        )
        .map_err(db_err)?;
    let mut messages: Vec<ChatMessage> = rows.collect::<Result<_, _>>().map_err(db_err)?;
    let more = messages.len() > limit as usize;
    messages.truncate(limit as usize);
    let messages = messages
        .into_iter()
        .map(|m| with_attachments(c, m))
        .collect::<Result<_, _>>()?;
    Ok((messages, more))
}

pub(super) fn mark_read(
    c: &mut Connection,
    conversation: ConversationId,
    user: UserId,
    up_to_seq: u64,
) -> Result<(u64, bool), StoreError> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let Some(parties) = self::conversation(&tx, conversation)? else {
        return Err(StoreError::NotFound);
    };
    let column = if user == parties.patient {
        "patient_read_seq"
    } else if user == parties.doctor {
        "doctor_read_seq"
    } else {
        return Err(StoreError::NotFound);
    };
    let read = |tx: &Connection| -> Result<i64, StoreError> {
        tx.query_row(
            &format!("SELECT {column} FROM conversations WHERE id = ?1"),
            [conversation.to_string()],
            |row| row.get(0),
        )
        .map_err(db_err)
    };
    let before = read(&tx)?;
    // Never past the newest message, never backwards.
    tx.execute(
        &format!(
            "UPDATE conversations SET {column} = MAX({column}, MIN(?2, last_seq)) WHERE id = ?1"
        ),
        params![conversation.to_string(), sql_seq(up_to_seq)],
    )
    .map_err(db_err)?;
    let after = read(&tx)?;
    tx.commit().map_err(db_err)?;
    Ok((seq(after), after > before))
}

pub(super) fn insert_attachment(c: &mut Connection, a: AttachmentRow) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO attachments
             (id, conversation_id, uploader_id, name, content_type, size, sha256,
              has_thumbnail, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .map_err(db_err)?
    .execute(params![
        a.meta.id.to_string(),
        a.conversation_id.to_string(),
        a.uploader.to_string(),
        a.meta.name,
        a.meta.content_type,
        i64::try_from(a.meta.size).unwrap_or(i64::MAX),
        a.meta.sha256,
        a.meta.has_thumbnail,
        a.created_at_ms
    ])
    .map_err(db_err)?;
    Ok(())
}

const ATTACHMENT_COLUMNS: &str = "a.id, a.name, a.content_type, a.size, a.sha256, \
                                  a.has_thumbnail, a.conversation_id, a.uploader_id, a.created_at";

fn attachment_from_row(row: &rusqlite::Row<'_>) -> Result<AttachmentRow, rusqlite::Error> {
    Ok(AttachmentRow {
        meta: AttachmentMeta {
            id: AttachmentId(parse_id(row.get(0)?)?),
            name: row.get(1)?,
            content_type: row.get(2)?,
            size: seq(row.get(3)?),
            sha256: row.get(4)?,
            has_thumbnail: row.get(5)?,
        },
        conversation_id: conversation_id(row.get(6)?)?,
        uploader: user_id(row.get(7)?)?,
        created_at_ms: row.get(8)?,
    })
}

pub(super) fn attachment(
    c: &Connection,
    id: AttachmentId,
) -> Result<Option<AttachmentRow>, StoreError> {
    c.prepare_cached(&format!(
        "SELECT {ATTACHMENT_COLUMNS} FROM attachments a WHERE a.id = ?1"
    ))
    .map_err(db_err)?
    .query_row([id.to_string()], attachment_from_row)
    .optional()
    .map_err(db_err)
}

#[cfg(test)]
mod tests {
    use super::super::{SqliteStore, Store};
    use super::*;
    use clinicall_protocol::Role;
    use clinicall_protocol::rest::Account;

    async fn pair(store: &SqliteStore) -> (UserId, UserId) {
        let mut ids = Vec::new();
        for (email, role) in [("d@x.test", Role::Doctor), ("p@x.test", Role::Patient)] {
            let account = Account {
                id: UserId::random(),
                email: email.into(),
                display_name: email.into(),
                role,
            };
            ids.push(account.id);
            store.create_user(account, "h".into(), 0).await.unwrap();
        }
        (ids[0], ids[1])
    }

    fn new(conversation_id: ConversationId, sender: UserId, id: MessageId) -> NewChatMessage {
        NewChatMessage {
            conversation_id,
            id,
            sender,
            body: "hi".into(),
            attachments: vec![],
            now_ms: 1,
        }
    }

    #[tokio::test]
    async fn the_schema_itself_refuses_a_second_seq_or_a_reused_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let store = SqliteStore::open(&path).unwrap();
        let (doctor, patient) = pair(&store).await;
        let conv = store.open_conversation(patient, doctor, 0).await.unwrap();
        assert_eq!(
            store.open_conversation(patient, doctor, 5).await.unwrap(),
            conv
        );
        let id = MessageId::random();
        let Stored::New { message, peer } = store
            .store_chat_message(new(conv, patient, id))
            .await
            .unwrap()
        else {
            panic!("expected a new message");
        };
        assert_eq!((message.seq, peer), (1, doctor));
        let again = store
            .store_chat_message(new(conv, patient, id))
            .await
            .unwrap();
        assert_eq!(again, Stored::Duplicate(message));

        // Bypassing the code: the constraints still hold.
        let c = Connection::open(&path).unwrap();
        let insert = |seq: i64, id: MessageId| {
            c.execute(
                "INSERT INTO chat_messages (conversation_id, seq, id, sender_id, body, sent_at)
                 VALUES (?1, ?2, ?3, ?4, 'x', 0)",
                params![conv.to_string(), seq, id.to_string(), patient.to_string()],
            )
        };
        assert!(insert(1, MessageId::random()).is_err(), "seq 1 is taken");
        assert!(insert(2, id).is_err(), "the id is taken");
        assert!(insert(2, MessageId::random()).is_ok());
    }

    #[tokio::test]
    async fn read_marks_are_capped_and_monotonic() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite3")).unwrap();
        let (doctor, patient) = pair(&store).await;
        let conv = store.open_conversation(patient, doctor, 0).await.unwrap();
        for _ in 0..3 {
            store
                .store_chat_message(new(conv, patient, MessageId::random()))
                .await
                .unwrap();
        }
        assert_eq!(store.mark_read(conv, doctor, 2).await.unwrap(), (2, true));
        assert_eq!(store.mark_read(conv, doctor, 1).await.unwrap(), (2, false));
        assert_eq!(store.mark_read(conv, doctor, 99).await.unwrap(), (3, true));
        let stranger = UserId::random();
        assert!(matches!(
            store.mark_read(conv, stranger, 1).await,
            Err(StoreError::NotFound)
        ));
        let summary = store
            .conversation_summaries(patient, Some(conv))
            .await
            .unwrap();
        assert_eq!((summary[0].peer_read_seq, summary[0].unread), (3, 0));
    }
}
