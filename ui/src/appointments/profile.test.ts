import { describe, expect, it } from 'vitest';
import { blankProfile, profileProblems, sortSchedule } from './profile';

describe('my profile', () => {
  it('starts blank in the given zone with nothing to fix', () => {
    const p = blankProfile('Europe/Berlin');
    expect(p.time_zone).toBe('Europe/Berlin');
    expect(profileProblems(p)).toEqual([]);
  });

  it('orders the week from Monday, then by start', () => {
    const sorted = sortSchedule([
      { day: 'sun', start: '09:00', end: '10:00' },
      { day: 'mon', start: '14:00', end: '16:00' },
      { day: 'mon', start: '09:00', end: '12:00' },
    ]);
    expect(sorted.map((b) => `${b.day} ${b.start}`)).toEqual(['mon 09:00', 'mon 14:00', 'sun 09:00']);
  });

  it('names what to fix', () => {
    const p = {
      ...blankProfile(' '),
      years_of_experience: 81,
      slot_minutes: 3,
      schedule: [
        { day: 'tue' as const, start: '12:00', end: '09:00' },
        { day: 'wed' as const, start: '9:00', end: '10:00' },
        { day: 'thu' as const, start: '08:00', end: '08:30' },
      ],
    };
    expect(profileProblems(p)).toEqual([
      'Give the time zone of your schedule.',
      'Years of experience are from 0 to 80.',
      'A slot lasts from 5 to 480 minutes.',
      'Tuesday block 1: the end must be after the start.',
      'Wednesday block 2: times are HH:MM.',
    ]);
  });
});
