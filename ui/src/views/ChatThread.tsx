// A conversation's thread with its composer: messages grouped under day
// separators, own ones on the right with delivery ticks, the typing
// indicator, and older history on scrolling up. Used by the chat screen
// and, beside the video, by the call window.

import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { groupByDay, timeOfDay } from '../chat/days';
import { TICK_TEXT, tickFor } from '../chat/ticks';
import { nextExpiry, typingUsers } from '../chat/typing';
import type { ChatMessageView, ThreadView } from '../ipc/chat';
import { asCommandError, commands } from '../ipc/commands';
import type { ChatState } from '../state/chat';
import { ChatAttachment } from './ChatAttachment';
import { ChatComposer } from './ChatComposer';

/** Messages read per step back in history. */
export const PAGE = 50;

interface Props {
  conversationId: string;
  peerName: string;
  chat: ChatState;
  /** The thread is on screen: what it shows counts as read. */
  visible: boolean;
  onTypingExpired: () => void;
}

function Message({ message, peerReadSeq, focused }: { message: ChatMessageView; peerReadSeq: number; focused: boolean }) {
  const tick = tickFor(message, peerReadSeq);
  return (
    <li class={`message ${message.mine ? 'mine' : 'theirs'}${focused ? ' focused' : ''}`}
      data-message-id={message.id} data-mine={String(message.mine)} data-tick={tick ?? ''}>
      {message.body && <p class="body">{message.body}</p>}
      {message.attachments.map((a) => <ChatAttachment key={a.id} meta={a} />)}
      {message.refused && <p class="error refused" role="alert">Not sent: {message.refused}</p>}
      <span class="meta">
        <time dateTime={new Date(message.time_ms).toISOString()}>{timeOfDay(message.time_ms)}</time>
        {tick && <span class={`tick ${tick}`} aria-label={TICK_TEXT[tick].label} title={TICK_TEXT[tick].label}>{TICK_TEXT[tick].symbol}</span>}
      </span>
    </li>
  );
}

export function ChatThread({ conversationId, peerName, chat, visible, onTypingExpired }: Props) {
  const [limit, setLimit] = useState(PAGE);
  const [thread, setThread] = useState<ThreadView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const list = useRef<HTMLDivElement>(null);
  /** Scroll height before older messages were added above. */
  const keepFromBottom = useRef<number | null>(null);
  /** The search hit already brought into view. */
  const focused = useRef<string | null>(null);
  const version = chat.versions[conversationId] ?? 0;

  useEffect(() => { setLimit(PAGE); setThread(null); }, [conversationId]);

  useEffect(() => {
    let live = true;
    commands
      .chatThread(conversationId, limit)
      .then((t) => live && setThread(t))
      .catch((e) => live && setError(asCommandError(e).message));
    return () => { live = false; };
  }, [conversationId, limit, version]);

  // What is on screen is read: tell the other party, clear the badge.
  useEffect(() => {
    if (!visible || !thread) return;
    const newest = thread.messages.find((m) => m.seq !== null)?.seq ?? 0;
    if (newest > thread.read_seq) void commands.chatMarkRead(conversationId, newest).catch(() => {});
  }, [visible, thread]);

  // New messages: stay at the bottom. Older ones: keep the view where it was.
  useLayoutEffect(() => {
    const el = list.current;
    if (!el) return;
    if (keepFromBottom.current !== null) {
      el.scrollTop = el.scrollHeight - keepFromBottom.current;
      keepFromBottom.current = null;
    } else if (chat.focusMessage && focused.current !== chat.focusMessage) {
      // A search hit: bring it into view once, then follow new messages.
      const hit = el.querySelector(`[data-message-id="${chat.focusMessage}"]`);
      if (hit) {
        hit.scrollIntoView({ block: 'center' });
        focused.current = chat.focusMessage;
      } else {
        el.scrollTop = el.scrollHeight;
      }
    } else {
      el.scrollTop = el.scrollHeight;
    }
  }, [thread]);

  // Re-render when the soonest typing indicator expires.
  const now = Date.now();
  const expiry = nextExpiry(chat.typing, conversationId, now);
  useEffect(() => {
    if (expiry === null) return;
    const timer = window.setTimeout(onTypingExpired, expiry - Date.now() + 10);
    return () => window.clearTimeout(timer);
  }, [expiry]);
  const typing = typingUsers(chat.typing, conversationId, now).length > 0;

  const loadOlder = async () => {
    if (!thread?.has_older || loadingOlder) return;
    setLoadingOlder(true);
    const el = list.current;
    try {
      const older = await commands.chatLoadOlder(conversationId, limit + PAGE);
      if (el) keepFromBottom.current = el.scrollHeight - el.scrollTop;
      setLimit(limit + PAGE);
      setThread(older);
    } catch (e) {
      setError(asCommandError(e).message);
    } finally {
      setLoadingOlder(false);
    }
  };

  const groups = thread ? groupByDay(thread.messages, now) : [];
  return (
    <section class="thread" id="thread" data-conversation-id={conversationId} aria-label={`Conversation with ${peerName}`}>
      <div class="messages" ref={list} onScroll={(e) => { if (e.currentTarget.scrollTop === 0) void loadOlder(); }}>
        {thread?.has_older && (
          <button id="load-older" type="button" class="load-older" disabled={loadingOlder} onClick={() => void loadOlder()}>
            {loadingOlder ? 'Loading…' : 'Load older messages'}
          </button>
        )}
        {thread && thread.messages.length === 0 && <p class="empty">No messages yet. Say hello.</p>}
        {groups.map((g) => (
          <div class="day" key={g.key}>
            <h3 class="day-separator"><span>{g.label}</span></h3>
            <ul class="message-list">
              {g.messages.map((m) => (
                <Message key={m.id} message={m} peerReadSeq={thread?.peer_read_seq ?? 0} focused={m.id === chat.focusMessage} />
              ))}
            </ul>
          </div>
        ))}
      </div>
      <p id="typing-indicator" class="typing" aria-live="polite">{typing ? `${peerName} is typing…` : ''}</p>
      {error && <p class="error" role="alert">{error}</p>}
      <ChatComposer conversationId={conversationId} />
    </section>
  );
}
