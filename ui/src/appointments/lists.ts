// Which appointments go in which list: the patient's upcoming and past
// visits, the doctor's day, the requests waiting for an answer, and the
// next visit on Home. Pure; `now` and the zone are passed in.

import type { Appointment } from '../ipc/appointments';
import { dayKey } from './format';

const OPEN = new Set(['pending', 'scheduled']);

const byStart = (a: Appointment, b: Appointment) => a.start_ms - b.start_ms || a.id.localeCompare(b.id);

/** Still to come: not ended, and pending or scheduled. */
export function isUpcoming(a: Appointment, now: number): boolean {
  return a.end_ms > now && OPEN.has(a.status);
}

/** Upcoming (soonest first) and past (the rest, newest first). */
export function partition(list: Appointment[], now: number): { upcoming: Appointment[]; past: Appointment[] } {
  const upcoming = list.filter((a) => isUpcoming(a, now)).sort(byStart);
  const past = list.filter((a) => !isUpcoming(a, now)).sort((a, b) => byStart(b, a));
  return { upcoming, past };
}

/** The appointments that start on local day `key`, in time order. */
export function onDay(list: Appointment[], key: string, timeZone?: string): Appointment[] {
  return list.filter((a) => dayKey(a.start_ms, timeZone) === key).sort(byStart);
}

/** Bookings waiting for the doctor's answer, any day, soonest first. */
export function pendingRequests(list: Appointment[]): Appointment[] {
  return list.filter((a) => a.status === 'pending').sort(byStart);
}

/** The next visit to show on Home: the soonest upcoming one, confirmed or not. */
export function nextVisit(list: Appointment[], now: number): Appointment | null {
  return partition(list, now).upcoming[0] ?? null;
}

/** Today's scheduled video visits not yet over: the rooms a doctor looks into. */
export function roomsToWatch(list: Appointment[], now: number, timeZone?: string): Appointment[] {
  const today = dayKey(now, timeZone);
  return onDay(list, today, timeZone).filter((a) => a.status === 'scheduled' && a.mode === 'video' && a.end_ms > now);
}
