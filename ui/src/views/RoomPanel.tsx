// The visit's waiting room. The patient joins it and waits; the doctor
// sees who waits and admits them, which starts the call.

import { useEffect } from 'preact/hooks';
import { type Appointment, type Role, type RoomWaiting, type UserSummary, appointmentCommands } from '../ipc/appointments';
import type { AppointmentAction } from '../appointments/actions';
import { ErrorText, useCommand } from './useCommand';

interface Props {
  appointment: Appointment;
  role: Role;
  actions: Set<AppointmentAction>;
  waiting: RoomWaiting | null;
  inCall: boolean;
  onWaiting: (appointmentId: string, waiting: boolean, patient: UserSummary) => void;
}

export function RoomPanel(props: Props) {
  if (props.actions.has('join_room')) return <PatientRoom {...props} />;
  if (props.actions.has('admit')) return <DoctorRoom {...props} />;
  return null;
}

function PatientRoom({ appointment: a, waiting, inCall, onWaiting }: Props) {
  const { busy, error, run } = useCommand();
  const set = async (enter: boolean) => {
    const done = await run(() => (enter ? appointmentCommands.roomJoin(a.id) : appointmentCommands.roomLeave(a.id)).then(() => true));
    if (done) onWaiting(a.id, enter, a.patient);
  };
  return (
    <section class="card room" aria-labelledby="room-title">
      <h2 id="room-title">Waiting room</h2>
      {waiting ? (
        <>
          <p id="room-waiting-notice" role="status">Waiting for the doctor… {a.doctor.display_name} will let you in.</p>
          <button id="room-leave" disabled={busy} onClick={() => void set(false)}>Leave the waiting room</button>
        </>
      ) : (
        <>
          <p>When it is time, join the waiting room; the doctor lets you in and the call starts.</p>
          <button id="room-join" class="primary" disabled={busy || inCall} onClick={() => void set(true)}>Join waiting room</button>
        </>
      )}
      <ErrorText error={error} />
    </section>
  );
}

function DoctorRoom({ appointment: a, waiting, inCall }: Props) {
  const { busy, error, run } = useCommand();
  // Ask who waits now (answered by a room_waiting event).
  useEffect(() => { appointmentCommands.roomJoin(a.id).catch(() => {}); }, [a.id]);
  return (
    <section class="card room" aria-labelledby="room-title">
      <h2 id="room-title">Waiting room</h2>
      {waiting ? (
        <>
          <p id="room-patient-waiting" role="status">{a.patient.display_name} is waiting.</p>
          <button id="room-admit" class="primary" disabled={busy || inCall}
            onClick={() => run(() => appointmentCommands.roomAdmit(a.id))}>Admit and start the call</button>
        </>
      ) : (
        <p id="room-empty">{a.patient.display_name} is not waiting yet.</p>
      )}
      <ErrorText error={error} />
    </section>
  );
}
