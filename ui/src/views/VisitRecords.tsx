// The calls of this visit: when each started, how long it lasted, and how
// good each side's connection was.

import type { Visit } from '../ipc/appointments';
import { dateTimeLabel } from '../appointments/format';
import { describeVisit } from '../appointments/visits';

export function VisitRecords({ visits, names }: { visits: Visit[]; names: Record<string, string> }) {
  return (
    <section class="card visits" aria-labelledby="visits-title">
      <h2 id="visits-title">Calls</h2>
      <ul id="visit-records" class="visit-list">
        {visits.length === 0 && <li class="empty">No calls yet.</li>}
        {visits.map((v) => {
          const lines = describeVisit(v, names);
          return (
            <li key={v.call.id} class="visit" data-call-id={v.call.id}>
              <p>
                <span class="started">Started {dateTimeLabel(lines.startedMs)}</span>
                {' · '}
                <span class="duration">{lines.duration ? `lasted ${lines.duration}` : 'not answered'}</span>
              </p>
              {lines.quality.map((q) => <p key={q} class="quality hint">{q}</p>)}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
