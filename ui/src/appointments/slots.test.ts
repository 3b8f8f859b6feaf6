import { describe, expect, it } from 'vitest';
import type { Slot } from '../ipc/appointments';
import { freeCount, freeRange, groupSlots, markTaken, slotGoneMessage, weekAhead } from './slots';

const slot = (iso: string, free = true): Slot => {
  const start_ms = Date.parse(iso);
  return { start_ms, end_ms: start_ms + 30 * 60_000, free };
};

describe('slot days', () => {
  const now = Date.parse('2026-12-01T08:00:00Z');
  const slots = [
    slot('2026-12-02T09:00:00Z'),
    slot('2026-12-01T23:30:00Z', false),
    slot('2026-12-01T09:00:00Z'),
    slot('2026-12-01T07:00:00Z'), // already started
  ];

  it('groups by local day in time order, leaving out started slots', () => {
    const days = groupSlots(slots, now, 'UTC');
    expect(days.map((d) => d.key)).toEqual(['2026-12-01', '2026-12-02']);
    expect(days[0].slots.map((s) => new Date(s.start_ms).toISOString())).toEqual([
      '2026-12-01T09:00:00.000Z', '2026-12-01T23:30:00.000Z',
    ]);
  });

  it('moves a late slot to the next day where the zone says so', () => {
    const days = groupSlots(slots, now, 'Asia/Tokyo');
    expect(days.map((d) => [d.key, d.slots.length])).toEqual([['2026-12-01', 1], ['2026-12-02', 2]]);
  });

  it('counts only free slots as bookable', () => {
    expect(freeCount(groupSlots(slots, now, 'UTC'))).toBe(2);
  });

  it('marks a time known taken as not free, leaving the others', () => {
    const marked = markTaken(slots, [Date.parse('2026-12-02T09:00:00Z')]);
    expect(marked.map((s) => s.free)).toEqual([false, false, true, true]);
    expect(markTaken(slots, [])).toBe(slots);
  });

  it('asks for a week from now', () => {
    expect(weekAhead(now)).toEqual({ fromMs: now, toMs: now + 7 * 24 * 3600_000 });
  });
});

describe('a time that is gone', () => {
  it('says so for the server codes that mean it, and nothing for others', () => {
    expect(slotGoneMessage('slot_taken')).toBe('Someone just booked that time; pick another.');
    expect(slotGoneMessage('slot_in_past')).toMatch(/pick another/);
    expect(slotGoneMessage('forbidden')).toBeNull();
    expect(slotGoneMessage('toString')).toBeNull();
  });
});

describe('free between', () => {
  it('is any time when both dates are empty', () => {
    expect(freeRange('', '')).toEqual({ ok: true, fromMs: null, toMs: null });
  });

  it('runs from the first local midnight to the end of the last day', () => {
    expect(freeRange('2026-12-01', '2026-12-03')).toEqual({
      ok: true,
      fromMs: new Date(2026, 11, 1).getTime(),
      toMs: new Date(2026, 11, 4).getTime(),
    });
  });

  it('covers one whole day when both dates are the same', () => {
    const r = freeRange('2026-12-01', '2026-12-01');
    expect(r.ok && r.toMs !== null && r.fromMs !== null && r.toMs > r.fromMs).toBe(true);
  });

  it('refuses one date alone, or dates in the wrong order', () => {
    expect(freeRange('2026-12-01', '').ok).toBe(false);
    expect(freeRange('', '2026-12-01').ok).toBe(false);
    expect(freeRange('2026-12-03', '2026-12-01')).toEqual({ ok: false, message: 'The second date must not be before the first.' });
  });
});
