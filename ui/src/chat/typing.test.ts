import { describe, expect, it } from 'vitest';
import { TYPING_EXPIRY_MS, TYPING_RENEW_MS, nextExpiry, onKey, onStop, typingUpdate, typingUsers } from './typing';

describe('incoming typing', () => {
  it('shows a typer until they stop', () => {
    let map = typingUpdate({}, 'c', 'u', true, 1000);
    expect(typingUsers(map, 'c', 1500)).toEqual(['u']);
    expect(typingUsers(map, 'other', 1500)).toEqual([]);
    map = typingUpdate(map, 'c', 'u', false, 1600);
    expect(typingUsers(map, 'c', 1600)).toEqual([]);
  });

  it('expires a typer who went silent, unless renewed', () => {
    let map = typingUpdate({}, 'c', 'u', true, 0);
    expect(typingUsers(map, 'c', TYPING_EXPIRY_MS - 1)).toEqual(['u']);
    expect(typingUsers(map, 'c', TYPING_EXPIRY_MS)).toEqual([]);
    map = typingUpdate(map, 'c', 'u', true, 5000);
    expect(typingUsers(map, 'c', TYPING_EXPIRY_MS + 1000)).toEqual(['u']);
    expect(nextExpiry(map, 'c', 5000)).toBe(5000 + TYPING_EXPIRY_MS);
    expect(nextExpiry(map, 'c', 5000 + TYPING_EXPIRY_MS)).toBeNull();
  });
});

describe('outgoing typing', () => {
  it('says typing once, renews it while typing goes on, and stops once', () => {
    let step = onKey({ sentAt: null }, 0, false);
    expect(step.send).toBe(true);
    step = onKey(step.own, 100, false);
    expect(step.send).toBeNull();
    step = onKey(step.own, TYPING_RENEW_MS, false);
    expect(step.send).toBe(true);
    step = onStop(step.own);
    expect(step.send).toBe(false);
    expect(onStop(step.own).send).toBeNull();
  });

  it('stops when the box is emptied, and says nothing for an empty box', () => {
    const typing = onKey({ sentAt: null }, 0, false).own;
    expect(onKey(typing, 10, true).send).toBe(false);
    expect(onKey({ sentAt: null }, 10, true).send).toBeNull();
  });
});
