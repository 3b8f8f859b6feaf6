//! Chat over the signaling WebSocket: the `chat_*` client messages.
//!
//! Unlike calls, chat needs storage on every message, so these are handled
//! here, between the connection and the hub: authorize and store through
//! [`Store`](crate::storage::Store), then let the hub put the replies and
//! deliveries into the sessions' outboxes (numbered, so a resumed session
//! gets them replayed).
//!
//! Refusals: anything about a conversation the user is not a party to is
//! answered `not_found`, exactly as for one that does not exist, so ids
//! reveal nothing; it is logged (who, what, which conversation).

use crate::state::AppState;
use crate::storage::{NewChatMessage, Page, StoreError, Stored};
use crate::util::now_ms;
use clinicall_protocol::{
    ClientMessage, ConversationId, ErrorCode, Role, ServerMessage, SessionId, UserId, UserSummary,
};

/// Whether the connection should hand `msg` to [`handle`].
pub fn is_chat(msg: &ClientMessage) -> bool {
    matches!(
        msg,
        ClientMessage::ChatOpen { .. }
            | ClientMessage::ChatList
            | ClientMessage::ChatSend { .. }
            | ClientMessage::ChatFetch { .. }
            | ClientMessage::ChatRead { .. }
            | ClientMessage::ChatTyping { .. }
    )
}

/// Why a chat request was refused: the error reply to send.
struct Refusal {
    code: ErrorCode,
    message: String,
}

impl Refusal {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Not a party (or no such conversation): logged, answered `not_found`.
    fn not_a_party(user: UserId, action: &'static str, conversation: ConversationId) -> Self {
        tracing::warn!(
            user = %user,
            action,
            conversation = %conversation,
            "chat access refused: not a party to this conversation (or it does not exist)"
        );
        Self::new(ErrorCode::NotFound, "no such conversation")
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "chat storage failed");
        Self::new(ErrorCode::Internal, "internal error; nothing was changed")
    }
}

/// Handles one validated chat message from `user` on `session`. Replies
/// (and errors) go to that session with the request's `req`.
pub async fn handle(
    state: &AppState,
    session: SessionId,
    user: &UserSummary,
    req: Option<String>,
    msg: ClientMessage,
) {
    let chat = Chat {
        state,
        session,
        user,
    };
    let result = match msg {
        ClientMessage::ChatOpen { peer } => chat.open(req.clone(), peer).await,
        ClientMessage::ChatList => chat.list(req.clone()).await,
        ClientMessage::ChatSend {
            conversation_id,
            id,
            body,
            attachments,
        } => {
            chat.send(
                req.clone(),
                NewChatMessage {
                    conversation_id,
                    id,
                    sender: user.id,
                    body,
                    attachments,
                    now_ms: now_ms(),
                },
            )
            .await
        }
        ClientMessage::ChatFetch {
            conversation_id,
            after_seq,
            before_seq,
            limit,
        } => {
            let page = match (after_seq, before_seq) {
                (Some(after), _) => Page::After(after),
                (None, Some(before)) => Page::Before(before),
                (None, None) => Page::Newest,
            };
            chat.fetch(req.clone(), conversation_id, page, limit).await
        }
        ClientMessage::ChatRead {
            conversation_id,
            up_to_seq,
        } => chat.read(req.clone(), conversation_id, up_to_seq).await,
        ClientMessage::ChatTyping {
            conversation_id,
            typing,
        } => chat.typing(conversation_id, typing).await,
        _ => Err(Refusal::new(ErrorCode::Internal, "not a chat message")),
    };
    if let Err(refusal) = result {
        state.signaling.run(|hub, _| {
            hub.reply_error(session, req, refusal.code, refusal.message, None);
            Vec::new()
        });
    }
}

struct Chat<'a> {
    state: &'a AppState,
    session: SessionId,
    user: &'a UserSummary,
}

