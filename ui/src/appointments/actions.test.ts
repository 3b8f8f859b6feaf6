import { describe, expect, it } from 'vitest';
import type { Mode, Role, Status } from '../ipc/appointments';
import { allowedActions, ratingProblem } from './actions';

const actions = (role: Role, status: Status, mode: Mode = 'video', rating: number | null = null) =>
  [...allowedActions(role, { status, mode, rating })].sort();

describe('allowed actions', () => {
  it('lets the doctor answer a request, but not complete or reschedule it', () => {
    expect(actions('doctor', 'pending')).toEqual(['confirm', 'read_notes', 'reject']);
  });

  it('lets the doctor run a confirmed video visit', () => {
    expect(actions('doctor', 'scheduled')).toEqual(['admit', 'cancel', 'complete', 'read_notes', 'reschedule', 'write_notes']);
  });

  it('has no waiting room for a chat visit', () => {
    expect(actions('doctor', 'scheduled', 'chat')).not.toContain('admit');
    expect(actions('patient', 'scheduled', 'chat')).toEqual(['cancel']);
  });

  it('lets the doctor only amend the notes of a completed visit', () => {
    expect(actions('doctor', 'completed')).toEqual(['amend_notes', 'read_notes']);
  });

  it('lets the patient cancel until the visit, and join the room of a confirmed video visit', () => {
    expect(actions('patient', 'pending')).toEqual(['cancel']);
    expect(actions('patient', 'scheduled')).toEqual(['cancel', 'join_room']);
  });

  it('lets the patient read notes and rate once after completion', () => {
    expect(actions('patient', 'completed')).toEqual(['rate', 'read_notes']);
    expect(actions('patient', 'completed', 'video', 4)).toEqual(['read_notes']);
  });

  it('offers nothing on a closed visit but the doctor reading notes', () => {
    for (const status of ['cancelled', 'rescheduled'] as const) {
      expect(actions('patient', status)).toEqual([]);
      expect(actions('doctor', status)).toEqual(['read_notes']);
      expect(actions('admin', status)).toEqual([]);
    }
  });
});

describe('rating', () => {
  it('needs 1 to 5 whole stars', () => {
    expect(ratingProblem(null, '')).toMatch(/Choose/);
    expect(ratingProblem(0, '')).not.toBeNull();
    expect(ratingProblem(6, '')).not.toBeNull();
    expect(ratingProblem(2.5, '')).not.toBeNull();
    expect(ratingProblem(1, '')).toBeNull();
    expect(ratingProblem(5, 'Kind and clear.')).toBeNull();
  });

  it('counts the review in bytes, as the server does', () => {
    expect(ratingProblem(5, 'a'.repeat(2000))).toBeNull();
    expect(ratingProblem(5, 'é'.repeat(1001))).toMatch(/too long/);
  });
});
