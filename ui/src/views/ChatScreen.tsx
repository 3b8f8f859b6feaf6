// The chat screen: search, the conversation list (last message, time,
// unread badge) and the open thread; a banner while offline with the
// number of messages waiting to go.

import { listTime } from '../chat/days';
import type { AppState } from '../state/app';
import { lastLine } from '../state/chat';
import { ChatSearch } from './ChatSearch';
import { ChatThread } from './ChatThread';
import { OfflineBanner } from './OfflineBanner';

interface Props {
  state: AppState;
  onOpen: (conversationId: string | null, focusMessage?: string) => void;
  onTypingExpired: () => void;
  onBack: () => void;
}

export function ChatScreen({ state, onOpen, onTypingExpired, onBack }: Props) {
  const { chat } = state;
  const open = chat.conversations.find((c) => c.id === chat.openId) ?? null;
  const now = Date.now();
  return (
    <div class="chat-screen">
      <header class="top-bar">
        <button id="chat-back" onClick={onBack}>← Back</button>
        <h1>Messages</h1>
      </header>
      {chat.unavailable && <p class="notice" role="alert">Chat is not available: {chat.unavailable}</p>}
      <OfflineBanner state={state} />
      <div class="chat-layout">
        <nav class="chat-sidebar" aria-label="Conversations">
          <ChatSearch conversations={chat.conversations} onOpen={(id, message) => onOpen(id, message)} />
          {chat.conversations.length === 0 ? (
            <p class="empty">No conversations yet. Use “Message” on a contact to start one.</p>
          ) : (
            <ul class="conversations">
              {chat.conversations.map((c) => (
                <li key={c.id}>
                  <button type="button" class={`conversation${c.id === chat.openId ? ' open' : ''}`}
                    data-conversation-id={c.id} data-peer-id={c.peer?.id ?? ''}
                    aria-current={c.id === chat.openId ? 'true' : undefined} onClick={() => onOpen(c.id)}>
                    <span class="peer-name">{c.peer?.name ?? 'Unknown'}</span>
                    {c.last_message && <span class="time">{listTime(c.last_message.time_ms, now)}</span>}
                    <span class="last-message">{lastLine(c)}</span>
                    {c.unread > 0 && (
                      <span class="unread-badge" aria-label={`${c.unread} unread`}>{c.unread}</span>
                    )}
                  </button>
                </li>
              ))}
            </ul>
          )}
        </nav>
        <main class="chat-main">
          {chat.openId ? (
            // A conversation just started may not be in the list yet.
            <ChatThread conversationId={chat.openId} peerName={open?.peer?.name ?? 'them'} chat={chat}
              visible={true} onTypingExpired={onTypingExpired} />
          ) : (
            <p class="empty">Choose a conversation.</p>
          )}
        </main>
      </div>
    </div>
  );
}