impl Chat<'_> {
    fn reply(&self, req: Option<String>, msg: ServerMessage) {
        self.state.signaling.run(|hub, _| {
            hub.reply(self.session, req, msg);
            Vec::new()
        });
    }

    /// The other party of a conversation `self.user` belongs to.
    async fn peer(
        &self,
        action: &'static str,
        conversation: ConversationId,
    ) -> Result<UserId, Refusal> {
        self.state
            .store
            .conversation(conversation)
            .await?
            .and_then(|c| c.peer_of(self.user.id))
            .ok_or_else(|| Refusal::not_a_party(self.user.id, action, conversation))
    }

    async fn open(&self, req: Option<String>, peer: UserId) -> Result<(), Refusal> {
        let contact = self
            .state
            .signaling
            .with_hub(|hub, _| (hub.chat_contact(self.user.id, peer), Vec::new()));
        let pair = match (self.user.role, contact.map(|c| c.role)) {
            (Role::Patient, Some(Role::Doctor)) => Some((self.user.id, peer)),
            (Role::Doctor, Some(Role::Patient)) => Some((peer, self.user.id)),
            _ => None,
        };
        let Some((patient, doctor)) = pair else {
            tracing::warn!(
                user = %self.user.id,
                action = "chat_open",
                peer = %peer,
                "chat access refused: not a contact"
            );
            return Err(Refusal::new(ErrorCode::NotFound, "no such contact"));
        };
        let store = &self.state.store;
        let id = store.open_conversation(patient, doctor, now_ms()).await?;
        let conversation = store
            .conversation_summaries(self.user.id, Some(id))
            .await?
            .pop()
            .ok_or(StoreError::NotFound)?;
        self.reply(req, ServerMessage::ChatConversation { conversation });
        Ok(())
    }

    async fn list(&self, req: Option<String>) -> Result<(), Refusal> {
        let conversations = self
            .state
            .store
            .conversation_summaries(self.user.id, None)
            .await?;
        self.reply(req, ServerMessage::ChatConversations { conversations });
        Ok(())
    }

    async fn send(&self, req: Option<String>, new: NewChatMessage) -> Result<(), Refusal> {
        let conversation = new.conversation_id;
        // Held from storing to delivering, so every device receives a
        // conversation's messages in seq order.
        let _in_order = self.state.signaling.chat_order(conversation).await;
        match self.state.store.store_chat_message(new).await {
            Ok(Stored::New { message, peer }) => {
                metrics::counter!("clinicall_chat_messages_stored_total").increment(1);
                if !message.attachments.is_empty() {
                    metrics::counter!("clinicall_chat_attachments_sent_total")
                        .increment(message.attachments.len() as u64);
                }
                self.state.signaling.run(|hub, _| {
                    hub.chat_stored(self.session, req, message, peer);
                    Vec::new()
                });
                Ok(())
            }
            Ok(Stored::Duplicate(message)) => {
                // Already delivered when first stored; only the sender,
                // whose ack was lost, needs to hear it again.
                self.reply(
                    req,
                    ServerMessage::ChatAck {
                        conversation_id: message.conversation_id,
                        id: message.id,
                        seq: message.seq,
                        sent_at_ms: message.sent_at_ms,
                    },
                );
                Ok(())
            }
            Err(StoreError::NotFound) => Err(Refusal::not_a_party(
                self.user.id,
                "chat_send",
                conversation,
            )),
            Err(StoreError::MessageIdTaken) => Err(Refusal::new(
                ErrorCode::InvalidField,
                "field `id` names another message; use a fresh id",
            )),
            Err(StoreError::AttachmentNotUsable(id)) => {
                tracing::warn!(
                    user = %self.user.id,
                    action = "chat_send",
                    conversation = %conversation,
                    attachment = %id,
                    "chat attachment refused: not uploaded by the sender to this conversation"
                );
                Err(Refusal::new(
                    ErrorCode::NotFound,
                    format!("attachment {id} is not one you uploaded to this conversation"),
                ))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn fetch(
        &self,
        req: Option<String>,
        conversation_id: ConversationId,
        page: Page,
        limit: u32,
    ) -> Result<(), Refusal> {
        self.peer("chat_fetch", conversation_id).await?;
        let (messages, more) = self
            .state
            .store
            .chat_messages(conversation_id, page, limit)
            .await?;
        self.reply(
            req,
            ServerMessage::ChatMessages {
                conversation_id,
                messages,
                more,
            },
        );
        Ok(())
    }

    async fn read(
        &self,
        req: Option<String>,
        conversation_id: ConversationId,
        up_to_seq: u64,
    ) -> Result<(), Refusal> {
        let peer = self.peer("chat_read", conversation_id).await?;
        let (read_seq, moved) = self
            .state
            .store
            .mark_read(conversation_id, self.user.id, up_to_seq)
            .await?;
        let reader = self.user.id;
        if moved {
            self.state.signaling.run(|hub, _| {
                hub.chat_read(self.session, req, conversation_id, reader, peer, read_seq);
                Vec::new()
            });
        } else {
            // Nothing changed: tell only the asker where the mark is.
            self.reply(
                req,
                ServerMessage::ChatRead {
                    conversation_id,
                    reader,
                    up_to_seq: read_seq,
                },
            );
        }
        Ok(())
    }

    async fn typing(&self, conversation_id: ConversationId, typing: bool) -> Result<(), Refusal> {
        let peer = self.peer("chat_typing", conversation_id).await?;
        let user = self.user.id;
        self.state.signaling.run(|hub, _| {
            hub.chat_typing(conversation_id, user, peer, typing);
            Vec::new()
        });
        Ok(())
    }
}
