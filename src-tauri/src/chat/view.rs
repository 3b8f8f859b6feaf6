//! What the window is shown of the chat cache: serializable mirrors of the
//! cache's types (`ui/src/ipc/chat.ts`), and the pure mappings to them.

use crate::ui_event::Person;
use clinicall_client_core::cache::{
    CachedMessage, ConversationView, MessagePage, MessageState, SearchHit, SnippetPart,
};
use clinicall_protocol::chat::AttachmentMeta;
use clinicall_protocol::{ConversationId, MessageId, UserId};
use serde::Serialize;

/// One message of a thread.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MessageView {
    /// Its id.
    pub id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Who wrote it.
    pub sender: UserId,
    /// Written by the signed-in user (shown on the right, with ticks).
    pub mine: bool,
    /// The text.
    pub body: String,
    /// Files sent with it.
    pub attachments: Vec<AttachmentMeta>,
    /// The server's order; `None` while it waits in the outbox.
    pub seq: Option<u64>,
    /// Server time once sent, this device's time while pending (Unix ms).
    pub time_ms: i64,
    /// Why the server refused it for good (it will not be sent), if it did.
    pub refused: Option<String>,
}

impl MessageView {
    /// `message` as seen by `me`.
    pub fn new(message: CachedMessage, me: UserId) -> Self {
        let (seq, time_ms, refused) = match message.state {
            MessageState::Sent { seq, sent_at_ms } => (Some(seq), sent_at_ms, None),
            MessageState::Pending { created_at_ms } => (None, created_at_ms, None),
            MessageState::Refused {
                created_at_ms,
                reason,
            } => (None, created_at_ms, Some(reason)),
        };
        MessageView {
            id: message.id,
            conversation_id: message.conversation_id,
            sender: message.sender,
            mine: message.sender == me,
            body: message.body,
            attachments: message.attachments,
            seq,
            time_ms,
            refused,
        }
    }
}

/// A conversation in the list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConversationItem {
    /// The conversation.
    pub id: ConversationId,
    /// The other party, once the server's summary is cached.
    pub peer: Option<Person>,
    /// Newest seq known.
    pub last_seq: u64,
    /// Read by the signed-in user up to here.
    pub read_seq: u64,
    /// Read by the other party up to here (two ticks).
    pub peer_read_seq: u64,
    /// Unread messages from the other party (the badge).
    pub unread: u64,
    /// The newest message held.
    pub last_message: Option<MessageView>,
}

impl ConversationItem {
    /// `view` as seen by `me`.
    pub fn new(view: ConversationView, me: UserId) -> Self {
        ConversationItem {
            id: view.id,
            peer: view.peer.map(Person::from),
            last_seq: view.last_seq,
            read_seq: view.read_seq,
            peer_read_seq: view.peer_read_seq,
            unread: view.unread,
            last_message: view.last_message.map(|m| MessageView::new(m, me)),
        }
    }
}

/// The conversation list, newest activity first (the cache's order is by
/// conversation; the window wants the liveliest on top).
pub fn conversation_list(views: Vec<ConversationView>, me: UserId) -> Vec<ConversationItem> {
    let mut items: Vec<ConversationItem> = views
        .into_iter()
        .map(|v| ConversationItem::new(v, me))
        .collect();
    items.sort_by_key(|c| std::cmp::Reverse(c.last_message.as_ref().map_or(0, |m| m.time_ms)));
    items
}

/// The newest messages of a thread.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ThreadView {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Newest first.
    pub messages: Vec<MessageView>,
    /// Older messages exist, held here or still on the server.
    pub has_older: bool,
    /// Read by the other party up to here.
    pub peer_read_seq: u64,
    /// Read by the signed-in user up to here.
    pub read_seq: u64,
}

/// The oldest seq in a newest-first page, if any message in it is sent.
pub fn oldest_seq(page: &MessagePage) -> Option<u64> {
    page.messages.iter().rev().find_map(CachedMessage::seq)
}

/// Whether a thread has messages older than `page`: the cache holds more,
/// or the oldest one held is not the conversation's first (seqs start at
/// 1), or nothing is held yet of a conversation that has messages.
pub fn has_older(page: &MessagePage, last_seq: u64) -> bool {
    if page.older.is_some() {
        return true;
    }
    match oldest_seq(page) {
        Some(seq) => seq > 1,
        None => last_seq > 0,
    }
}

/// Where to fetch older history from the server for a window that wants
/// `limit` messages and has `held`: before the oldest seq held (or after
/// the newest known, when nothing is held); `None` when the cache already
/// has enough or there is nothing older.
pub fn fetch_older_before(held: &ThreadView, limit: usize, last_seq: u64) -> Option<u64> {
    if held.messages.len() >= limit || !held.has_older {
        return None;
    }
    Some(
        held.messages
            .iter()
            .rev()
            .find_map(|m| m.seq)
            .unwrap_or(last_seq + 1),
    )
}

