// A doctor's side of the appointments screen: one day at a time, the
// requests waiting for an answer, and who waits in a room now. Opening it
// asks the server who waits in today's video visits.

import { useEffect, useState } from 'preact/hooks';
import { appointmentCommands } from '../ipc/appointments';
import { dayKey, dayKeyLabel, shiftDay } from '../appointments/format';
import { onDay, pendingRequests, roomsToWatch } from '../appointments/lists';
import type { AppState } from '../state/app';
import { AppointmentList } from './AppointmentItem';
import { PendingRequests } from './PendingRequests';
import { WaitingRoom } from './WaitingRoom';

interface Props {
  state: AppState;
  onOpen: (id: string) => void;
}

export function DoctorDesk({ state, onOpen }: Props) {
  const list = state.appointments.list;
  useLookIntoRooms(roomsToWatch(list, Date.now()).map((a) => a.id));
  return (
    <main class="page doctor-desk">
      <DayView state={state} onOpen={onOpen} />
      <div class="desk-side">
        <WaitingRoom state={state} onOpen={onOpen} />
        <PendingRequests requests={pendingRequests(list)} onOpen={onOpen} />
      </div>
    </main>
  );
}

/** Asks once per room who waits (answered by room_waiting events). */
function useLookIntoRooms(ids: string[]) {
  const key = ids.join(',');
  useEffect(() => {
    for (const id of ids) appointmentCommands.roomJoin(id).catch(() => {});
  }, [key]);
}

function DayView({ state, onOpen }: Props) {
  const [day, setDay] = useState(() => dayKey(Date.now()));
  const today = dayKey(Date.now());
  const items = onDay(state.appointments.list, day);
  return (
    <section id="day-view" class="day-view" aria-labelledby="day-date">
      <div class="day-nav">
        <button id="day-prev" aria-label="Previous day" onClick={() => setDay(shiftDay(day, -1))}>←</button>
        <h2 id="day-date" data-day={day} aria-live="polite">{day === today ? `Today, ${dayKeyLabel(day)}` : dayKeyLabel(day)}</h2>
        <button id="day-next" aria-label="Next day" onClick={() => setDay(shiftDay(day, 1))}>→</button>
        {day !== today && <button id="day-today" onClick={() => setDay(today)}>Today</button>}
      </div>
      <AppointmentList id="day-appointments" items={items} viewer="doctor" timeOnly onOpen={onOpen}
        empty="No appointments on this day." />
    </section>
  );
}
