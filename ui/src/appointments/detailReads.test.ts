import { describe, expect, it } from 'vitest';
import { readsServer } from './detailReads';

describe('detail reads', () => {
  const settled = { id: 'a', asked: 0, refreshing: false };

  it('reads the server on open and for another visit', () => {
    expect(readsServer(null, 'a', 0)).toBe(true);
    expect(readsServer(settled, 'b', 0)).toBe(true);
  });

  it("reads the server after one's own action", () => {
    expect(readsServer(settled, 'a', 1)).toBe(true);
  });

  it('reads the cache on a change once the server read answered', () => {
    expect(readsServer(settled, 'a', 0)).toBe(false);
  });

  it('reads the server again on a change heard while a server read is under way', () => {
    expect(readsServer({ ...settled, refreshing: true }, 'a', 0)).toBe(true);
  });
});
