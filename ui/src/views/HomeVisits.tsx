// Home's visits box: the next visit, one click away, and the ways to the
// schedule, the directory (patients) and one's profile (doctors).

import { dateTimeLabel, modeLabel, statusLabel } from '../appointments/format';
import { nextVisit } from '../appointments/lists';
import type { AppState } from '../state/app';

interface Props {
  state: AppState;
  onNavigate: (screen: 'appointments' | 'directory' | 'my_profile') => void;
  onOpen: (id: string) => void;
}

export function HomeVisits({ state, onNavigate, onOpen }: Props) {
  const role = state.account?.person.role;
  const next = nextVisit(state.appointments.list, Date.now());
  const other = next && (role === 'doctor' ? next.patient.display_name : next.doctor.display_name);
  return (
    <section class="home-visits" aria-labelledby="home-visits-title">
      <h2 id="home-visits-title">Visits</h2>
      {next ? (
        <p id="next-visit" data-appointment-id={next.id}>
          Next visit: <button class="link" onClick={() => onOpen(next.id)}>{other}, {dateTimeLabel(next.start_ms)}</button>
          {' '}({modeLabel(next.mode)}, {statusLabel(next.status).toLowerCase()})
        </p>
      ) : (
        <p class="empty">No upcoming visits.</p>
      )}
      <div class="row-actions">
        <button id="open-appointments" class="primary" onClick={() => onNavigate('appointments')}>Appointments</button>
        {role === 'patient' && <button id="open-directory" onClick={() => onNavigate('directory')}>Find a doctor</button>}
        {role === 'doctor' && <button id="open-my-profile" onClick={() => onNavigate('my_profile')}>My profile</button>}
      </div>
    </section>
  );
}
