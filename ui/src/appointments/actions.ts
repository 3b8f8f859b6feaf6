// What the detail page offers, by role and status. It mirrors the server's
// policy (signaling-server/src/appointments/workflow.rs), which stays the
// judge: a refused action shows the server's message.

import type { Appointment, Role } from '../ipc/appointments';

export type AppointmentAction =
  | 'confirm'
  | 'reject'
  | 'reschedule'
  | 'cancel'
  | 'complete'
  | 'write_notes'
  | 'amend_notes'
  | 'read_notes'
  | 'rate'
  | 'join_room'
  | 'admit';

type Facts = Pick<Appointment, 'status' | 'mode' | 'rating'>;

function doctorActions({ status, mode }: Facts): AppointmentAction[] {
  switch (status) {
    case 'pending':
      return ['confirm', 'reject', 'read_notes'];
    case 'scheduled':
      return ['reschedule', 'cancel', 'complete', 'write_notes', 'read_notes', ...(mode === 'video' ? ['admit' as const] : [])];
    case 'completed':
      return ['amend_notes', 'read_notes'];
    default:
      return ['read_notes'];
  }
}

function patientActions({ status, mode, rating }: Facts): AppointmentAction[] {
  switch (status) {
    case 'pending':
      return ['cancel'];
    case 'scheduled':
      return ['cancel', ...(mode === 'video' ? ['join_room' as const] : [])];
    case 'completed':
      return ['read_notes', ...(rating == null ? ['rate' as const] : [])];
    default:
      return [];
  }
}

/** The actions `role` may take on an appointment in its present state. */
export function allowedActions(role: Role, facts: Facts): Set<AppointmentAction> {
  if (role === 'doctor') return new Set(doctorActions(facts));
  if (role === 'patient') return new Set(patientActions(facts));
  return new Set();
}

/** The server's limit on a review, in bytes (protocol MAX_COMMENT). */
export const MAX_REVIEW_BYTES = 2000;

/** Why this rating cannot be sent, or null when it can. */
export function ratingProblem(rating: number | null, review: string): string | null {
  if (rating === null) return 'Choose from 1 to 5 stars.';
  if (!Number.isInteger(rating) || rating < 1 || rating > 5) return 'A rating is from 1 to 5 stars.';
  if (new TextEncoder().encode(review).length > MAX_REVIEW_BYTES) return 'The review is too long.';
  return null;
}
