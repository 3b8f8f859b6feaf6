// The chat part of the window's state, as a pure reducer over the shell's
// chat events and the person's choices. Threads and search results are
// read by the views themselves (they are large and asked for on demand);
// this keeps what several views share: the list, which thread is open,
// who is typing, and whether messages are waiting to go.

import type { ChatEvent, ConversationItem } from '../ipc/chat';
import { type TypingMap, typingUpdate } from '../chat/typing';

export interface ChatState {
  /** Why chat cannot work this session, or null. */
  unavailable: string | null;
  conversations: ConversationItem[];
  /** The thread shown on the chat screen. */
  openId: string | null;
  /** A message to bring into view when the thread opens (a search hit). */
  focusMessage: string | null;
  /** conversation id -> bumped on each change, so open views re-read. */
  versions: Record<string, number>;
  typing: TypingMap;
  online: boolean;
  pending: number;
}

export const initialChat: ChatState = {
  unavailable: null,
  conversations: [],
  openId: null,
  focusMessage: null,
  versions: {},
  typing: {},
  online: false,
  pending: 0,
};

export type ChatAction =
  | { type: 'chat_event'; event: ChatEvent; now: number }
  | { type: 'chat_open'; conversationId: string | null; focusMessage?: string | null }
  | { type: 'chat_typing_expired'; now: number };

export function reduceChat(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case 'chat_open':
      return { ...state, openId: action.conversationId, focusMessage: action.focusMessage ?? null };
    case 'chat_typing_expired':
      // Nothing to drop: expiry is computed from the times. A new object
      // makes views re-render at the expiry time.
      return { ...state, typing: { ...state.typing } };
    case 'chat_event':
      return onChatEvent(state, action.event, action.now);
  }
}

function onChatEvent(state: ChatState, event: ChatEvent, now: number): ChatState {
  switch (event.type) {
    case 'chat_conversations':
      return { ...state, conversations: event.conversations, unavailable: null };
    case 'chat_thread': {
      const id = event.conversation_id;
      return { ...state, versions: { ...state.versions, [id]: (state.versions[id] ?? 0) + 1 } };
    }
    case 'chat_typing':
      return { ...state, typing: typingUpdate(state.typing, event.conversation_id, event.user_id, event.typing, now) };
    case 'chat_status':
      return { ...state, online: event.online, pending: event.pending };
    case 'chat_unavailable':
      return { ...state, unavailable: event.message };
  }
}

/** Unread messages in every conversation (the navigation badge). */
export function totalUnread(state: ChatState): number {
  return state.conversations.reduce((sum, c) => sum + c.unread, 0);
}

/** The conversation with `peerId`, if one is known. */
export function conversationWith(state: ChatState, peerId: string): ConversationItem | undefined {
  return state.conversations.find((c) => c.peer?.id === peerId);
}

/** The text of the list's last-message line. */
export function lastLine(item: ConversationItem): string {
  const m = item.last_message;
  if (!m) return 'No messages yet';
  const text = m.body.trim() || (m.attachments.length ? `Attachment: ${m.attachments.map((a) => a.name).join(', ')}` : '');
  return m.mine ? `You: ${text}` : text;
}
