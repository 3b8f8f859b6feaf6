// A doctor's slots for the coming week, one section per local day: free
// ones as buttons, taken ones shown greyed. Used to book and to reschedule;
// bump `version` to read them again (after "someone just booked that"),
// and name in `taken` the times known gone until the new list comes.

import { appointmentCommands } from '../ipc/appointments';
import { dayKeyLabel, localZone, timeLabel } from '../appointments/format';
import { freeCount, groupSlots, markTaken, weekAhead } from '../appointments/slots';
import { ErrorText, useLoad } from './useCommand';

interface Props {
  doctorId: string;
  selected: number | null;
  onSelect: (startMs: number) => void;
  version: number;
  taken: number[];
  /** Labels the picker (a page may hold one). */
  title: string;
}

export function SlotPicker({ doctorId, selected, onSelect, version, taken, title }: Props) {
  const { data: slots, error } = useLoad(() => {
    const { fromMs, toMs } = weekAhead(Date.now());
    return appointmentCommands.slots(doctorId, fromMs, toMs);
  }, [doctorId, version]);
  const days = slots ? groupSlots(markTaken(slots, taken), Date.now()) : [];
  return (
    <section class="slot-picker" aria-labelledby="slot-picker-title">
      <h2 id="slot-picker-title">{title}</h2>
      <p class="hint">Times are in your time zone ({localZone()}).</p>
      <ErrorText error={error} />
      {!slots && !error && <p aria-busy="true">Loading times…</p>}
      {slots && freeCount(days) === 0 && <p class="empty" id="no-free-slots">No free times in the coming week.</p>}
      {days.map((day) => (
        <section key={day.key} class="slot-day" data-day={day.key} aria-label={dayKeyLabel(day.key)}>
          <h3>{dayKeyLabel(day.key)}</h3>
          <div class="slots" role="group" aria-label={`Times on ${dayKeyLabel(day.key)}`}>
            {day.slots.map((s) => s.free ? (
              <button key={s.start_ms} type="button" class="slot" data-start-ms={s.start_ms}
                aria-pressed={selected === s.start_ms} onClick={() => onSelect(s.start_ms)}>
                {timeLabel(s.start_ms)}
              </button>
            ) : (
              <span key={s.start_ms} class="slot-taken">
                {timeLabel(s.start_ms)}<span class="visually-hidden"> (taken)</span>
              </span>
            ))}
          </div>
        </section>
      ))}
    </section>
  );
}
