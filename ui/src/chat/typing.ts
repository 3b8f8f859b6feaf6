// Typing indicators, both ways, as pure functions of time.
//
// Incoming: typing events are best effort and never stored; a peer who
// closes the window mid-sentence sends no "stopped". So a "typing" is
// believed for TYPING_EXPIRY_MS after it arrived, unless renewed.
//
// Outgoing: one "typing" when the person starts, renewed every
// TYPING_RENEW_MS while they keep typing (so the peer's expiry does not
// fire), and one "stopped" after TYPING_IDLE_MS without a key or on send.

export const TYPING_EXPIRY_MS = 6000;
export const TYPING_RENEW_MS = 4000;
export const TYPING_IDLE_MS = 3000;

/** conversation id -> user id -> when their last "typing" arrived. */
export type TypingMap = Record<string, Record<string, number>>;

export function typingUpdate(
  map: TypingMap,
  conversation: string,
  user: string,
  typing: boolean,
  now: number,
): TypingMap {
  const users = { ...(map[conversation] ?? {}) };
  if (typing) users[user] = now;
  else delete users[user];
  return { ...map, [conversation]: users };
}

/** Who is typing in `conversation` as of `now`. */
export function typingUsers(map: TypingMap, conversation: string, now: number): string[] {
  const users = map[conversation] ?? {};
  return Object.keys(users).filter((u) => now - users[u] < TYPING_EXPIRY_MS);
}

/** When the soonest indicator in `conversation` expires, or null. */
export function nextExpiry(map: TypingMap, conversation: string, now: number): number | null {
  const times = Object.values(map[conversation] ?? {})
    .map((t) => t + TYPING_EXPIRY_MS)
    .filter((t) => t > now);
  return times.length ? Math.min(...times) : null;
}

/** The outgoing side's memory: when we last said "typing", if we are. */
export interface OwnTyping {
  sentAt: number | null;
}

/**
 * A key was pressed at `now` (with `empty` true when the box is now
 * empty): whether to send typing on/off, and the new memory.
 */
export function onKey(own: OwnTyping, now: number, empty: boolean): { send: boolean | null; own: OwnTyping } {
  if (empty) return own.sentAt === null ? { send: null, own } : { send: false, own: { sentAt: null } };
  if (own.sentAt === null || now - own.sentAt >= TYPING_RENEW_MS) {
    return { send: true, own: { sentAt: now } };
  }
  return { send: null, own };
}

/** The person stopped (idle, sent, or left the thread). */
export function onStop(own: OwnTyping): { send: boolean | null; own: OwnTyping } {
  return own.sentAt === null ? { send: null, own } : { send: false, own: { sentAt: null } };
}
