// Appointment types the shell sends and receives. The data types mirror
// the protocol's serde shapes (protocol/src/appointments.rs) as the shell
// passes them through; the views and events mirror
// src-tauri/src/appointments/. Keep them in step.

import { invoke } from '@tauri-apps/api/core';

export type Role = 'patient' | 'doctor' | 'admin';
export type Mode = 'video' | 'chat';
export type Status = 'pending' | 'scheduled' | 'completed' | 'cancelled' | 'rescheduled';
export type Weekday = 'monday' | 'tuesday' | 'wednesday' | 'thursday' | 'friday' | 'saturday' | 'sunday';

/** protocol UserSummary. */
export interface UserSummary {
  id: string;
  display_name: string;
  role: Role;
}

/** protocol ScheduleBlock: local wall-clock times "HH:MM" in the doctor's zone. */
export interface ScheduleBlock {
  day: Weekday;
  start: string;
  end: string;
}

export interface ProfileDetails {
  specialization: string;
  qualification: string;
  years_of_experience: number;
  bio: string;
  /** IANA zone, such as "Europe/Berlin". */
  time_zone: string;
  slot_minutes: number;
  schedule: ScheduleBlock[];
}

/** The profile's details are flattened into it (serde `flatten`). */
export interface DoctorProfile extends ProfileDetails {
  id: string;
  display_name: string;
  /** Absent until the doctor wrote a profile. */
  updated_at_ms?: number | null;
}

export interface DoctorPage {
  doctors: DoctorProfile[];
  next_offset: number | null;
}

export interface Slot {
  start_ms: number;
  end_ms: number;
  free: boolean;
}

export interface Appointment {
  id: string;
  doctor: UserSummary;
  patient: UserSummary;
  start_ms: number;
  end_ms: number;
  mode: Mode;
  reason: string;
  status: Status;
  doctor_comment: string | null;
  cancelled_by: string | null;
  rescheduled_from: string | null;
  rescheduled_to: string | null;
  notes_updated_at_ms: number | null;
  rating: number | null;
  review: string | null;
  created_at_ms: number;
  updated_at_ms: number;
  change: number;
}

export interface Amendment {
  author: string;
  text: string;
  at_ms: number;
}

export interface Notes {
  appointment_id: string;
  /** Null until the doctor writes them. */
  text: string | null;
  written_at_ms: number | null;
  /** Final: the visit is completed; only amendments may be added. */
  locked: boolean;
  amendments: Amendment[];
}

export type QualityLevel = 'good' | 'fair' | 'poor';

export interface QualitySummary {
  quality: QualityLevel;
  avg_bitrate_kbps: number;
  packet_loss_permille: number;
  jitter_ms: number;
  rtt_ms: number;
}

/** The summary's fields are flattened into the report (serde `flatten`). */
export interface QualityReport extends QualitySummary {
  user: string;
  reported_at_ms: number;
}

/** protocol rest::CallRecord (times are RFC 3339 strings). */
export interface CallRecord {
  id: string;
  caller: string;
  callee: string;
  appointment_id?: string;
  rung_at: string;
  answered_at?: string;
  ended_at?: string;
  end_reason?: string;
  ended_by?: string;
  duration_ms?: number;
}

export interface Visit {
  call: CallRecord;
  quality: QualityReport[];
}

/**
 * One appointment and what the shell holds about it: the cache first; with
 * `refresh`, the server's notes, visit records and the doctor's profile
 * (each kept for offline reading). `offline` is true when a refresh was
 * asked for but the server could not be reached (what is shown is the cache).
 */
export interface AppointmentDetail {
  appointment: Appointment;
  doctor: DoctorProfile | null;
  /** Null when never fetched (a patient sees notes only after completion). */
  notes: Notes | null;
  visits: Visit[];
  offline: boolean;
}

