import { describe, expect, it } from 'vitest';
import type { CallEvent, ContactView, UiEvent } from '../ipc/types';
import { type AppState, callSurface, endReasonText, formatDuration, inCall, initialState, levelFraction, reduce, statsLines } from './app';

const person = (id: string, name: string) => ({ id, name, role: 'doctor' as const });
const contact = (id: string, name: string, online: boolean): ContactView => ({ person: person(id, name), online });
const call = (phase: CallEvent['phase'], extra: Partial<CallEvent> = {}): UiEvent => ({
  type: 'call', phase, outgoing: true, peer: person('p', 'Pat'), end_reason: null, signaling_ok: true, ...extra,
});
const signedIn: AppState = reduce(initialState, {
  type: 'signed_in', account: { person: person('me', 'Me'), email: 'me@x' },
});
const run = (state: AppState, ...events: UiEvent[]) =>
  events.reduce((s, event) => reduce(s, { type: 'event', event }), state);

describe('contacts and presence', () => {
  it('keeps online contacts first, then by name, as presence changes', () => {
    let s = run(signedIn, { type: 'contacts', contacts: [contact('a', 'Zoe', false), contact('b', 'Adam', false), contact('c', 'Mia', true)] });
    expect(s.contacts.map((c) => c.person.name)).toEqual(['Mia', 'Adam', 'Zoe']);
    s = run(s, { type: 'presence', user_id: 'a', online: true });
    expect(s.contacts.map((c) => c.person.name)).toEqual(['Mia', 'Zoe', 'Adam']);
    s = run(s, { type: 'presence', user_id: 'c', online: false });
    expect(s.contacts.map((c) => [c.person.name, c.online])).toEqual([['Zoe', true], ['Adam', false], ['Mia', false]]);
  });

  it('shows reconnection attempts and clears them when back online', () => {
    let s = run(signedIn, { type: 'connection', state: 'reconnecting', attempt: 3 });
    expect([s.connection, s.reconnectAttempt]).toEqual(['reconnecting', 3]);
    s = run(s, { type: 'connection', state: 'online', attempt: null });
    expect([s.connection, s.reconnectAttempt]).toEqual(['online', null]);
  });
});

