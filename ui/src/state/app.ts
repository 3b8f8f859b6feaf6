// The window's view logic as a pure reducer: what to show, given what the
// shell said and what the person did. Components render `AppState`; tests
// drive `reduce` directly (app.test.ts).

import type { ChatEvent } from '../ipc/chat';
import type { AccountView, CallEvent, CallStats, ContactView, UiEvent } from '../ipc/types';
import {
  type AppointmentsAction, type AppointmentsState, initialAppointments, isAppointmentEvent, reduceAppointments,
} from './appointments';
import { type ChatAction, type ChatState, initialChat, reduceChat } from './chat';

export type Screen =
  | 'starting' | 'sign_in' | 'home' | 'chat' | 'settings' | 'device_check'
  | 'appointments' | 'directory' | 'doctor' | 'appointment' | 'my_profile';

export interface DeviceProblem {
  device: string;
  message: string;
}

export interface AppState {
  screen: Screen;
  account: AccountView | null;
  connection: 'online' | 'reconnecting' | 'offline';
  reconnectAttempt: number | null;
  contacts: ContactView[];
  /** The current call, or the one that just ended (until dismissed). */
  call: CallEvent | null;
  /** Whether the current call was ever answered (the call window shows). */
  answered: boolean;
  stats: CallStats | null;
  muted: boolean;
  cameraOff: boolean;
  showStats: boolean;
  micLevel: number | null;
  problems: DeviceProblem[];
  notice: string | null;
  chat: ChatState;
  /** The chat side panel of the call window is open. */
  callChat: boolean;
  appointments: AppointmentsState;
}

export const initialState: AppState = {
  screen: 'starting',
  account: null,
  connection: 'offline',
  reconnectAttempt: null,
  contacts: [],
  call: null,
  answered: false,
  stats: null,
  muted: false,
  cameraOff: false,
  showStats: false,
  micLevel: null,
  problems: [],
  notice: null,
  chat: initialChat,
  callChat: false,
  appointments: initialAppointments,
};

export type Action =
  | { type: 'event'; event: UiEvent }
  | { type: 'signed_in'; account: AccountView }
  | { type: 'show_sign_in'; notice?: string }
  | { type: 'navigate'; screen: Screen }
  | { type: 'muted'; muted: boolean }
  | { type: 'camera_off'; off: boolean }
  | { type: 'toggle_stats' }
  | { type: 'dismiss_call' }
  | { type: 'notice'; notice: string | null }
  | { type: 'toggle_call_chat' }
  /** Show one visit's detail page. */
  | { type: 'show_appointment'; id: string }
  /** Show a doctor's page (profile, slots, booking). */
  | { type: 'show_doctor'; doctorId: string }
  | ChatAction
  | AppointmentsAction;

const LIVE_PHASES = new Set(['connecting', 'connected', 'reconnecting']);
const SELF_ENDED = new Set(['local_reject', 'local_cancel', 'answered_elsewhere', 'rejected_elsewhere']);

function sortContacts(contacts: ContactView[]): ContactView[] {
  return [...contacts].sort(
    (a, b) => Number(b.online) - Number(a.online) || a.person.name.localeCompare(b.person.name),
  );
}

/** Chat events go to the chat reducer, which needs the time they came. */
export function isChatEvent(event: UiEvent): event is ChatEvent {
  return event.type.startsWith('chat_');
}

function withAppointments(state: AppState, action: AppointmentsAction): AppState {
  return { ...state, appointments: reduceAppointments(state.appointments, action) };
}

function onEvent(state: AppState, event: UiEvent): AppState {
  if (isChatEvent(event)) return { ...state, chat: reduceChat(state.chat, { type: 'chat_event', event, now: Date.now() }) };
  if (isAppointmentEvent(event)) {
    const next = withAppointments(state, { type: 'appointments_event', event });
    // A deep link shows the visit at once (or right after sign-in).
    return event.type === 'open_appointment' && state.account ? { ...next, screen: 'appointment' } : next;
  }
  switch (event.type) {
    case 'connection':
      return {
        ...state,
        connection: event.state,
        reconnectAttempt: event.state === 'reconnecting' ? event.attempt : null,
      };
    case 'contacts':
      return { ...state, contacts: sortContacts(event.contacts) };
    case 'presence':
      return {
        ...state,
        contacts: sortContacts(
          state.contacts.map((c) => (c.person.id === event.user_id ? { ...c, online: event.online } : c)),
        ),
      };
    case 'call': {
      const fresh = event.phase === 'incoming' || event.phase === 'outgoing';
      const answered = (fresh ? false : state.answered) || LIVE_PHASES.has(event.phase);
      // A new call starts unmuted, with the camera on, and without the
      // previous call's figures or problems.
      const reset = fresh && (state.call === null || state.call.phase === 'ended');
      // An unanswered call the person ended themselves needs no notice.
      if (event.phase === 'ended' && !answered && SELF_ENDED.has(event.end_reason ?? '')) {
        return { ...state, call: null, answered: false };
      }
      // A patient rung from a waiting room was admitted: no longer waiting.
      const me = state.account?.person;
      const admitted = event.phase === 'incoming' && me?.role === 'patient'
        ? withAppointments(state, { type: 'rooms_left_by', patientId: me.id })
        : state;
      return {
        ...admitted,
        call: event,
        answered,
        ...(reset ? { muted: false, cameraOff: false, stats: null, problems: [], callChat: false } : {}),
      };
    }
    case 'stats':
      return state.call && state.call.phase !== 'ended' ? { ...state, stats: event.stats } : state;
    case 'signed_out':
      return { ...initialState, screen: 'sign_in', notice: 'You were signed out. Please sign in again.' };
    case 'mic_level':
      return { ...state, micLevel: event.dbfs };
    case 'device_problem': {
      const others = state.problems.filter((p) => p.device !== event.device);
      return { ...state, problems: [...others, { device: event.device, message: event.message }] };
    }
  }
}

