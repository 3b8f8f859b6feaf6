// Appointments for the tests of this folder and of the state reducers.

import type { Appointment, Mode, Status } from '../ipc/appointments';

export const HOUR = 60 * 60 * 1000;

/** A 30-minute appointment at `start_ms` (UTC ms), with the rest filled in. */
export function appointment(id: string, start_ms: number, status: Status = 'scheduled', mode: Mode = 'video'): Appointment {
  return {
    id,
    doctor: { id: 'doc', display_name: 'Dr Ada Lind', role: 'doctor' },
    patient: { id: 'pat', display_name: 'Pat Doe', role: 'patient' },
    start_ms,
    end_ms: start_ms + HOUR / 2,
    mode,
    reason: 'Rash',
    status,
    doctor_comment: null,
    cancelled_by: null,
    rescheduled_from: null,
    rescheduled_to: null,
    notes_updated_at_ms: null,
    rating: null,
    review: null,
    created_at_ms: 0,
    updated_at_ms: 0,
    change: 1,
  };
}
