// The chat beside the video: the same thread as on the chat screen, with
// the person on the call.

import { useEffect, useState } from 'preact/hooks';
import type { Person } from '../ipc/types';
import { asCommandError, commands } from '../ipc/commands';
import type { AppState } from '../state/app';
import { conversationWith } from '../state/chat';
import { OfflineBanner } from './OfflineBanner';
import { ChatThread } from './ChatThread';

interface Props {
  state: AppState;
  peer: Person;
  onTypingExpired: () => void;
}

export function CallChat({ state, peer, onTypingExpired }: Props) {
  const known = conversationWith(state.chat, peer.id)?.id ?? null;
  const [opened, setOpened] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  // First chat with this person: the server starts the conversation.
  useEffect(() => {
    if (known) return;
    commands.chatOpen(peer.id).then(setOpened, (e) => setError(asCommandError(e).message));
  }, [peer.id, known]);
  const id = known ?? opened;
  return (
    <aside id="call-chat" class="call-chat" aria-label={`Chat with ${peer.name}`}>
      <h2>Chat with {peer.name}</h2>
      <OfflineBanner state={state} />
      {error && <p class="error" role="alert">{error}</p>}
      {id ? (
        <ChatThread conversationId={id} peerName={peer.name} chat={state.chat} visible={true}
          onTypingExpired={onTypingExpired} />
      ) : (
        !error && <p role="status">Opening the conversation…</p>
      )}
    </aside>
  );
}
