// "Your visit with X starts in N minutes", over any screen, until dismissed.

import type { Role } from '../ipc/appointments';
import { startsIn, timeLabel } from '../appointments/format';
import type { Reminder } from '../state/appointments';

interface Props {
  reminder: Reminder;
  viewer: Role;
  onOpen: (id: string) => void;
  onDismiss: () => void;
}

export function ReminderBanner({ reminder, viewer, onOpen, onDismiss }: Props) {
  const a = reminder.appointment;
  const other = viewer === 'doctor' ? a.patient.display_name : a.doctor.display_name;
  return (
    <div id="appointment-reminder" class="reminder" role="alert" data-appointment-id={a.id}>
      <span>Your visit with {other} {startsIn(reminder.minutesBefore)} ({timeLabel(a.start_ms)}).</span>
      <button id="reminder-open" class="primary" onClick={() => { onOpen(a.id); onDismiss(); }}>Open</button>
      <button id="reminder-dismiss" aria-label="Dismiss the reminder" onClick={onDismiss}>Dismiss</button>
    </div>
  );
}
