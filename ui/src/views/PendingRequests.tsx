// Bookings waiting for the doctor's answer, any day: confirm (with an
// optional comment for the patient) or reject, right from the list.

import { useState } from 'preact/hooks';
import { type Appointment, appointmentCommands } from '../ipc/appointments';
import { AppointmentItem } from './AppointmentItem';
import { ErrorText, useCommand } from './useCommand';

export function PendingRequests({ requests, onOpen }: { requests: Appointment[]; onOpen: (id: string) => void }) {
  return (
    <section class="panel" aria-labelledby="requests-title">
      <h2 id="requests-title">Requests {requests.length > 0 && <span class="count">({requests.length})</span>}</h2>
      <ul id="pending-requests" class="appointment-list">
        {requests.length === 0 && <li class="empty">No requests waiting.</li>}
        {requests.map((a) => (
          <AppointmentItem key={a.id} appointment={a} viewer="doctor" onOpen={onOpen}>
            <RequestAnswer appointment={a} />
          </AppointmentItem>
        ))}
      </ul>
    </section>
  );
}

function RequestAnswer({ appointment: a }: { appointment: Appointment }) {
  const [comment, setComment] = useState('');
  const { busy, error, run } = useCommand();
  const note = comment.trim() || null;
  return (
    <div class="request-answer">
      <p class="reason">{a.reason}</p>
      <label>
        Comment for {a.patient.display_name} (optional)
        <input class="request-comment" type="text" maxLength={2000} value={comment}
          onInput={(e) => setComment(e.currentTarget.value)} />
      </label>
      <div class="row-actions">
        <button class="confirm primary" disabled={busy} aria-label={`Confirm the visit of ${a.patient.display_name}`}
          onClick={() => run(() => appointmentCommands.confirm(a.id, note))}>Confirm</button>
        <button class="reject" disabled={busy} aria-label={`Reject the visit of ${a.patient.display_name}`}
          onClick={() => run(() => appointmentCommands.reject(a.id, note))}>Reject</button>
      </div>
      <ErrorText error={error} />
    </div>
  );
}