describe('call surfaces', () => {
  it('goes from ringing to the call window and keeps it with the end reason', () => {
    let s = run(signedIn, call('outgoing'));
    expect(callSurface(s)).toBe('outgoing');
    s = run(s, call('connecting'), call('connected'));
    expect(callSurface(s)).toBe('call_window');
    s = run(s, call('reconnecting'));
    expect(callSurface(s)).toBe('call_window');
    s = run(s, call('ended', { end_reason: 'hung_up' }));
    expect(callSurface(s)).toBe('call_window');
    expect(s.call?.end_reason).toBe('hung_up');
    s = reduce(s, { type: 'dismiss_call' });
    expect(callSurface(s)).toBe('none');
  });

  it('is in a call from ringing until it ends', () => {
    expect(inCall(signedIn)).toBe(false);
    expect(inCall(run(signedIn, call('outgoing')))).toBe(true);
    expect(inCall(run(signedIn, call('connected')))).toBe(true);
    expect(inCall(run(signedIn, call('connected'), call('ended', { end_reason: 'hung_up' })))).toBe(false);
  });

  it('shows a notice, not the call window, for a call never answered', () => {
    let s = run(signedIn, call('incoming', { outgoing: false }));
    expect(callSurface(s)).toBe('incoming');
    s = run(s, call('ended', { outgoing: false, end_reason: 'cancelled' }));
    expect(callSurface(s)).toBe('ended_notice');
  });

  it('needs no notice for an unanswered call the person ended', () => {
    for (const reason of ['local_reject', 'local_cancel', 'answered_elsewhere']) {
      const s = run(signedIn, call('incoming', { outgoing: false }), call('ended', { end_reason: reason }));
      expect([reason, callSurface(s)]).toEqual([reason, 'none']);
    }
  });

  it('does not dismiss a live call', () => {
    const s = run(signedIn, call('connected'));
    expect(reduce(s, { type: 'dismiss_call' }).call?.phase).toBe('connected');
  });

  it('starts each new call unmuted with the camera on and without old figures', () => {
    let s = run(signedIn, call('outgoing'), call('connected'));
    s = reduce(reduce(s, { type: 'muted', muted: true }), { type: 'camera_off', off: true });
    s = run(s, { type: 'stats', stats: { elapsed_ms: 1, rtt_ms: 1, local_candidate_type: 'host', outbound: { video_kbps: 1, audio_kbps: 1, frames_sent: 1, frame_rate: 30 }, inbound: { video_kbps: 1, audio_kbps: 1, video_jitter_ms: 1 } } });
    expect([s.muted, s.cameraOff, s.stats !== null]).toEqual([true, true, true]);
    s = run(s, call('ended', { end_reason: 'local_hang_up' }), call('incoming', { outgoing: false }));
    expect([s.muted, s.cameraOff, s.stats, s.answered]).toEqual([false, false, null, false]);
  });

  it('ignores stats after the call ended', () => {
    const s = run(signedIn, call('ended'));
    const after = run(s, { type: 'stats', stats: { elapsed_ms: 1, rtt_ms: null, local_candidate_type: null, outbound: { video_kbps: 0, audio_kbps: 0, frames_sent: 0, frame_rate: 0 }, inbound: { video_kbps: 0, audio_kbps: 0, video_jitter_ms: null } } });
    expect(after.stats).toBeNull();
  });

  it('keeps one problem per device, the latest', () => {
    const s = run(signedIn,
      { type: 'device_problem', device: 'camera', message: 'busy' },
      { type: 'device_problem', device: 'microphone', message: 'none' },
      { type: 'device_problem', device: 'camera', message: 'gone' });
    expect(s.problems).toEqual([{ device: 'microphone', message: 'none' }, { device: 'camera', message: 'gone' }]);
  });

  it('returns to sign-in with a notice when signed out elsewhere', () => {
    const s = run(run(signedIn, call('connected')), { type: 'signed_out' });
    expect([s.screen, s.account, s.call]).toEqual(['sign_in', null, null]);
    expect(s.notice).toMatch(/signed out/);
  });
});

describe('texts', () => {
  it('explains end reasons from the right side', () => {
    expect(endReasonText('rejected', true)).toBe('The call was declined.');
    expect(endReasonText('timeout', true)).toBe('No answer.');
    expect(endReasonText('timeout', false)).toBe('Missed call.');
    expect(endReasonText('hung_up', null)).toBe('The other party hung up.');
    expect(endReasonText('something_new', null)).toBe('The call ended.');
  });

  it('formats call time and levels', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(65_400)).toBe('1:05');
    expect(formatDuration(3_725_000)).toBe('1:02:05');
    expect(levelFraction(null)).toBe(0);
    expect(levelFraction(-100)).toBe(0);
    expect(levelFraction(-30)).toBeCloseTo(0.5);
    expect(levelFraction(3)).toBe(1);
  });

  it('summarizes stats, naming a relayed path', () => {
    const lines = statsLines({ elapsed_ms: 5000, rtt_ms: 12.4, local_candidate_type: 'relay', outbound: { video_kbps: 1500, audio_kbps: 32, frames_sent: 150, frame_rate: 30 }, inbound: { video_kbps: 1400, audio_kbps: 31, video_jitter_ms: 2.25, frame_rate: 29.6, frame_width: 1280, frame_height: 720 } });
    expect(lines).toEqual([
      'Receiving 1431 kbit/s, 1280×720 at 30 fps',
      'Sending 1532 kbit/s at 30 fps',
      'Round trip 12 ms',
      'Jitter 2.3 ms',
      'Path: through a relay server',
    ]);
    expect(statsLines(null)).toEqual(['Waiting for figures…']);
  });
});
