// Home's "next visit" line: the soonest upcoming visit, one click away.

import { dateTimeLabel, modeLabel, statusLabel } from '../appointments/format';
import { nextVisit } from '../appointments/lists';
import type { AppState } from '../state/app';

export function NextVisit({ state, onOpen }: { state: AppState; onOpen: (id: string) => void }) {
  const next = nextVisit(state.appointments.list, Date.now());
  if (!next) return null;
  const other = state.account?.person.role === 'doctor' ? next.patient.display_name : next.doctor.display_name;
  return (
    <p id="next-visit" class="next-visit" data-appointment-id={next.id}>
      Next visit: <button class="link" onClick={() => onOpen(next.id)}>
        {other}, {dateTimeLabel(next.start_ms)}
      </button>{' '}({modeLabel(next.mode)}, {statusLabel(next.status).toLowerCase()})
    </p>
  );
}
