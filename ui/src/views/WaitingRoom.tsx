// Patients waiting now in the doctor's rooms (from room_waiting events);
// Admit rings them, and the call window takes over.

import { appointmentCommands } from '../ipc/appointments';
import { timeLabel } from '../appointments/format';
import { type AppState, inCall } from '../state/app';
import { findAppointment } from '../state/appointments';
import { ErrorText, useCommand } from './useCommand';

export function WaitingRoom({ state, onOpen }: { state: AppState; onOpen: (id: string) => void }) {
  const waiting = Object.values(state.appointments.waiting);
  const { busy, error, run } = useCommand();
  return (
    <section class="panel" aria-labelledby="waiting-title">
      <h2 id="waiting-title">Waiting room</h2>
      <ul id="waiting-room" class="waiting-list" aria-live="polite">
        {waiting.length === 0 && <li class="empty">Nobody is waiting.</li>}
        {waiting.map((w) => {
          const a = findAppointment(state.appointments, w.appointment_id);
          return (
            <li key={w.appointment_id} class="waiting-patient" data-appointment-id={w.appointment_id}>
              <button type="button" class="link" onClick={() => onOpen(w.appointment_id)}>
                {w.patient.display_name}{a ? `, visit at ${timeLabel(a.start_ms)}` : ''}
              </button>
              <button class="admit primary" disabled={busy || inCall(state)} aria-label={`Admit ${w.patient.display_name}`}
                onClick={() => run(() => appointmentCommands.roomAdmit(w.appointment_id))}>Admit</button>
            </li>
          );
        })}
      </ul>
      <ErrorText error={error} />
    </section>
  );
}
