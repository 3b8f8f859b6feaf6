import { describe, expect, it } from 'vitest';
import type { ChatMessageView } from '../ipc/chat';
import { tickFor } from './ticks';

const msg = (mine: boolean, seq: number | null, refused: string | null = null): ChatMessageView => ({
  id: 'm', conversation_id: 'c', sender: 'u', mine, body: '', attachments: [], seq, time_ms: 0, refused,
});

describe('ticks', () => {
  it('gives the peer’s messages none', () => {
    expect(tickFor(msg(false, 3), 10)).toBeNull();
  });
  it('shows a clock while in the outbox', () => {
    expect(tickFor(msg(true, null), 10)).toBe('pending');
  });
  it('warns when the server refused it for good', () => {
    expect(tickFor(msg(true, null, 'too large'), 10)).toBe('refused');
  });
  it('shows one tick until the peer has read that far, then two', () => {
    expect(tickFor(msg(true, 5), 4)).toBe('sent');
    expect(tickFor(msg(true, 5), 5)).toBe('read');
    expect(tickFor(msg(true, 5), 9)).toBe('read');
  });
});
