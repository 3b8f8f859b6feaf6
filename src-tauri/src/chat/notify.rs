//! Which new messages deserve an OS notification: those that raised a
//! conversation's unread count since the last list. The first list after
//! sign-in is only remembered (what was unread before is not news).

use super::view::ConversationItem;
use clinicall_protocol::ConversationId;
use std::collections::HashMap;

/// Longest message text shown in a notification.
const MAX_PREVIEW_CHARS: usize = 100;

/// A notification to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// Who wrote.
    pub from: String,
    /// What (shortened), or what was sent.
    pub text: String,
}

/// The unread counts of the last list seen.
#[derive(Debug, Default)]
pub struct UnreadWatch {
    seen: Option<HashMap<ConversationId, u64>>,
}

impl UnreadWatch {
    /// The arrivals `items` show since the previous call.
    pub fn update(&mut self, items: &[ConversationItem]) -> Vec<Arrival> {
        let now: HashMap<ConversationId, u64> = items.iter().map(|c| (c.id, c.unread)).collect();
        let Some(before) = self.seen.replace(now) else {
            return Vec::new();
        };
        items
            .iter()
            .filter(|c| c.unread > before.get(&c.id).copied().unwrap_or(0))
            .filter_map(|c| {
                let message = c.last_message.as_ref().filter(|m| !m.mine)?;
                let from = c.peer.as_ref().map_or("Someone", |p| p.name.as_str());
                let text = if message.body.trim().is_empty() {
                    "sent a file".to_owned()
                } else {
                    shorten(message.body.trim())
                };
                Some(Arrival {
                    from: from.to_owned(),
                    text,
                })
            })
            .collect()
    }
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_PREVIEW_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::view::MessageView;
    use crate::ui_event::Person;
    use clinicall_protocol::{MessageId, Role, UserId};

    fn item(id: ConversationId, unread: u64, body: &str, mine: bool) -> ConversationItem {
        ConversationItem {
            id,
            peer: Some(Person {
                id: UserId::random(),
                name: "Pat".into(),
                role: Role::Patient,
            }),
            last_seq: unread,
            read_seq: 0,
            peer_read_seq: 0,
            unread,
            last_message: Some(MessageView {
                id: MessageId::random(),
                conversation_id: id,
                sender: UserId::random(),
                mine,
                body: body.into(),
                attachments: Vec::new(),
                seq: Some(unread),
                time_ms: 0,
                refused: None,
            }),
        }
    }

    #[test]
    fn only_what_arrives_after_the_first_list_is_news() {
        let (a, b) = (ConversationId::random(), ConversationId::random());
        let mut watch = UnreadWatch::default();
        assert!(watch.update(&[item(a, 3, "old", false)]).is_empty());
        let news = watch.update(&[item(a, 4, "  new one ", false), item(b, 0, "x", false)]);
        assert_eq!(
            news,
            vec![Arrival {
                from: "Pat".into(),
                text: "new one".into()
            }]
        );
        assert!(watch.update(&[item(a, 4, "new one", false)]).is_empty());
        assert!(watch.update(&[item(a, 0, "read", false)]).is_empty());
    }

    #[test]
    fn files_and_long_texts_are_summed_up() {
        let a = ConversationId::random();
        let mut watch = UnreadWatch::default();
        watch.update(&[]);
        assert_eq!(
            watch.update(&[item(a, 1, "", false)])[0].text,
            "sent a file"
        );
        let long = "é".repeat(150);
        let text = &watch.update(&[item(a, 2, &long, false)])[0].text;
        assert_eq!(text.chars().count(), MAX_PREVIEW_CHARS + 1);
        assert!(text.ends_with('…'));
    }
}
