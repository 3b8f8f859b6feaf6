import { describe, expect, it } from 'vitest';
import type { ConversationItem } from '../ipc/chat';
import { conversationWith, initialChat, lastLine, reduceChat, totalUnread } from './chat';
import { typingUsers } from '../chat/typing';

const item = (id: string, unread: number, body: string | null, mine = false): ConversationItem => ({
  id,
  peer: { id: `peer-${id}`, name: `Peer ${id}`, role: 'patient' },
  last_seq: 3,
  read_seq: 3 - unread,
  peer_read_seq: 0,
  unread,
  last_message: body === null ? null : {
    id: 'm', conversation_id: id, sender: 's', mine, body, attachments: [], seq: 3, time_ms: 0, refused: null,
  },
});

describe('chat state', () => {
  it('takes the pushed list and sums the unread badges', () => {
    const s = reduceChat(initialChat, {
      type: 'chat_event', now: 0,
      event: { type: 'chat_conversations', conversations: [item('a', 2, 'hi'), item('b', 1, 'yo')] },
    });
    expect(totalUnread(s)).toBe(3);
    expect(conversationWith(s, 'peer-b')?.id).toBe('b');
    expect(conversationWith(s, 'nobody')).toBeUndefined();
  });

  it('bumps a thread’s version on each change, so an open view re-reads it', () => {
    const bump = (s: typeof initialChat) =>
      reduceChat(s, { type: 'chat_event', now: 0, event: { type: 'chat_thread', conversation_id: 'a' } });
    const s = bump(bump(initialChat));
    expect(s.versions).toEqual({ a: 2 });
  });

  it('tracks typing with the time it arrived', () => {
    const s = reduceChat(initialChat, {
      type: 'chat_event', now: 100,
      event: { type: 'chat_typing', conversation_id: 'a', user_id: 'u', typing: true },
    });
    expect(typingUsers(s.typing, 'a', 200)).toEqual(['u']);
  });

  it('keeps the outbox size and the reason chat is off', () => {
    let s = reduceChat(initialChat, { type: 'chat_event', now: 0, event: { type: 'chat_status', online: false, pending: 2 } });
    expect([s.online, s.pending]).toEqual([false, 2]);
    s = reduceChat(s, { type: 'chat_event', now: 0, event: { type: 'chat_unavailable', message: 'no keychain' } });
    expect(s.unavailable).toBe('no keychain');
  });

  it('opens a thread, optionally at a message', () => {
    const s = reduceChat(initialChat, { type: 'chat_open', conversationId: 'a', focusMessage: 'm1' });
    expect([s.openId, s.focusMessage]).toEqual(['a', 'm1']);
  });

  it('sums up the last message for the list', () => {
    expect(lastLine(item('a', 0, 'See you'))).toBe('See you');
    expect(lastLine(item('a', 0, 'Done', true))).toBe('You: Done');
    expect(lastLine(item('a', 0, null))).toBe('No messages yet');
  });
});
