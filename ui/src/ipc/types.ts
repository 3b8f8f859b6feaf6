import type { AppointmentUiEvent } from './appointments';
import type { ChatEvent } from './chat';

// Types the shell sends and receives: mirrors of src-tauri's serde types
// (ui_event.rs, commands.rs, settings.rs). Keep the two in step.

export type Role = 'patient' | 'doctor' | 'admin';

export interface Person {
  id: string;
  name: string;
  role: Role;
}

export interface ContactView {
  person: Person;
  online: boolean;
}

export interface AccountView {
  person: Person;
  email: string;
}

export type CallPhase = 'outgoing' | 'incoming' | 'connecting' | 'connected' | 'reconnecting' | 'ended';

export interface CallStats {
  elapsed_ms: number;
  rtt_ms: number | null;
  local_candidate_type: string | null;
  outbound: { video_kbps: number; audio_kbps: number; frames_sent: number; frame_rate: number };
  inbound: {
    video_kbps: number;
    audio_kbps: number;
    video_jitter_ms: number | null;
    frame_rate?: number;
    frame_width?: number;
    frame_height?: number;
    packets_lost?: number;
  };
}

export type UiEvent =
  | { type: 'connection'; state: 'online' | 'reconnecting'; attempt: number | null }
  | { type: 'contacts'; contacts: ContactView[] }
  | { type: 'presence'; user_id: string; online: boolean }
  | {
      type: 'call';
      phase: CallPhase;
      outgoing: boolean | null;
      peer: Person | null;
      end_reason: string | null;
      signaling_ok: boolean;
    }
  | { type: 'stats'; stats: CallStats }
  | { type: 'signed_out' }
  | { type: 'mic_level'; dbfs: number }
  | { type: 'device_problem'; device: string; message: string }
  | ChatEvent
  | AppointmentUiEvent;

export type CallEvent = Extract<UiEvent, { type: 'call' }>;

export type VideoInput =
  | { kind: 'camera' }
  | { kind: 'named_camera'; name: string }
  | { kind: 'test_pattern' }
  | { kind: 'none' };
export type AudioInput =
  | { kind: 'microphone' }
  | { kind: 'named_microphone'; name: string }
  | { kind: 'tone' }
  | { kind: 'none' };
export type AudioOutput = { kind: 'default' } | { kind: 'named'; name: string } | { kind: 'none' };

export interface Settings {
  server: string;
  remembered_email: string | null;
  video_input: VideoInput;
  audio_input: AudioInput;
  audio_output: AudioOutput;
  notifications: boolean;
}

export interface AppInfo {
  version: string;
  settings: Settings;
  /** A video path forced by the environment (benchmarks, tests). */
  video_mode: DisplayMode | null;
}

export interface DeviceInfo {
  name: string;
  is_default: boolean;
}

export interface DeviceList {
  cameras: DeviceInfo[];
  microphones: DeviceInfo[];
  speakers: DeviceInfo[];
}

/** A failed command, as the shell reports it. */
export interface CommandError {
  code: string;
  message: string;
}

export type DisplayMode = 'encoded' | 'raw';
