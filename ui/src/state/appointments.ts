// The appointments part of the window's state, as a pure reducer over the
// shell's appointment events and the person's choices: the cached list,
// which doctor or visit is open, who waits in which room, the reminder
// banner, and the directory's last search (kept so "Back" returns to it).
// Details are read by the views themselves; `versions` tells them when.

import type { Appointment, AppointmentUiEvent, DoctorProfile, DoctorQuery, RoomWaiting } from '../ipc/appointments';

export interface Reminder {
  appointment: Appointment;
  minutesBefore: number;
}

/** The directory form as typed (dates as the date inputs hold them). */
export interface DirectoryFilters {
  name: string;
  specialization: string;
  freeFrom: string;
  freeTo: string;
}

export interface DirectoryResults {
  filters: DirectoryFilters;
  query: DoctorQuery;
  doctors: DoctorProfile[];
  nextOffset: number | null;
}

export interface AppointmentsState {
  list: Appointment[];
  /** The list was read at least once this session. */
  loaded: boolean;
  /** Bumped when the whole list should be read again. */
  listVersion: number;
  /** appointment id -> bumped on each change, so an open detail re-reads. */
  versions: Record<string, number>;
  /** The appointments engine said it cannot reach the server. */
  offline: boolean;
  unavailable: string | null;
  /** appointment id -> its waiting patient; only those waiting now. */
  waiting: Record<string, RoomWaiting>;
  reminder: Reminder | null;
  openId: string | null;
  doctorId: string | null;
  directory: DirectoryResults | null;
}

export const initialAppointments: AppointmentsState = {
  list: [],
  loaded: false,
  listVersion: 0,
  versions: {},
  offline: false,
  unavailable: null,
  waiting: {},
  reminder: null,
  openId: null,
  doctorId: null,
  directory: null,
};

export type AppointmentsAction =
  | { type: 'appointments_event'; event: AppointmentUiEvent }
  | { type: 'appointments_loaded'; list: Appointment[] }
  | { type: 'appointments_load_failed'; message: string }
  /** This device's patient entered or left a room (the reply may come later). */
  | { type: 'room_self'; appointmentId: string; waiting: boolean; patient: RoomWaiting['patient'] }
  /** A call started: the patient admitted is no longer waiting here. */
  | { type: 'rooms_left_by'; patientId: string }
  | { type: 'reminder_dismiss' }
  | { type: 'directory_results'; results: DirectoryResults };

export function isAppointmentEvent(event: { type: string }): event is AppointmentUiEvent {
  return APPOINTMENT_EVENTS.has(event.type);
}

const APPOINTMENT_EVENTS = new Set([
  'appointments_changed', 'appointments_status', 'appointments_unavailable',
  'room_waiting', 'appointment_reminder', 'open_appointment',
]);

function setWaiting(waiting: Record<string, RoomWaiting>, entry: RoomWaiting): Record<string, RoomWaiting> {
  const { [entry.appointment_id]: _, ...others } = waiting;
  return entry.waiting ? { ...others, [entry.appointment_id]: entry } : others;
}

function onEvent(state: AppointmentsState, event: AppointmentUiEvent): AppointmentsState {
  switch (event.type) {
    case 'appointments_changed': {
      const versions = { ...state.versions };
      for (const id of event.ids) versions[id] = (versions[id] ?? 0) + 1;
      return { ...state, versions, listVersion: state.listVersion + 1 };
    }
    case 'appointments_status':
      return { ...state, offline: !event.online };
    case 'appointments_unavailable':
      return { ...state, unavailable: event.message };
    case 'room_waiting': {
      const { type: _, ...entry } = event;
      return { ...state, waiting: setWaiting(state.waiting, entry) };
    }
    case 'appointment_reminder':
      return { ...state, reminder: { appointment: event.appointment, minutesBefore: event.minutes_before } };
    case 'open_appointment':
      return { ...state, openId: event.appointment_id };
  }
}

export function reduceAppointments(state: AppointmentsState, action: AppointmentsAction): AppointmentsState {
  switch (action.type) {
    case 'appointments_event':
      return onEvent(state, action.event);
    case 'appointments_loaded':
      return { ...state, list: action.list, loaded: true, unavailable: null };
    case 'appointments_load_failed':
      return { ...state, unavailable: action.message };
    case 'room_self':
      return {
        ...state,
        waiting: setWaiting(state.waiting, { appointment_id: action.appointmentId, patient: action.patient, waiting: action.waiting }),
      };
    case 'rooms_left_by':
      return {
        ...state,
        waiting: Object.fromEntries(Object.entries(state.waiting).filter(([, w]) => w.patient.id !== action.patientId)),
      };
    case 'reminder_dismiss':
      return { ...state, reminder: null };
    case 'directory_results':
      return { ...state, directory: action.results };
  }
}

/** The cached appointment with this id, if the list holds it. */
export function findAppointment(state: AppointmentsState, id: string): Appointment | undefined {
  return state.list.find((a) => a.id === id);
}
