import { describe, expect, it } from 'vitest';
import { blankProfile, detailsOf, profileProblems, sortSchedule } from './profile';

describe('my profile', () => {
  it('starts blank in the given zone with nothing to fix', () => {
    const p = blankProfile('Europe/Berlin');
    expect(p.time_zone).toBe('Europe/Berlin');
    expect(profileProblems(p)).toEqual([]);
  });

  it('orders the week from Monday, then by start', () => {
    const sorted = sortSchedule([
      { day: 'sunday', start: '09:00', end: '10:00' },
      { day: 'monday', start: '14:00', end: '16:00' },
      { day: 'monday', start: '09:00', end: '12:00' },
    ]);
    expect(sorted.map((b) => `${b.day} ${b.start}`)).toEqual(['monday 09:00', 'monday 14:00', 'sunday 09:00']);
  });

  it('names what to fix', () => {
    const p = {
      ...blankProfile(' '),
      years_of_experience: 81,
      slot_minutes: 3,
      schedule: [
        { day: 'tuesday' as const, start: '12:00', end: '09:00' },
        { day: 'wednesday' as const, start: '9:00', end: '10:00' },
        { day: 'thursday' as const, start: '08:00', end: '08:30' },
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

  it('lets a block run to the end of the day, and no further', () => {
    const day = (end: string) => ({ ...blankProfile('UTC'), schedule: [{ day: 'friday' as const, start: '20:00', end }] });
    expect(profileProblems(day('24:00'))).toEqual([]);
    expect(profileProblems(day('24:30'))).toEqual(['Friday block 1: times are HH:MM.']);
  });

  it('takes the editable details out of a flattened profile', () => {
    const profile = { id: 'd1', display_name: 'Dr Ada', updated_at_ms: 5, ...blankProfile('UTC'), bio: 'Hearts' };
    const details = detailsOf(profile);
    expect(details).toEqual({ ...blankProfile('UTC'), bio: 'Hearts' });
    expect('id' in details).toBe(false);
  });
});
