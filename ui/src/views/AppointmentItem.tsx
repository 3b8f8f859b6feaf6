// One appointment in a list: who, when, how, and where it stands. The
// whole row opens its detail page; `children` adds row actions.

import type { ComponentChildren } from 'preact';
import type { Appointment, Role } from '../ipc/appointments';
import { dateTimeLabel, modeLabel, statusLabel, timeLabel } from '../appointments/format';

interface Props {
  appointment: Appointment;
  /** Whose name to show: the doctor's to a patient, the patient's to a doctor. */
  viewer: Role;
  /** Only the time of day (in a day view), not the date. */
  timeOnly?: boolean;
  onOpen: (id: string) => void;
  children?: ComponentChildren;
}

export function AppointmentItem({ appointment: a, viewer, timeOnly, onOpen, children }: Props) {
  const other = viewer === 'doctor' ? a.patient.display_name : a.doctor.display_name;
  const when = timeOnly ? `${timeLabel(a.start_ms)}–${timeLabel(a.end_ms)}` : dateTimeLabel(a.start_ms);
  return (
    <li class={`appointment-item status-${a.status}`} data-appointment-id={a.id} data-status={a.status}>
      <button type="button" class="open-appointment" onClick={() => onOpen(a.id)}
        aria-label={`${other}, ${when}, ${modeLabel(a.mode)}, ${statusLabel(a.status)}. Open`}>
        <span class="when">{when}</span>
        <span class="who">{other}</span>
        <span class="mode">{modeLabel(a.mode)}</span>
        <span class={`status-badge ${a.status}`}>{statusLabel(a.status)}</span>
      </button>
      {children}
    </li>
  );
}

/** A list of appointments, or a calm line when there are none. */
export function AppointmentList({ id, items, empty, viewer, timeOnly, onOpen }: {
  id: string;
  items: Appointment[];
  empty: string;
  viewer: Role;
  timeOnly?: boolean;
  onOpen: (id: string) => void;
}) {
  return (
    <ul id={id} class="appointment-list">
      {items.length === 0 && <li class="empty">{empty}</li>}
      {items.map((a) => <AppointmentItem key={a.id} appointment={a} viewer={viewer} timeOnly={timeOnly} onOpen={onOpen} />)}
    </ul>
  );
}
