// One visit: what it is, what the person may do with it now, its notes,
// rating and call records. Read from the server on open (the cache when
// offline), and again from the cache when the shell says it changed.

import { useRef, useState } from 'preact/hooks';
import { type AppointmentDetail, appointmentCommands } from '../ipc/appointments';
import type { UserSummary } from '../ipc/appointments';
import { allowedActions } from '../appointments/actions';
import { type DetailRead, readsServer } from '../appointments/detailReads';
import { type AppState, inCall } from '../state/app';
import { AppointmentNotices } from './AppointmentNotices';
import { DetailSummary } from './DetailSummary';
import { NotesPanel } from './NotesPanel';
import { RatingPanel } from './RatingPanel';
import { RoomPanel } from './RoomPanel';
import { VisitRecords } from './VisitRecords';
import { WorkflowActions } from './WorkflowActions';
import { ErrorText, useLoad } from './useCommand';

interface Props {
  state: AppState;
  onOpen: (id: string) => void;
  onWaiting: (appointmentId: string, waiting: boolean, patient: UserSummary) => void;
  onBack: () => void;
}

/** The detail, read again on each change (see `readsServer` for where from); the latest read shows. */
function useDetail(id: string, version: number) {
  const [asked, setAsked] = useState(0);
  const last = useRef<DetailRead | null>(null);
  const loaded = useLoad(() => {
    const refresh = readsServer(last.current, id, asked);
    const mine: DetailRead = { id, asked, refreshing: refresh };
    last.current = mine;
    const done = () => { mine.refreshing = false; };
    const read = appointmentCommands.detail(id, refresh);
    read.then(done, done);
    return read;
  }, [id, version, asked]);
  const detail = loaded.data?.appointment.id === id ? loaded.data : null;
  return { detail, error: loaded.error, refresh: () => setAsked((n) => n + 1) };
}

export function AppointmentDetailScreen({ state, onOpen, onWaiting, onBack }: Props) {
  const id = state.appointments.openId ?? '';
  const { detail, error, refresh } = useDetail(id, state.appointments.versions[id] ?? 0);
  return (
    <div class="appointment-screen">
      <header class="top-bar">
        <button id="open-appointments" onClick={onBack}>← Appointments</button>
        <h1>Visit</h1>
      </header>
      <main class="page">
        {/* The detail's own offline line says it better when it applies. */}
        {!detail?.offline && <AppointmentNotices appointments={state.appointments} />}
        <ErrorText error={error} id="appointment-error" />
        {detail ? <DetailBody detail={detail} state={state} onOpen={onOpen} onWaiting={onWaiting} onChanged={refresh} />
          : !error && <p aria-busy="true">Loading…</p>}
      </main>
    </div>
  );
}

function DetailBody({ detail, state, onOpen, onWaiting, onChanged }: Omit<Props, 'onBack'> & {
  detail: AppointmentDetail;
  onChanged: () => void;
}) {
  const a = detail.appointment;
  const role = state.account?.person.role ?? 'patient';
  const actions = allowedActions(role, a);
  const names = { [a.doctor.id]: a.doctor.display_name, [a.patient.id]: a.patient.display_name };
  return (
    <article id="appointment-detail" data-appointment-id={a.id} data-status={a.status} class="detail">
      {detail.offline && <p id="detail-offline" class="notice" role="status">Offline: showing what this computer saved</p>}
      <DetailSummary detail={detail} viewer={role} onOpen={onOpen} />
      <RoomPanel appointment={a} role={role} actions={actions} waiting={state.appointments.waiting[a.id] ?? null}
        inCall={inCall(state)} onWaiting={onWaiting} />
      <WorkflowActions appointment={a} actions={actions} onChanged={onChanged} onOpen={onOpen} />
      <NotesPanel appointment={a} notes={detail.notes} actions={actions} names={names} role={role} onChanged={onChanged} />
      <RatingPanel appointment={a} actions={actions} role={role} onChanged={onChanged} />
      <VisitRecords visits={detail.visits} names={names} />
    </article>
  );
}
