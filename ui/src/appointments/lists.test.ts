import { describe, expect, it } from 'vitest';
import { nextVisit, onDay, partition, pendingRequests, roomsToWatch } from './lists';
import { HOUR, appointment } from './testdata';

const now = Date.UTC(2026, 11, 1, 12);
const ids = (list: { id: string }[]) => list.map((a) => a.id);

describe('upcoming and past', () => {
  const list = [
    appointment('later', now + 48 * HOUR),
    appointment('soon-pending', now + 2 * HOUR, 'pending'),
    appointment('running', now - HOUR / 4), // started, not ended
    appointment('ended', now - 2 * HOUR),
    appointment('done-long-ago', now - 72 * HOUR, 'completed'),
    appointment('cancelled-future', now + 3 * HOUR, 'cancelled'),
    appointment('moved-future', now + 4 * HOUR, 'rescheduled'),
  ];

  it('puts open visits not yet ended first, soonest first', () => {
    expect(ids(partition(list, now).upcoming)).toEqual(['running', 'soon-pending', 'later']);
  });

  it('puts the rest, even future cancelled ones, in the past, newest first', () => {
    expect(ids(partition(list, now).past)).toEqual(['moved-future', 'cancelled-future', 'ended', 'done-long-ago']);
  });

  it('names the soonest upcoming visit as the next one', () => {
    expect(nextVisit(list, now)?.id).toBe('running');
    expect(nextVisit([appointment('x', now - 72 * HOUR, 'completed')], now)).toBeNull();
  });
});

describe("the doctor's day", () => {
  // 23:30 UTC on the 1st is the 2nd in Tokyo.
  const late = appointment('late', Date.UTC(2026, 11, 1, 23, 30));
  const morning = appointment('morning', Date.UTC(2026, 11, 1, 9), 'pending');
  const nextDay = appointment('next', Date.UTC(2026, 11, 2, 9));

  it('keeps the day in time order, by the zone', () => {
    expect(ids(onDay([late, nextDay, morning], '2026-12-01', 'UTC'))).toEqual(['morning', 'late']);
    expect(ids(onDay([late, nextDay, morning], '2026-12-02', 'Asia/Tokyo'))).toEqual(['late', 'next']);
  });

  it('lists every pending request, any day, soonest first', () => {
    const far = appointment('far', now + 200 * HOUR, 'pending');
    expect(ids(pendingRequests([far, late, morning, appointment('p2', now + HOUR, 'pending')]))).toEqual(['morning', 'p2', 'far']);
  });

  it("watches the rooms of today's scheduled video visits not yet over", () => {
    const list = [
      appointment('video', now + HOUR),
      appointment('chat', now + HOUR, 'scheduled', 'chat'),
      appointment('pending', now + 2 * HOUR, 'pending'),
      appointment('over', now - 2 * HOUR),
      appointment('tomorrow', now + 24 * HOUR),
    ];
    expect(ids(roomsToWatch(list, now, 'UTC'))).toEqual(['video']);
  });
});