/// `page` of `conversation` as the window shows it.
pub fn thread(
    page: MessagePage,
    conversation: Option<&ConversationView>,
    id: ConversationId,
    me: UserId,
) -> ThreadView {
    let last_seq = conversation.map_or(0, |c| c.last_seq);
    ThreadView {
        conversation_id: id,
        has_older: has_older(&page, last_seq),
        peer_read_seq: conversation.map_or(0, |c| c.peer_read_seq),
        read_seq: conversation.map_or(0, |c| c.read_seq),
        messages: page
            .messages
            .into_iter()
            .map(|m| MessageView::new(m, me))
            .collect(),
    }
}

/// A piece of a search snippet.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SnippetPartView {
    /// Plain text; the window escapes it.
    pub text: String,
    /// A matched term.
    pub highlighted: bool,
}

impl From<SnippetPart> for SnippetPartView {
    fn from(part: SnippetPart) -> Self {
        SnippetPartView {
            text: part.text,
            highlighted: part.highlighted,
        }
    }
}

/// A message that matches a search.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchHitView {
    /// Its conversation (opened on click).
    pub conversation_id: ConversationId,
    /// The message.
    pub message_id: MessageId,
    /// Its seq, `None` while pending.
    pub seq: Option<u64>,
    /// Who wrote it.
    pub sender: UserId,
    /// When.
    pub time_ms: i64,
    /// Words around the matches.
    pub snippet: Vec<SnippetPartView>,
}

impl From<SearchHit> for SearchHitView {
    fn from(hit: SearchHit) -> Self {
        SearchHitView {
            conversation_id: hit.conversation_id,
            message_id: hit.message_id,
            seq: hit.seq,
            sender: hit.sender,
            time_ms: hit.time_ms,
            snippet: hit.snippet.into_iter().map(Into::into).collect(),
        }
    }
}

/// The first hits of a search.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchView {
    /// Newest first.
    pub hits: Vec<SearchHitView>,
    /// More hits exist.
    pub more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(seq: u64, sender: UserId) -> CachedMessage {
        CachedMessage {
            conversation_id: ConversationId::random(),
            id: MessageId::random(),
            sender,
            body: format!("m{seq}"),
            attachments: Vec::new(),
            state: MessageState::Sent {
                seq,
                sent_at_ms: 1000 + seq as i64,
            },
        }
    }

    fn page(seqs: &[u64]) -> MessagePage {
        MessagePage {
            messages: seqs.iter().map(|&s| sent(s, UserId::random())).collect(),
            older: None,
        }
    }

    #[test]
    fn a_thread_has_older_messages_until_its_first_seq_is_held() {
        assert!(has_older(&page(&[9, 8, 7]), 9), "1..6 are on the server");
        assert!(!has_older(&page(&[3, 2, 1]), 3));
        assert!(has_older(&page(&[]), 4), "nothing held yet");
        assert!(!has_older(&page(&[]), 0), "an empty conversation");
    }

    #[test]
    fn older_history_is_fetched_before_the_oldest_held_only_when_short() {
        let me = UserId::random();
        let id = ConversationId::random();
        let held = |seqs: &[u64], last: u64| {
            let page = page(seqs);
            ThreadView {
                has_older: has_older(&page, last),
                ..thread(page, None, id, me)
            }
        };
        assert_eq!(fetch_older_before(&held(&[9, 8, 7], 9), 10, 9), Some(7));
        assert_eq!(
            fetch_older_before(&held(&[9, 8, 7], 9), 3, 9),
            None,
            "enough held"
        );
        assert_eq!(
            fetch_older_before(&held(&[2, 1], 2), 10, 2),
            None,
            "all held"
        );
        assert_eq!(
            fetch_older_before(&held(&[], 5), 10, 5),
            Some(6),
            "none held"
        );
    }

    #[test]
    fn pending_messages_have_no_seq_and_their_local_time() {
        let me = UserId::random();
        let pending = CachedMessage {
            state: MessageState::Pending { created_at_ms: 77 },
            ..sent(1, me)
        };
        let view = MessageView::new(pending, me);
        assert_eq!((view.seq, view.time_ms, view.mine), (None, 77, true));
        let theirs = MessageView::new(sent(4, UserId::random()), me);
        assert_eq!(
            (theirs.seq, theirs.time_ms, theirs.mine),
            (Some(4), 1004, false)
        );
        let only_pending = MessagePage {
            messages: vec![CachedMessage {
                state: MessageState::Pending { created_at_ms: 5 },
                ..sent(1, me)
            }],
            older: None,
        };
        assert_eq!(oldest_seq(&only_pending), None);
    }

    #[test]
    fn the_list_puts_the_newest_activity_first() {
        let me = UserId::random();
        let conversation = |last: Option<u64>| ConversationView {
            id: ConversationId::random(),
            peer: None,
            last_seq: last.unwrap_or(0),
            read_seq: 0,
            peer_read_seq: 0,
            unread: 0,
            last_message: last.map(|s| sent(s, me)),
        };
        let list = conversation_list(
            vec![
                conversation(Some(2)),
                conversation(None),
                conversation(Some(5)),
            ],
            me,
        );
        let order: Vec<u64> = list.iter().map(|c| c.last_seq).collect();
        assert_eq!(order, vec![5, 2, 0]);
    }
}
