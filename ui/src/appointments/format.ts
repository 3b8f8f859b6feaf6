// How appointment times and words read. Times are shown in the machine's
// time zone unless a zone is given (tests pass one, so they do not depend
// on the machine's). Days are `YYYY-MM-DD` keys of a zone's calendar.

import type { Mode, Status } from '../ipc/appointments';

const DAY_MS = 24 * 60 * 60 * 1000;

/** The local calendar day of `ms` in `timeZone` (machine's by default), `YYYY-MM-DD`. */
export function dayKey(ms: number, timeZone?: string): string {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
    .formatToParts(new Date(ms));
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${part('year')}-${part('month')}-${part('day')}`;
}

/** Noon UTC of a day key: a moment that is that date in every zone's formatting with timeZone 'UTC'. */
function keyNoonUtc(key: string): Date {
  const [y, m, d] = key.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d, 12));
}

/** The day key `delta` days after `key` (calendar arithmetic, no zone). */
export function shiftDay(key: string, delta: number): string {
  return new Date(keyNoonUtc(key).getTime() + delta * DAY_MS).toISOString().slice(0, 10);
}

/** A day key as people read it: "Tuesday, 1 December 2026" (in the machine's language). */
export function dayKeyLabel(key: string, locale?: string): string {
  return keyNoonUtc(key).toLocaleDateString(locale, {
    timeZone: 'UTC', weekday: 'long', day: 'numeric', month: 'long', year: 'numeric',
  });
}

/** Time of day, `HH:MM`-like in the machine's language. */
export function timeLabel(ms: number, timeZone?: string, locale?: string): string {
  return new Date(ms).toLocaleTimeString(locale, { timeZone, hour: '2-digit', minute: '2-digit' });
}

/** Date and time: "Tue 1 Dec 2026, 09:30". */
export function dateTimeLabel(ms: number, timeZone?: string, locale?: string): string {
  return new Date(ms).toLocaleString(locale, {
    timeZone, weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit',
  });
}

/** The machine's IANA zone, to say which zone times are shown in. */
export function localZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

const STATUS_LABELS: Record<Status, string> = {
  pending: 'Waiting for confirmation',
  scheduled: 'Confirmed',
  completed: 'Completed',
  cancelled: 'Cancelled',
  rescheduled: 'Moved to another time',
};

export function statusLabel(status: Status): string {
  return STATUS_LABELS[status] ?? status;
}

export function modeLabel(mode: Mode): string {
  return mode === 'video' ? 'Video visit' : 'Chat visit';
}

/** "starts in 5 minutes", "starts in 1 minute", "starts now". */
export function startsIn(minutes: number): string {
  const m = Math.max(0, Math.round(minutes));
  if (m === 0) return 'starts now';
  return `starts in ${m} minute${m === 1 ? '' : 's'}`;
}

/** "1 year of experience", "12 years of experience". */
export function yearsText(years: number): string {
  return `${years} year${years === 1 ? '' : 's'} of experience`;
}
