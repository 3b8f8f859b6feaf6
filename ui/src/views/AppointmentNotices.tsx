// Why the schedule may be stale or missing: offline (the saved schedule is
// shown) or not available this session.

import type { AppointmentsState } from '../state/appointments';

export function AppointmentNotices({ appointments }: { appointments: AppointmentsState }) {
  return (
    <>
      {appointments.unavailable && (
        <p id="appointments-unavailable" class="notice" role="alert">
          Appointments are not available: {appointments.unavailable}
        </p>
      )}
      {appointments.offline && !appointments.unavailable && (
        <p id="appointments-offline" class="notice" role="status">Offline: showing your saved schedule</p>
      )}
    </>
  );
}
