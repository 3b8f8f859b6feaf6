import { describe, expect, it } from 'vitest';
import type { ChatMessageView } from '../ipc/chat';
import { dayLabel, groupByDay, listTime } from './days';

const at = (y: number, m: number, d: number, h = 12) => new Date(y, m - 1, d, h).getTime();
const msg = (id: string, time_ms: number): ChatMessageView => ({
  id, conversation_id: 'c', sender: 'u', mine: false, body: id, attachments: [], seq: 1, time_ms, refused: null,
});

describe('day separators', () => {
  const now = at(2026, 3, 10, 15);

  it('labels today, yesterday, this year and other years', () => {
    expect(dayLabel(at(2026, 3, 10, 0), now)).toBe('Today');
    expect(dayLabel(at(2026, 3, 9, 23), now)).toBe('Yesterday');
    expect(dayLabel(at(2026, 2, 1), now)).not.toMatch(/2026/);
    expect(dayLabel(at(2025, 3, 10), now)).toMatch(/2025/);
  });

  it('knows yesterday across a month boundary', () => {
    expect(dayLabel(at(2026, 2, 28), at(2026, 3, 1))).toBe('Yesterday');
  });

  it('regroups a newest-first page oldest first, one group per day', () => {
    const page = [msg('d', at(2026, 3, 10, 9)), msg('c', at(2026, 3, 10, 8)), msg('b', at(2026, 3, 9, 22)), msg('a', at(2026, 3, 7))];
    const groups = groupByDay(page, now);
    expect(groups.map((g) => g.label.slice(0, 9))).toEqual([dayLabel(at(2026, 3, 7), now).slice(0, 9), 'Yesterday', 'Today']);
    expect(groups.map((g) => g.messages.map((m) => m.id))).toEqual([['a'], ['b'], ['c', 'd']]);
  });

  it('groups nothing into nothing', () => {
    expect(groupByDay([], now)).toEqual([]);
  });

  it('shows a time for today and a day otherwise in the list', () => {
    expect(listTime(at(2026, 3, 10, 9), now)).toMatch(/09|9/);
    expect(listTime(at(2026, 3, 9, 9), now)).toBe('Yesterday');
  });
});
