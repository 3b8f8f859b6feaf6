import { describe, expect, it } from 'vitest';
import type { AppointmentUiEvent } from '../ipc/appointments';
import type { UiEvent } from '../ipc/types';
import { appointment } from '../appointments/testdata';
import { type AppState, initialState, reduce } from './app';
import { type AppointmentsState, initialAppointments, reduceAppointments } from './appointments';

const run = (state: AppointmentsState, ...events: AppointmentUiEvent[]) =>
  events.reduce((s, event) => reduceAppointments(s, { type: 'appointments_event', event }), state);
const pat = { id: 'pat', display_name: 'Pat Doe', role: 'patient' as const };

describe('appointments state', () => {
  it('keeps the list it read and asks for a new read on each change', () => {
    let s = reduceAppointments(initialAppointments, { type: 'appointments_loaded', list: [appointment('a', 0)] });
    expect([s.loaded, s.list.length, s.listVersion]).toEqual([true, 1, 0]);
    s = run(s, { type: 'appointments_changed', ids: ['a', 'b'] }, { type: 'appointments_changed', ids: ['a'] });
    expect(s.listVersion).toBe(2);
    expect(s.versions).toEqual({ a: 2, b: 1 });
    s = run(s, { type: 'appointments_changed', ids: [] });
    expect(s.listVersion).toBe(3);
    expect(s.versions).toEqual({ a: 2, b: 1 });
  });

  it('is offline only while the engine says so, and says why it is unavailable', () => {
    let s = run(initialAppointments, { type: 'appointments_status', online: false });
    expect(s.offline).toBe(true);
    s = run(s, { type: 'appointments_status', online: true }, { type: 'appointments_unavailable', message: 'No keychain' });
    expect([s.offline, s.unavailable]).toEqual([false, 'No keychain']);
    s = reduceAppointments(s, { type: 'appointments_loaded', list: [] });
    expect(s.unavailable).toBeNull();
    s = reduceAppointments(s, { type: 'appointments_load_failed', message: 'Cache locked' });
    expect([s.loaded, s.unavailable]).toEqual([true, 'Cache locked']);
  });

  it('keeps only the patients waiting now', () => {
    let s = run(initialAppointments,
      { type: 'room_waiting', appointment_id: 'a', patient: pat, waiting: true },
      { type: 'room_waiting', appointment_id: 'b', patient: pat, waiting: false },
      { type: 'room_waiting', appointment_id: 'c', patient: { ...pat, id: 'other' }, waiting: true });
    expect(Object.keys(s.waiting).sort()).toEqual(['a', 'c']);
    expect(s.waiting.a).toEqual({ appointment_id: 'a', patient: pat, waiting: true });
    s = run(s, { type: 'room_waiting', appointment_id: 'a', patient: pat, waiting: false });
    expect(Object.keys(s.waiting)).toEqual(['c']);
    s = reduceAppointments(s, { type: 'rooms_left_by', patientId: 'other' });
    expect(s.waiting).toEqual({});
  });

  it('shows a reminder until dismissed', () => {
    let s = run(initialAppointments, { type: 'appointment_reminder', appointment: appointment('a', 0), minutes_before: 10 });
    expect([s.reminder?.appointment.id, s.reminder?.minutesBefore]).toEqual(['a', 10]);
    s = reduceAppointments(s, { type: 'reminder_dismiss' });
    expect(s.reminder).toBeNull();
  });
});

describe('appointments in the window', () => {
  const account = (role: 'patient' | 'doctor') => ({ person: { id: 'pat', name: 'Pat', role }, email: 'p@x' });
  const signedIn = (role: 'patient' | 'doctor' = 'patient') => reduce(initialState, { type: 'signed_in', account: account(role) });
  const event = (s: AppState, e: UiEvent) => reduce(s, { type: 'event', event: e });
  const link: UiEvent = { type: 'open_appointment', appointment_id: 'x' };

  it('opens a deep-linked visit at once when signed in', () => {
    const s = event(signedIn(), link);
    expect([s.screen, s.appointments.openId]).toEqual(['appointment', 'x']);
  });

  it('opens a deep-linked visit that came before sign-in right after it', () => {
    const waiting = event({ ...initialState, screen: 'sign_in' }, link);
    expect(waiting.screen).toBe('sign_in');
    const s = reduce(waiting, { type: 'signed_in', account: account('patient') });
    expect([s.screen, s.appointments.openId]).toEqual(['appointment', 'x']);
    expect(signedIn().screen).toBe('home');
  });

  it('opens a visit or a doctor from the lists', () => {
    let s = reduce(signedIn(), { type: 'show_doctor', doctorId: 'doc' });
    expect([s.screen, s.appointments.doctorId]).toEqual(['doctor', 'doc']);
    s = reduce(s, { type: 'show_appointment', id: 'a' });
    expect([s.screen, s.appointments.openId]).toEqual(['appointment', 'a']);
  });

  it('stops showing the patient as waiting once the doctor rings', () => {
    const ring: UiEvent = {
      type: 'call', phase: 'incoming', outgoing: false, end_reason: null, signaling_ok: true,
      peer: { id: 'doc', name: 'Dr Ada', role: 'doctor' },
    };
    let s = reduce(signedIn(), { type: 'room_self', appointmentId: 'a', waiting: true, patient: pat });
    expect(Object.keys(s.appointments.waiting)).toEqual(['a']);
    s = event(s, ring);
    expect(s.appointments.waiting).toEqual({});
    // A doctor's list of waiting patients is not touched by a call.
    let d = event(signedIn('doctor'), { type: 'room_waiting', appointment_id: 'b', patient: pat, waiting: true });
    d = event(d, ring);
    expect(Object.keys(d.appointments.waiting)).toEqual(['b']);
  });

  it('forgets everything on sign-out', () => {
    let s = event(signedIn(), { type: 'appointments_status', online: false });
    s = event(s, { type: 'signed_out' });
    expect(s.appointments).toEqual(initialAppointments);
  });
});
