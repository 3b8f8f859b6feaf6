// What the person may do with the visit now (by role and status): the
// doctor confirms, rejects, reschedules or cancels; the patient cancels.
// The server decides; a refusal shows its message.

import { useEffect, useRef, useState } from 'preact/hooks';
import { type Appointment, appointmentCommands } from '../ipc/appointments';
import type { AppointmentAction } from '../appointments/actions';
import { slotGoneMessage } from '../appointments/slots';
import { SlotPicker } from './SlotPicker';
import { ErrorText, useCommand } from './useCommand';

interface Props {
  appointment: Appointment;
  actions: Set<AppointmentAction>;
  onChanged: () => void;
  onOpen: (id: string) => void;
}

export function WorkflowActions({ appointment: a, actions, onChanged, onOpen }: Props) {
  if (!['confirm', 'reschedule', 'cancel'].some((x) => actions.has(x as AppointmentAction))) return null;
  return (
    <section class="card workflow" aria-labelledby="workflow-title">
      <h2 id="workflow-title">{actions.has('confirm') ? 'Answer this request' : 'Change this visit'}</h2>
      {actions.has('confirm') && <ConfirmOrReject appointment={a} onChanged={onChanged} />}
      {actions.has('reschedule') && <Reschedule appointment={a} onRescheduled={onOpen} />}
      {actions.has('cancel') && <Cancel appointment={a} onChanged={onChanged} />}
    </section>
  );
}

function ConfirmOrReject({ appointment: a, onChanged }: { appointment: Appointment; onChanged: () => void }) {
  const [comment, setComment] = useState('');
  const { busy, error, run } = useCommand();
  const act = async (fn: typeof appointmentCommands.confirm) => {
    if (await run(() => fn(a.id, comment.trim() || null))) onChanged();
  };
  return (
    <div class="confirm-reject">
      <label>
        Comment for {a.patient.display_name} (optional)
        <textarea id="confirm-comment" rows={2} maxLength={2000} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
      </label>
      <div class="row-actions">
        <button id="appointment-confirm" class="primary" disabled={busy} onClick={() => void act(appointmentCommands.confirm)}>Confirm</button>
        <button id="appointment-reject" disabled={busy} onClick={() => void act(appointmentCommands.reject)}>Reject</button>
      </div>
      <ErrorText error={error} />
    </div>
  );
}

function Reschedule({ appointment: a, onRescheduled }: { appointment: Appointment; onRescheduled: (id: string) => void }) {
  const [open, setOpen] = useState(false);
  const [startMs, setStartMs] = useState<number | null>(null);
  const [comment, setComment] = useState('');
  const [version, setVersion] = useState(0);
  const [taken, setTaken] = useState<number[]>([]);
  const { busy, error, run } = useCommand();
  if (!open) return <button id="appointment-reschedule" onClick={() => setOpen(true)}>Reschedule…</button>;
  const submit = async () => {
    if (startMs === null) return;
    const moved = await run(() => appointmentCommands.reschedule(a.id, startMs, comment.trim() || null),
      (err) => {
        if (!slotGoneMessage(err.code)) return;
        setTaken([...taken, startMs]);
        setStartMs(null);
        setVersion((v) => v + 1);
      });
    if (moved) onRescheduled(moved.id);
  };
  return (
    <div id="reschedule-panel" class="reschedule">
      <SlotPicker doctorId={a.doctor.id} selected={startMs} onSelect={setStartMs} version={version} taken={taken}
        title="Pick a new time" />
      <label>
        Comment for {a.patient.display_name} (optional)
        <textarea id="reschedule-comment" rows={2} maxLength={2000} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
      </label>
      <div class="row-actions">
        <button id="reschedule-submit" class="primary" disabled={busy || startMs === null} onClick={() => void submit()}>Move the visit</button>
        <button id="reschedule-close" onClick={() => setOpen(false)}>Keep the time</button>
      </div>
      <ErrorText error={error && (slotGoneMessage(error.code) ?? error.message)} />
    </div>
  );
}

function Cancel({ appointment: a, onChanged }: { appointment: Appointment; onChanged: () => void }) {
  const [asking, setAsking] = useState(false);
  const yes = useRef<HTMLButtonElement>(null);
  const { busy, error, run } = useCommand();
  // Keyboard users land on the question's answer.
  useEffect(() => { if (asking) yes.current?.focus(); }, [asking]);
  const cancel = async () => {
    if ((await run(() => appointmentCommands.cancel(a.id, null))) !== undefined) onChanged();
    setAsking(false);
  };
  return (
    <div class="cancel">
      {asking ? (
        <div role="group" aria-labelledby="cancel-question">
          <p id="cancel-question">Cancel this visit? This cannot be undone.</p>
          <button id="appointment-cancel-confirm" ref={yes} class="danger" disabled={busy} onClick={() => void cancel()}>Yes, cancel the visit</button>
          <button id="appointment-cancel-keep" onClick={() => setAsking(false)}>Keep it</button>
        </div>
      ) : (
        <button id="appointment-cancel" class="danger" onClick={() => setAsking(true)}>Cancel visit…</button>
      )}
      <ErrorText error={error} />
    </div>
  );
}
