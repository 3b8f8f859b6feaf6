// A doctor's own profile: what patients read in the directory, and the
// weekly schedule their free slots come from.

import { useState } from 'preact/hooks';
import { type ProfileDetails, type ScheduleBlock, type Weekday, appointmentCommands } from '../ipc/appointments';
import { localZone } from '../appointments/format';
import { WEEKDAYS, blankProfile, detailsOf, profileProblems, sortSchedule } from '../appointments/profile';
import { ErrorText, useCommand, useLoad } from './useCommand';

export function MyProfileScreen({ onBack }: { onBack: () => void }) {
  const { data, loaded, error } = useLoad(() => appointmentCommands.myProfile(), []);
  return (
    <div class="profile-screen">
      <header class="top-bar">
        <button id="my-profile-back" onClick={onBack}>← Back</button>
        <h1>My profile</h1>
      </header>
      <main class="page">
        <ErrorText error={error} />
        {loaded ? <ProfileForm initial={(data ? detailsOf(data) : null) ?? blankProfile(localZone())} /> : <p aria-busy="true">Loading…</p>}
      </main>
    </div>
  );
}

function ProfileForm({ initial }: { initial: ProfileDetails }) {
  const [p, setP] = useState(initial);
  const [saved, setSaved] = useState(false);
  const { busy, error, run } = useCommand();
  const problems = profileProblems(p);
  const change = (next: Partial<ProfileDetails>) => { setP({ ...p, ...next }); setSaved(false); };
  const submit = async (e: Event) => {
    e.preventDefault();
    if (problems.length) return;
    const stored = await run(() => appointmentCommands.saveMyProfile({ ...p, schedule: sortSchedule(p.schedule) }));
    if (stored) { setP(detailsOf(stored)); setSaved(true); }
  };
  const text = (key: 'specialization' | 'qualification' | 'time_zone') => ({
    value: p[key], onInput: (e: { currentTarget: HTMLInputElement }) => change({ [key]: e.currentTarget.value }),
  });
  const number = (key: 'years_of_experience' | 'slot_minutes') => ({
    type: 'number', value: String(p[key]),
    onInput: (e: { currentTarget: HTMLInputElement }) => change({ [key]: Number(e.currentTarget.value) }),
  });
  return (
    <form id="my-profile" class="card profile-form" onSubmit={submit}>
      <label>Specialization<input id="profile-specialization" maxLength={200} {...text('specialization')} /></label>
      <label>Qualification<input id="profile-qualification" maxLength={200} {...text('qualification')} /></label>
      <label>Years of experience<input id="profile-years" min={0} max={80} {...number('years_of_experience')} /></label>
      <label>
        About you
        <textarea id="profile-bio" rows={4} maxLength={4000} value={p.bio} onInput={(e) => change({ bio: e.currentTarget.value })} />
      </label>
      <label>Time zone of your schedule<input id="profile-time-zone" {...text('time_zone')} placeholder="Europe/Berlin" /></label>
      <label>Slot length (minutes)<input id="profile-slot-minutes" min={5} max={480} {...number('slot_minutes')} /></label>
      <ScheduleEditor blocks={p.schedule} onChange={(schedule) => change({ schedule })} />
      {problems.length > 0 && <ul id="profile-problems" class="error">{problems.map((x) => <li key={x}>{x}</li>)}</ul>}
      <ErrorText error={error} />
      {saved && <p id="profile-saved" role="status">Saved. Patients see it now.</p>}
      <button id="profile-save" type="submit" class="primary" disabled={busy || problems.length > 0}>Save</button>
    </form>
  );
}

function ScheduleEditor({ blocks, onChange }: { blocks: ScheduleBlock[]; onChange: (b: ScheduleBlock[]) => void }) {
  const set = (i: number, next: Partial<ScheduleBlock>) => onChange(blocks.map((b, j) => (j === i ? { ...b, ...next } : b)));
  return (
    <fieldset id="schedule-editor">
      <legend>Weekly schedule</legend>
      {blocks.length === 0 && <p class="empty">No hours yet: patients cannot book you.</p>}
      <ul class="schedule-blocks">
        {blocks.map((b, i) => (
          <li key={i} class="schedule-block">
            <label>Day
              <select value={b.day} onChange={(e) => set(i, { day: e.currentTarget.value as Weekday })}>
                {WEEKDAYS.map((w) => <option key={w.day} value={w.day}>{w.label}</option>)}
              </select>
            </label>
            <label>From<input type="time" value={b.start} onInput={(e) => set(i, { start: e.currentTarget.value })} /></label>
            <label>To<input type="time" value={b.end} onInput={(e) => set(i, { end: e.currentTarget.value })} /></label>
            <button type="button" class="remove-block" aria-label={`Remove block ${i + 1}`}
              onClick={() => onChange(blocks.filter((_, j) => j !== i))}>Remove</button>
          </li>
        ))}
      </ul>
      <button type="button" id="add-block" onClick={() => onChange([...blocks, { day: 'monday', start: '09:00', end: '12:00' }])}>
        Add hours
      </button>
    </fieldset>
  );
}