export function reduce(state: AppState, action: Action): AppState {
  switch (action.type) {
    case 'event':
      return onEvent(state, action.event);
    case 'signed_in': {
      // A deep link that came while signed out opens once signed in.
      const screen = state.appointments.openId ? 'appointment' : 'home';
      return { ...state, account: action.account, screen, notice: null };
    }
    case 'show_sign_in':
      return { ...initialState, screen: 'sign_in', notice: action.notice ?? null };
    case 'navigate':
      return { ...state, screen: action.screen, micLevel: null };
    case 'muted':
      return { ...state, muted: action.muted };
    case 'camera_off':
      return { ...state, cameraOff: action.off };
    case 'toggle_stats':
      return { ...state, showStats: !state.showStats };
    case 'dismiss_call':
      return state.call?.phase === 'ended' ? { ...state, call: null, answered: false, stats: null } : state;
    case 'notice':
      return { ...state, notice: action.notice };
    case 'toggle_call_chat':
      return { ...state, callChat: !state.callChat };
    case 'chat_event':
    case 'chat_open':
    case 'chat_typing_expired':
      return { ...state, chat: reduceChat(state.chat, action) };
    case 'show_appointment':
      return { ...state, screen: 'appointment', appointments: { ...state.appointments, openId: action.id } };
    case 'show_doctor':
      return { ...state, screen: 'doctor', appointments: { ...state.appointments, doctorId: action.doctorId } };
    default:
      return withAppointments(state, action);
  }
}

/** A call is under way (ringing or connected), so another cannot start. */
export function inCall(state: AppState): boolean {
  return state.call !== null && state.call.phase !== 'ended';
}

/** Which call surface to show over the current screen. */
export type CallSurface = 'none' | 'incoming' | 'outgoing' | 'call_window' | 'ended_notice';

export function callSurface(state: AppState): CallSurface {
  const call = state.call;
  if (!call) return 'none';
  switch (call.phase) {
    case 'incoming':
      return 'incoming';
    case 'outgoing':
      return 'outgoing';
    case 'connecting':
    case 'connected':
    case 'reconnecting':
      return 'call_window';
    case 'ended':
      return state.answered ? 'call_window' : 'ended_notice';
  }
}

/** What to tell the person about why a call ended. */
export function endReasonText(reason: string | null, outgoing: boolean | null): string {
  switch (reason) {
    case 'hung_up':
      return 'The other party hung up.';
    case 'local_hang_up':
      return 'You ended the call.';
    case 'rejected':
      return outgoing ? 'The call was declined.' : 'Call declined.';
    case 'local_reject':
      return 'You declined the call.';
    case 'cancelled':
      return 'The caller hung up before you answered.';
    case 'local_cancel':
      return 'You cancelled the call.';
    case 'timeout':
    case 'local_ring_timeout':
      return outgoing ? 'No answer.' : 'Missed call.';
    case 'busy':
      return 'They are in another call.';
    case 'unavailable':
      return 'They are not online.';
    case 'answered_elsewhere':
      return 'Answered on another device.';
    case 'rejected_elsewhere':
      return 'Declined on another device.';
    case 'connection_lost':
    case 'local_reconnect_failed':
    case 'local_media_failed':
    case 'local_connect_timeout':
      return 'The connection was lost.';
    case 'server_shutdown':
      return 'The server restarted; please call again.';
    default:
      return 'The call ended.';
  }
}

/** The stats overlay's lines. */
export function statsLines(stats: CallStats | null): string[] {
  if (!stats) return ['Waiting for figures…'];
  const inb = stats.inbound;
  const out = stats.outbound;
  const lines = [
    `Receiving ${Math.round(inb.video_kbps + inb.audio_kbps)} kbit/s` +
      (inb.frame_width ? `, ${inb.frame_width}×${inb.frame_height}` : '') +
      (inb.frame_rate !== undefined ? ` at ${inb.frame_rate.toFixed(0)} fps` : ''),
    `Sending ${Math.round(out.video_kbps + out.audio_kbps)} kbit/s at ${out.frame_rate.toFixed(0)} fps`,
  ];
  if (stats.rtt_ms !== null) lines.push(`Round trip ${stats.rtt_ms.toFixed(0)} ms`);
  if (inb.video_jitter_ms !== null) lines.push(`Jitter ${inb.video_jitter_ms.toFixed(1)} ms`);
  if (stats.local_candidate_type) {
    lines.push(stats.local_candidate_type === 'relay' ? 'Path: through a relay server' : 'Path: direct');
  }
  return lines;
}

/** Call length as m:ss or h:mm:ss. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

/** A level meter's fill, 0..1, from dBFS (-60 dB and below is empty). */
export function levelFraction(dbfs: number | null): number {
  if (dbfs === null) return 0;
  return Math.min(1, Math.max(0, (dbfs + 60) / 60));
}
