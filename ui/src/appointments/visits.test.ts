import { describe, expect, it } from 'vitest';
import type { Visit } from '../ipc/appointments';
import { describeVisit } from './visits';

const names = { doc: 'Dr Ada', pat: 'Pat' };
const visit = (extra: Partial<Visit['call']> = {}, quality: Visit['quality'] = []): Visit => ({
  call: { id: 'c', caller: 'doc', callee: 'pat', rung_at: '2026-12-01T09:00:00Z', ...extra },
  quality,
});

describe('visit records', () => {
  it('starts at the answer and lasts answer to end', () => {
    const v = describeVisit(visit({ answered_at: '2026-12-01T09:00:05Z', ended_at: '2026-12-01T09:12:10Z', duration_ms: 725_000 }), names);
    expect(v.startedMs).toBe(Date.UTC(2026, 11, 1, 9, 0, 5));
    expect(v.duration).toBe('12:05');
  });

  it('has no duration for a call never answered', () => {
    const v = describeVisit(visit({ ended_at: '2026-12-01T09:00:30Z', end_reason: 'timeout' }), names);
    expect(v.startedMs).toBe(Date.UTC(2026, 11, 1, 9));
    expect(v.duration).toBeNull();
  });

  it("tells each party's connection by name", () => {
    const v = describeVisit(visit({}, [
      { user: 'pat', reported_at_ms: 0, quality: 'fair', avg_bitrate_kbps: 812.4, packet_loss_permille: 25, jitter_ms: 18.2, rtt_ms: 95.6 },
      { user: 'stranger', reported_at_ms: 0, quality: 'good', avg_bitrate_kbps: 1, packet_loss_permille: 0, jitter_ms: 1, rtt_ms: 1 },
    ]), names);
    expect(v.quality).toEqual([
      'Pat: fair connection (812 kbit/s, 2.5% lost, jitter 18 ms, round trip 96 ms)',
      'Someone: good connection (1 kbit/s, 0.0% lost, jitter 1 ms, round trip 1 ms)',
    ]);
  });
});
