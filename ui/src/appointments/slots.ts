// The slot picker's days: a doctor's slots for the next week, grouped by
// local day, and what the directory's "free between" dates mean.

import type { Slot } from '../ipc/appointments';
import { dayKey } from './format';

export const WEEK_MS = 7 * 24 * 60 * 60 * 1000;

export interface SlotDay {
  /** `YYYY-MM-DD` in the zone shown. */
  key: string;
  slots: Slot[];
}

/** The window the picker asks for: from now to a week from now. */
export function weekAhead(now: number): { fromMs: number; toMs: number } {
  return { fromMs: now, toMs: now + WEEK_MS };
}

/** Slots not yet started, grouped by local day, days and slots in time order. */
export function groupSlots(slots: Slot[], now: number, timeZone?: string): SlotDay[] {
  const days = new Map<string, Slot[]>();
  for (const slot of [...slots].sort((a, b) => a.start_ms - b.start_ms)) {
    if (slot.start_ms <= now) continue;
    const key = dayKey(slot.start_ms, timeZone);
    const day = days.get(key);
    if (day) day.push(slot);
    else days.set(key, [slot]);
  }
  return [...days].map(([key, daySlots]) => ({ key, slots: daySlots }));
}

/** The slots with those starting at `taken` marked not free (known gone before a re-read). */
export function markTaken(slots: Slot[], taken: number[]): Slot[] {
  if (taken.length === 0) return slots;
  const gone = new Set(taken);
  return slots.map((s) => (gone.has(s.start_ms) ? { ...s, free: false } : s));
}

const SLOT_GONE: Record<string, string> = {
  slot_taken: 'Someone just booked that time; pick another.',
  slot_in_past: 'That time has already started; pick another.',
  slot_not_on_schedule: 'That time is no longer on the doctor’s schedule; pick another.',
};

/** What to say when a booking or move failed because the time is gone, or null for other errors. */
export function slotGoneMessage(code: string): string | null {
  return Object.prototype.hasOwnProperty.call(SLOT_GONE, code) ? SLOT_GONE[code] : null;
}

/** How many slots can be booked. */
export function freeCount(days: SlotDay[]): number {
  return days.reduce((n, d) => n + d.slots.filter((s) => s.free).length, 0);
}

/** Local midnight starting a date input's `YYYY-MM-DD`, or null when empty or malformed. */
function startOfDate(value: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return null;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])).getTime();
}

export type FreeRange = { ok: true; fromMs: number | null; toMs: number | null } | { ok: false; message: string };

/**
 * The directory's "free between" dates as a range: from the first date's
 * start to the end of the second (both local), both or neither.
 */
export function freeRange(from: string, to: string): FreeRange {
  if (!from && !to) return { ok: true, fromMs: null, toMs: null };
  const start = startOfDate(from);
  const lastDay = startOfDate(to);
  if (start === null || lastDay === null) return { ok: false, message: 'Give both dates, or neither.' };
  if (lastDay < start) return { ok: false, message: 'The second date must not be before the first.' };
  const end = new Date(lastDay);
  end.setDate(end.getDate() + 1);
  return { ok: true, fromMs: start, toMs: end.getTime() };
}
