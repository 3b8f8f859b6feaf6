// Groups a thread's messages under day separators ("Today", "Yesterday",
// or the date), in reading order (oldest first), in the local time zone.

import type { ChatMessageView } from '../ipc/chat';

export interface DayGroup {
  /** Local date key, `YYYY-MM-DD`. */
  key: string;
  label: string;
  messages: ChatMessageView[];
}

function dayKey(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** "Today", "Yesterday", or the date, relative to `now`. */
export function dayLabel(ms: number, now: number): string {
  const key = dayKey(ms);
  if (key === dayKey(now)) return 'Today';
  const yesterday = new Date(now);
  yesterday.setDate(yesterday.getDate() - 1);
  if (key === dayKey(yesterday.getTime())) return 'Yesterday';
  const d = new Date(ms);
  const sameYear = d.getFullYear() === new Date(now).getFullYear();
  return d.toLocaleDateString(undefined, {
    weekday: sameYear ? 'long' : undefined,
    day: 'numeric',
    month: 'long',
    year: sameYear ? undefined : 'numeric',
  });
}

/**
 * `newestFirst` (as the shell pages them) regrouped oldest first, one
 * group per local day.
 */
export function groupByDay(newestFirst: ChatMessageView[], now: number): DayGroup[] {
  const groups: DayGroup[] = [];
  for (let i = newestFirst.length - 1; i >= 0; i--) {
    const message = newestFirst[i];
    const key = dayKey(message.time_ms);
    const last = groups[groups.length - 1];
    if (last && last.key === key) last.messages.push(message);
    else groups.push({ key, label: dayLabel(message.time_ms, now), messages: [message] });
  }
  return groups;
}

/** A message's time of day, `HH:MM`. */
export function timeOfDay(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/** The conversation list's time: time of day today, else the date. */
export function listTime(ms: number, now: number): string {
  return dayKey(ms) === dayKey(now) ? timeOfDay(ms) : dayLabel(ms, now);
}
