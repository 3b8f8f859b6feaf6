// Shown over chat while the engine cannot reach the server: messages
// still go into the outbox, and the count says how many wait.

import type { AppState } from '../state/app';

export function OfflineBanner({ state }: { state: AppState }) {
  const { chat } = state;
  if (chat.online || chat.unavailable) return null;
  return (
    <p id="chat-offline" class="notice" role="status">
      Offline: messages are kept on this computer
      {chat.pending > 0 ? ` (${chat.pending} waiting to send)` : ''} and go out when the connection is back.
    </p>
  );
}
