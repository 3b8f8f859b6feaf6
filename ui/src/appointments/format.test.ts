import { describe, expect, it } from 'vitest';
import { dayKey, dayKeyLabel, shiftDay, startsIn, statusLabel, timeLabel, yearsText } from './format';

describe('days in a time zone', () => {
  // 2026-03-10 23:30 UTC: still the 10th in London, already the 11th in Tokyo,
  // and the afternoon of the 10th in Los Angeles.
  const ms = Date.UTC(2026, 2, 10, 23, 30);

  it('takes the calendar day of the zone asked for', () => {
    expect(dayKey(ms, 'UTC')).toBe('2026-03-10');
    expect(dayKey(ms, 'Asia/Tokyo')).toBe('2026-03-11');
    expect(dayKey(ms, 'America/Los_Angeles')).toBe('2026-03-10');
  });

  it('shows the time of day in the zone asked for', () => {
    expect(timeLabel(ms, 'UTC', 'en-GB')).toBe('23:30');
    expect(timeLabel(ms, 'Asia/Tokyo', 'en-GB')).toBe('08:30');
  });

  it('steps days across month and year ends, and over a DST change', () => {
    expect(shiftDay('2026-02-28', 1)).toBe('2026-03-01');
    expect(shiftDay('2026-01-01', -1)).toBe('2025-12-31');
    expect(shiftDay('2026-03-29', 1)).toBe('2026-03-30');
    expect(shiftDay('2024-02-28', 1)).toBe('2024-02-29');
  });

  it('labels a day key with its own date, whatever the machine zone', () => {
    expect(dayKeyLabel('2026-12-01', 'en-GB')).toMatch(/^Tuesday,? 1 December 2026$/);
  });
});

describe('words', () => {
  it('says how soon a visit starts', () => {
    expect(startsIn(10)).toBe('starts in 10 minutes');
    expect(startsIn(1)).toBe('starts in 1 minute');
    expect(startsIn(0)).toBe('starts now');
    expect(startsIn(-3)).toBe('starts now');
  });

  it('counts years of experience', () => {
    expect(yearsText(1)).toBe('1 year of experience');
    expect(yearsText(12)).toBe('12 years of experience');
  });

  it('names each status in plain words', () => {
    expect(statusLabel('pending')).toBe('Waiting for confirmation');
    expect(statusLabel('scheduled')).toBe('Confirmed');
  });
});
