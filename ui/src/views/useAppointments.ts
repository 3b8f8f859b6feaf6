// Keeps the window's appointment list in step with the shell: read after
// sign-in and again on each change; and opens the visit the app was
// launched for (a clinicall:// link), once.

import { useEffect, useRef } from 'preact/hooks';
import { appointmentCommands } from '../ipc/appointments';
import { asCommandError } from '../ipc/commands';
import type { Action, AppState } from '../state/app';

export function useAppointments(state: AppState, dispatch: (action: Action) => void) {
  const accountId = state.account?.person.id ?? null;
  const reads = useRef(0);
  useEffect(() => {
    if (!accountId) return;
    // Only the latest read counts when several overlap.
    const read = ++reads.current;
    appointmentCommands.list().then(
      (list) => read === reads.current && dispatch({ type: 'appointments_loaded', list }),
      (e) => read === reads.current && dispatch({ type: 'appointments_load_failed', message: asCommandError(e).message }),
    );
  }, [accountId, state.appointments.listVersion]);

  const launchTaken = useRef(false);
  useEffect(() => {
    if (!accountId || launchTaken.current) return;
    launchTaken.current = true;
    appointmentCommands.takeLaunchLink().then(
      (id) => id && dispatch({ type: 'show_appointment', id }),
      () => {},
    );
  }, [accountId]);
}
