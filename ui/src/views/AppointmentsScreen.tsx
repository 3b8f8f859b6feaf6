// The appointments screen: a patient's upcoming and past visits, or a
// doctor's day, requests and waiting room.

import { partition } from '../appointments/lists';
import type { AppState } from '../state/app';
import { AppointmentList } from './AppointmentItem';
import { AppointmentNotices } from './AppointmentNotices';
import { DoctorDesk } from './DoctorDesk';

interface Props {
  state: AppState;
  onOpen: (id: string) => void;
  onFindDoctor: () => void;
  onBack: () => void;
}

export function AppointmentsScreen({ state, onOpen, onFindDoctor, onBack }: Props) {
  const role = state.account?.person.role ?? 'patient';
  return (
    <div class="appointments-screen">
      <header class="top-bar">
        <button id="appointments-back" onClick={onBack}>← Back</button>
        <h1>Appointments</h1>
        {role === 'patient' && (
          <nav aria-label="Appointments"><button id="appointments-find-doctor" onClick={onFindDoctor}>Find a doctor</button></nav>
        )}
      </header>
      <AppointmentNotices appointments={state.appointments} />
      {!state.appointments.loaded && !state.appointments.unavailable && <p class="page" aria-busy="true">Loading…</p>}
      {role === 'doctor' ? <DoctorDesk state={state} onOpen={onOpen} /> : <PatientVisits state={state} onOpen={onOpen} />}
    </div>
  );
}

function PatientVisits({ state, onOpen }: { state: AppState; onOpen: (id: string) => void }) {
  const { upcoming, past } = partition(state.appointments.list, Date.now());
  return (
    <main class="page appointment-columns">
      <section aria-labelledby="upcoming-title">
        <h2 id="upcoming-title">Upcoming</h2>
        <AppointmentList id="upcoming-appointments" items={upcoming} viewer="patient" onOpen={onOpen}
          empty="No upcoming visits. Use “Find a doctor” to book one." />
      </section>
      <section aria-labelledby="past-title">
        <h2 id="past-title">Past</h2>
        <AppointmentList id="past-appointments" items={past} viewer="patient" onOpen={onOpen} empty="No past visits yet." />
      </section>
    </main>
  );
}