/** Directory filters; empty strings and nulls are "any". */
export interface DoctorQuery {
  name: string;
  specialization: string;
  /** Has a free slot between these (Unix ms), both or neither. */
  free_from_ms: number | null;
  free_to_ms: number | null;
  offset: number;
  limit: number;
}

/** Who waits in an appointment's waiting room (doctor's side). */
export interface RoomWaiting {
  appointment_id: string;
  patient: UserSummary;
  waiting: boolean;
}

export type AppointmentUiEvent =
  /** Re-read these (or all, with an empty list) from `appointmentsList`. */
  | { type: 'appointments_changed'; ids: string[] }
  /** The appointments engine hears the server, or not. */
  | { type: 'appointments_status'; online: boolean }
  /** The appointments are not available this session (no keychain, say). */
  | { type: 'appointments_unavailable'; message: string }
  /** Waiting-room news (to the doctor); also after `roomJoin`/`roomLeave`. */
  | ({ type: 'room_waiting' } & RoomWaiting)
  /** A visit is about to start (also shown as an OS notification). */
  | { type: 'appointment_reminder'; appointment: Appointment; minutes_before: number }
  /** A `clinicall://appointment/<id>` link was opened: show that visit. */
  | { type: 'open_appointment'; appointment_id: string };

export const appointmentCommands = {
  /** Every cached appointment of the signed-in user, by start time. */
  list: () => invoke<Appointment[]>('appointments_list'),
  detail: (id: string, refresh: boolean) => invoke<AppointmentDetail>('appointment_detail', { id, refresh }),
  searchDoctors: (query: DoctorQuery) => invoke<DoctorPage>('doctors_search', { query }),
  /** The server's copy, or the cached one when offline. */
  doctor: (doctorId: string) => invoke<DoctorProfile>('doctor_profile', { doctorId }),
  slots: (doctorId: string, fromMs: number, toMs: number) =>
    invoke<Slot[]>('doctor_slots', { doctorId, fromMs, toMs }),
  /** The signed-in doctor's own profile, or null when none was written yet. */
  myProfile: () => invoke<DoctorProfile | null>('my_profile'),
  saveMyProfile: (details: ProfileDetails) => invoke<DoctorProfile>('save_my_profile', { details }),
  book: (doctorId: string, startMs: number, mode: Mode, reason: string) =>
    invoke<Appointment>('appointment_book', { doctorId, startMs, mode, reason }),
  confirm: (id: string, comment: string | null) => invoke<Appointment>('appointment_confirm', { id, comment }),
  reject: (id: string, comment: string | null) => invoke<Appointment>('appointment_reject', { id, comment }),
  cancel: (id: string, comment: string | null) => invoke<Appointment>('appointment_cancel', { id, comment }),
  /** Returns the new appointment (the old one becomes `rescheduled`). */
  reschedule: (id: string, startMs: number, comment: string | null) =>
    invoke<Appointment>('appointment_reschedule', { id, startMs, comment }),
  complete: (id: string, notes: string | null) => invoke<Appointment>('appointment_complete', { id, notes }),
  writeNotes: (id: string, text: string) => invoke<Notes>('appointment_write_notes', { id, text }),
  amendNotes: (id: string, text: string) => invoke<Notes>('appointment_amend_notes', { id, text }),
  rate: (id: string, rating: number, review: string | null) =>
    invoke<Appointment>('appointment_rate', { id, rating, review }),
  /** Patient: wait in the visit's room. Doctor: ask who waits (answered by a room_waiting event). */
  roomJoin: (id: string) => invoke<void>('room_join', { id }),
  roomLeave: (id: string) => invoke<void>('room_leave', { id }),
  /** Doctor: admit the waiting patient; the call starts ringing them. */
  roomAdmit: (id: string) => invoke<void>('room_admit', { id }),
  /** The deep link the app was started with, once (then null). */
  takeLaunchLink: () => invoke<string | null>('take_launch_appointment'),
};
