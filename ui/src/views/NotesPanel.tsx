// The visit's clinical notes. The doctor drafts them while the visit is
// confirmed and completes the visit with them; after that they are final,
// read-only, and only amendments (listed with author and time) are added.
// The patient reads them once the visit is completed.

import { useState } from 'preact/hooks';
import { type Appointment, type Notes, type Role, appointmentCommands } from '../ipc/appointments';
import type { AppointmentAction } from '../appointments/actions';
import { dateTimeLabel } from '../appointments/format';
import { ErrorText, useCommand } from './useCommand';

interface Props {
  appointment: Appointment;
  notes: Notes | null;
  actions: Set<AppointmentAction>;
  names: Record<string, string>;
  role: Role;
  onChanged: () => void;
}

export function NotesPanel({ appointment: a, notes, actions, names, role, onChanged }: Props) {
  const drafting = actions.has('write_notes') && !notes?.locked;
  const hasText = !!notes?.text || (notes?.amendments.length ?? 0) > 0;
  if (!drafting && !hasText && !actions.has('amend_notes') && !(role === 'patient' && a.status === 'completed')) return null;
  return (
    <section class="card notes" aria-labelledby="notes-title">
      <h2 id="notes-title">Clinical notes</h2>
      {drafting ? <NotesEditor appointment={a} notes={notes} onChanged={onChanged} /> : <FinalNotes notes={notes} names={names} />}
      {actions.has('amend_notes') && <AmendForm appointmentId={a.id} onChanged={onChanged} />}
    </section>
  );
}

function FinalNotes({ notes, names }: { notes: Notes | null; names: Record<string, string> }) {
  if (!notes?.text && !notes?.amendments.length) return <p id="notes-none" class="empty">No notes were written for this visit.</p>;
  return (
    <>
      {notes.text && <p id="notes-text" class="text">{notes.text}</p>}
      {notes.written_at_ms != null && <p class="hint">Written {dateTimeLabel(notes.written_at_ms)}</p>}
      {notes.amendments.length > 0 && (
        <>
          <h3>Amendments</h3>
          <ul id="amendments" class="amendments">
            {notes.amendments.map((m, i) => (
              <li key={i} class="amendment">
                <p class="text">{m.text}</p>
                <p class="hint">{names[m.author] ?? 'Unknown'}, {dateTimeLabel(m.at_ms)}</p>
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}

function NotesEditor({ appointment: a, notes, onChanged }: { appointment: Appointment; notes: Notes | null; onChanged: () => void }) {
  const [text, setText] = useState(notes?.text ?? '');
  const [saved, setSaved] = useState<number | null>(notes?.written_at_ms ?? null);
  const { busy, error, run } = useCommand();
  const save = async () => {
    const written = await run(() => appointmentCommands.writeNotes(a.id, text));
    if (written) setSaved(written.written_at_ms ?? Date.now());
  };
  const complete = async () => {
    if (await run(() => appointmentCommands.complete(a.id, text.trim() || null))) onChanged();
  };
  return (
    <>
      <label>
        Notes (the patient reads them after the visit is completed)
        <textarea id="notes-editor" rows={8} maxLength={12 * 1024} value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </label>
      <p class="hint" id="notes-saved" aria-live="polite">{saved != null ? `Draft saved ${dateTimeLabel(saved)}` : 'Not saved yet'}</p>
      <div class="row-actions">
        <button id="notes-save" disabled={busy || !text.trim()} onClick={() => void save()}>Save draft</button>
        <button id="appointment-complete" class="primary" disabled={busy} onClick={() => void complete()}
          title="The notes become final; later changes are amendments">Complete the visit</button>
      </div>
      <ErrorText error={error} />
    </>
  );
}

function AmendForm({ appointmentId, onChanged }: { appointmentId: string; onChanged: () => void }) {
  const [text, setText] = useState('');
  const { busy, error, run } = useCommand();
  const save = async () => {
    if (await run(() => appointmentCommands.amendNotes(appointmentId, text.trim()))) {
      setText('');
      onChanged();
    }
  };
  return (
    <div class="amend">
      <label>
        Add an amendment
        <textarea id="amend-text" rows={3} maxLength={12 * 1024} value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </label>
      <button id="amend-save" disabled={busy || !text.trim()} onClick={() => void save()}>Add amendment</button>
      <ErrorText error={error} />
    </div>
  );
}
