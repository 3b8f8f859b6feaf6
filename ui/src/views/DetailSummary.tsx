// The facts of one visit: status, who, when, how, why, the doctor's
// comment, and links to the booking it replaced or that replaced it.

import type { AppointmentDetail, Role } from '../ipc/appointments';
import { dateTimeLabel, modeLabel, statusLabel, timeLabel } from '../appointments/format';

interface Props {
  detail: AppointmentDetail;
  viewer: Role;
  onOpen: (id: string) => void;
}

export function DetailSummary({ detail, viewer, onOpen }: Props) {
  const a = detail.appointment;
  const specialization = detail.doctor?.specialization;
  const cancelledBy = a.cancelled_by == null ? null : a.cancelled_by === a.doctor.id ? 'the doctor' : 'the patient';
  return (
    <section class="card summary" aria-labelledby="appointment-title">
      <h2 id="appointment-title">
        {viewer === 'doctor' ? a.patient.display_name : a.doctor.display_name}, {dateTimeLabel(a.start_ms)}
      </h2>
      <dl>
        <dt>Status</dt>
        <dd id="appointment-status" data-status={a.status} class={`status-badge ${a.status}`}>
          {statusLabel(a.status)}{cancelledBy && a.status === 'cancelled' ? ` by ${cancelledBy}` : ''}
        </dd>
        <dt>Doctor</dt>
        <dd id="appointment-doctor">{a.doctor.display_name}{specialization ? ` (${specialization})` : ''}</dd>
        <dt>Patient</dt><dd id="appointment-patient">{a.patient.display_name}</dd>
        <dt>When</dt><dd id="appointment-time">{dateTimeLabel(a.start_ms)}–{timeLabel(a.end_ms)}</dd>
        <dt>How</dt><dd id="appointment-mode">{modeLabel(a.mode)}</dd>
        <dt>Reason</dt><dd id="appointment-reason" class="text">{a.reason}</dd>
        {a.doctor_comment && <><dt>Doctor’s comment</dt><dd id="appointment-comment" class="text">{a.doctor_comment}</dd></>}
      </dl>
      {a.rescheduled_from && (
        <p>Moved here from another time. <button id="rescheduled-from" class="link" onClick={() => onOpen(a.rescheduled_from!)}>See the earlier booking</button></p>
      )}
      {a.rescheduled_to && (
        <p>This visit was moved to another time. <button id="rescheduled-to" class="link primary-link" onClick={() => onOpen(a.rescheduled_to!)}>See the new time</button></p>
      )}
    </section>
  );
}
