// A doctor's page: the profile, free times for the coming week, and the
// booking form. A time taken meanwhile says so and reloads the times.

import { useState } from 'preact/hooks';
import { type DoctorProfile, type Mode, appointmentCommands } from '../ipc/appointments';
import { dateTimeLabel, yearsText } from '../appointments/format';
import { slotGoneMessage } from '../appointments/slots';
import { SlotPicker } from './SlotPicker';
import { ErrorText, useCommand, useLoad } from './useCommand';

interface Props {
  doctorId: string;
  onBooked: (appointmentId: string) => void;
  onBack: () => void;
}

export function DoctorPage({ doctorId, onBooked, onBack }: Props) {
  const { data: doctor, error } = useLoad(() => appointmentCommands.doctor(doctorId), [doctorId]);
  const [selected, setSelected] = useState<number | null>(null);
  const [version, setVersion] = useState(0);
  const [taken, setTaken] = useState<number[]>([]);
  const slotGone = (startMs: number) => { setTaken([...taken, startMs]); setSelected(null); setVersion((v) => v + 1); };
  return (
    <div class="doctor-screen">
      <header class="top-bar">
        <button id="doctor-back" onClick={onBack}>← Back</button>
        <h1>{doctor?.display_name ?? 'Doctor'}</h1>
      </header>
      <main class="page doctor-page">
        <ErrorText error={error} />
        {doctor && <DoctorCard doctor={doctor} />}
        <SlotPicker doctorId={doctorId} selected={selected} onSelect={setSelected} version={version} taken={taken}
          title="Choose a time" />
        <BookingForm doctorId={doctorId} startMs={selected} onBooked={onBooked} onSlotGone={slotGone} />
      </main>
    </div>
  );
}

function DoctorCard({ doctor }: { doctor: DoctorProfile }) {
  const d = doctor;
  return (
    <section id="doctor-profile" class="card profile" data-doctor-id={doctor.id} aria-label="Profile">
      <dl>
        <dt>Specialization</dt><dd id="doctor-specialization">{d.specialization || '—'}</dd>
        <dt>Qualification</dt><dd id="doctor-qualification">{d.qualification || '—'}</dd>
        <dt>Experience</dt><dd id="doctor-experience">{yearsText(d.years_of_experience)}</dd>
        <dt>Time zone</dt><dd id="doctor-time-zone">{d.time_zone}</dd>
      </dl>
      {d.bio && <p id="doctor-bio" class="bio">{d.bio}</p>}
    </section>
  );
}

function BookingForm({ doctorId, startMs, onBooked, onSlotGone }: {
  doctorId: string;
  startMs: number | null;
  onBooked: (appointmentId: string) => void;
  onSlotGone: (startMs: number) => void;
}) {
  const [reason, setReason] = useState('');
  const [mode, setMode] = useState<Mode>('video');
  const { busy, error, setError, run } = useCommand();
  const gone = error ? slotGoneMessage(error.code) : null;
  const submit = async (e: Event) => {
    e.preventDefault();
    if (startMs === null) return;
    // A lost time is said, and the times read again.
    const booked = await run(() => appointmentCommands.book(doctorId, startMs, mode, reason.trim()),
      (err) => { if (slotGoneMessage(err.code)) onSlotGone(startMs); });
    if (booked) onBooked(booked.id);
  };
  return (
    <form class="card booking" aria-labelledby="booking-title" onSubmit={submit}>
      <h2 id="booking-title">Book</h2>
      <p id="booking-slot" aria-live="polite">
        {startMs === null ? 'Choose a time above.' : `Your visit: ${dateTimeLabel(startMs)}`}
      </p>
      <label>
        Reason for the visit
        <textarea id="booking-reason" rows={3} maxLength={2000} required value={reason}
          onInput={(e) => { setReason(e.currentTarget.value); if (error && !gone) setError(null); }} />
      </label>
      <label>
        How would you like to meet?
        <select id="booking-mode" value={mode} onChange={(e) => setMode(e.currentTarget.value as Mode)}>
          <option value="video">Video call</option>
          <option value="chat">Chat</option>
        </select>
      </label>
      {gone ? <p id="booking-error" class="error" role="alert">{gone}</p> : <ErrorText error={error} id="booking-error" />}
      <button id="booking-submit" type="submit" class="primary" disabled={busy || startMs === null || !reason.trim()}>
        {busy ? 'Booking…' : 'Book this time'}
      </button>
    </form>
  );
}
