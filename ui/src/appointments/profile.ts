// The doctor's own profile form: a blank profile to start from, the
// weekly schedule in reading order, and what to fix before saving (the
// server checks again, the time zone too).

import type { ProfileDetails, ScheduleBlock, Weekday } from '../ipc/appointments';

export const WEEKDAYS: { day: Weekday; label: string }[] = [
  { day: 'monday', label: 'Monday' },
  { day: 'tuesday', label: 'Tuesday' },
  { day: 'wednesday', label: 'Wednesday' },
  { day: 'thursday', label: 'Thursday' },
  { day: 'friday', label: 'Friday' },
  { day: 'saturday', label: 'Saturday' },
  { day: 'sunday', label: 'Sunday' },
];

/** The editable part of a profile (the server sends it flattened). */
export function detailsOf(p: ProfileDetails): ProfileDetails {
  const { specialization, qualification, years_of_experience, bio, time_zone, slot_minutes, schedule } = p;
  return { specialization, qualification, years_of_experience, bio, time_zone, slot_minutes, schedule };
}

/** A profile to fill in, in the given zone, with a 30-minute slot. */
export function blankProfile(timeZone: string): ProfileDetails {
  return {
    specialization: '', qualification: '', years_of_experience: 0, bio: '',
    time_zone: timeZone, slot_minutes: 30, schedule: [],
  };
}

const order = (day: Weekday) => WEEKDAYS.findIndex((w) => w.day === day);

/** Blocks by weekday, then start time. */
export function sortSchedule(blocks: ScheduleBlock[]): ScheduleBlock[] {
  return [...blocks].sort((a, b) => order(a.day) - order(b.day) || a.start.localeCompare(b.start));
}

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;
/** A block may end at 24:00, the end of its day (as the server allows). */
const END = /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/;

/** What must change before the profile can be saved; empty when none. */
export function profileProblems(p: ProfileDetails): string[] {
  const problems: string[] = [];
  if (!p.time_zone.trim()) problems.push('Give the time zone of your schedule.');
  if (!Number.isInteger(p.years_of_experience) || p.years_of_experience < 0 || p.years_of_experience > 80) {
    problems.push('Years of experience are from 0 to 80.');
  }
  if (!Number.isInteger(p.slot_minutes) || p.slot_minutes < 5 || p.slot_minutes > 480) {
    problems.push('A slot lasts from 5 to 480 minutes.');
  }
  p.schedule.forEach((b, i) => {
    const name = `${WEEKDAYS[order(b.day)]?.label ?? b.day} block ${i + 1}`;
    if (!HHMM.test(b.start) || !END.test(b.end)) problems.push(`${name}: times are HH:MM.`);
    else if (b.end <= b.start) problems.push(`${name}: the end must be after the start.`);
  });
  return problems;
}
