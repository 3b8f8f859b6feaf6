// Which delivery mark an own message gets: a clock while it waits in the
// outbox, one tick once the server stored it, two once the other party
// has read up to it (their read_seq reaches its seq); a warning when the
// server refused it for good.

import type { ChatMessageView } from '../ipc/chat';

export type Tick = 'pending' | 'sent' | 'read' | 'refused';

export function tickFor(message: ChatMessageView, peerReadSeq: number): Tick | null {
  if (!message.mine) return null;
  if (message.refused !== null) return 'refused';
  if (message.seq === null) return 'pending';
  return message.seq <= peerReadSeq ? 'read' : 'sent';
}

export const TICK_TEXT: Record<Tick, { symbol: string; label: string }> = {
  // Symbols from fonts every desktop has (no emoji font on many Linux boxes).
  pending: { symbol: '◷', label: 'Waiting to send' },
  sent: { symbol: '✓', label: 'Sent' },
  read: { symbol: '✓✓', label: 'Read' },
  refused: { symbol: '⚠', label: 'Not sent' },
};
