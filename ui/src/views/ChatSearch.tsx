// Search over the cached history as you type; a hit opens its thread at
// the message. Matched words are marked (chat/snippet.ts).

import { useEffect, useState } from 'preact/hooks';
import { listTime } from '../chat/days';
import { snippetSegments, snippetText } from '../chat/snippet';
import type { ConversationItem, SearchView } from '../ipc/chat';
import { asCommandError, commands } from '../ipc/commands';

const STEP = 20;
/** Wait for a pause in typing before searching. */
const DEBOUNCE_MS = 150;

interface Props {
  conversations: ConversationItem[];
  onOpen: (conversationId: string, messageId: string) => void;
}

export function ChatSearch({ conversations, onOpen }: Props) {
  const [text, setText] = useState('');
  const [limit, setLimit] = useState(STEP);
  const [result, setResult] = useState<SearchView | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (text.trim() === '') { setResult(null); return; }
    let live = true;
    const timer = window.setTimeout(() => {
      commands
        .chatSearch(text, limit)
        .then((r) => { if (live) { setResult(r); setError(null); } })
        .catch((e) => live && setError(asCommandError(e).message));
    }, DEBOUNCE_MS);
    return () => { live = false; window.clearTimeout(timer); };
  }, [text, limit]);

  const peerName = (id: string) => conversations.find((c) => c.id === id)?.peer?.name ?? 'Conversation';
  return (
    <div class="chat-search" role="search">
      <label>
        <span class="visually-hidden">Search messages</span>
        <input id="chat-search" type="search" placeholder="Search messages" value={text}
          onInput={(e) => { setText(e.currentTarget.value); setLimit(STEP); }} />
      </label>
      {error && <p class="error" role="alert">{error}</p>}
      {result && (
        <ul class="search-results" aria-label="Search results">
          {result.hits.length === 0 && <li class="empty">No messages found.</li>}
          {result.hits.map((hit) => (
            <li key={hit.message_id}>
              <button type="button" class="search-hit" data-conversation-id={hit.conversation_id}
                data-message-id={hit.message_id} aria-label={`${peerName(hit.conversation_id)}: ${snippetText(hit.snippet)}`}
                onClick={() => { onOpen(hit.conversation_id, hit.message_id); setText(''); }}>
                <span class="hit-peer">{peerName(hit.conversation_id)}</span>
                <span class="hit-time">{listTime(hit.time_ms, Date.now())}</span>
                <span class="snippet">
                  {snippetSegments(hit.snippet).map((part, i) =>
                    part.highlighted ? <mark key={i}>{part.text}</mark> : <span key={i}>{part.text}</span>)}
                </span>
              </button>
            </li>
          ))}
          {result.more && (
            <li><button type="button" onClick={() => setLimit(limit + STEP)}>More results</button></li>
          )}
        </ul>
      )}
    </div>
  );
}
