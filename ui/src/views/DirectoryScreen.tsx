// Find a doctor: filter by name, specialization and a free slot between two
// dates; results page by page ("More doctors"). The last search is kept in
// the window's state, so coming back from a doctor's page shows it again.

import { useEffect, useState } from 'preact/hooks';
import { type DoctorProfile, type DoctorQuery, appointmentCommands } from '../ipc/appointments';
import { yearsText } from '../appointments/format';
import { freeRange } from '../appointments/slots';
import type { DirectoryFilters, DirectoryResults } from '../state/appointments';
import { ErrorText, useCommand } from './useCommand';

const PAGE = 20;
const NO_FILTERS: DirectoryFilters = { name: '', specialization: '', freeFrom: '', freeTo: '' };

interface Props {
  results: DirectoryResults | null;
  onResults: (results: DirectoryResults) => void;
  onOpenDoctor: (doctorId: string) => void;
  onBack: () => void;
}

export function DirectoryScreen({ results, onResults, onOpenDoctor, onBack }: Props) {
  const [filters, setFilters] = useState(results?.filters ?? NO_FILTERS);
  const [problem, setProblem] = useState<string | null>(null);
  const { busy, error, run } = useCommand();

  const search = async (searched: DirectoryFilters, query: DoctorQuery, previous: DoctorProfile[]) => {
    const page = await run(() => appointmentCommands.searchDoctors(query));
    if (page) onResults({ filters: searched, query, doctors: [...previous, ...page.doctors], nextOffset: page.next_offset });
  };
  const submit = (e?: Event) => {
    e?.preventDefault();
    const range = freeRange(filters.freeFrom, filters.freeTo);
    setProblem(range.ok ? null : range.message);
    if (!range.ok) return;
    void search(filters, {
      name: filters.name.trim(), specialization: filters.specialization.trim(),
      free_from_ms: range.fromMs, free_to_ms: range.toMs, offset: 0, limit: PAGE,
    }, []);
  };
  const more = () => {
    if (results?.nextOffset != null) void search(results.filters, { ...results.query, offset: results.nextOffset }, results.doctors);
  };
  // Everyone, at first.
  useEffect(() => { if (!results) submit(); }, []);

  return (
    <div class="directory-screen">
      <header class="top-bar">
        <button id="directory-back" onClick={onBack}>← Back</button>
        <h1>Find a doctor</h1>
      </header>
      <main class="page">
        <DirectoryForm filters={filters} busy={busy} onChange={setFilters} onSubmit={submit} />
        <ErrorText error={problem ?? error} id="directory-error" />
        <DoctorResults results={results} busy={busy} onOpenDoctor={onOpenDoctor} onMore={more} />
      </main>
    </div>
  );
}

function DirectoryForm({ filters, busy, onChange, onSubmit }: {
  filters: DirectoryFilters;
  busy: boolean;
  onChange: (f: DirectoryFilters) => void;
  onSubmit: (e: Event) => void;
}) {
  const field = (key: keyof DirectoryFilters) => ({
    value: filters[key],
    onInput: (e: { currentTarget: HTMLInputElement }) => onChange({ ...filters, [key]: e.currentTarget.value }),
  });
  return (
    <form class="card filters" role="search" onSubmit={onSubmit}>
      <label>Name<input id="directory-name" type="search" {...field('name')} /></label>
      <label>Specialization<input id="directory-specialization" type="search" {...field('specialization')} /></label>
      <fieldset class="free-between">
        <legend>Has a free slot between</legend>
        <label>From<input id="directory-free-from" type="date" {...field('freeFrom')} /></label>
        <label>To<input id="directory-free-to" type="date" {...field('freeTo')} /></label>
      </fieldset>
      <button id="directory-search" type="submit" class="primary" disabled={busy}>Search</button>
    </form>
  );
}

function DoctorResults({ results, busy, onOpenDoctor, onMore }: {
  results: DirectoryResults | null;
  busy: boolean;
  onOpenDoctor: (doctorId: string) => void;
  onMore: () => void;
}) {
  if (!results) return busy ? <p aria-busy="true">Searching…</p> : null;
  return (
    <section aria-labelledby="results-title">
      <h2 id="results-title">Doctors</h2>
      <ul id="doctor-results" class="doctor-results" aria-busy={busy}>
        {results.doctors.length === 0 && <li class="empty">No doctor matches. Try fewer filters.</li>}
        {results.doctors.map((d) => (
          <li key={d.id} class="doctor-result" data-doctor-id={d.id}>
            <span class="name">{d.display_name}</span>
            <span class="specialization">{d.specialization || 'General practice'}</span>
            <span class="years">{yearsText(d.years_of_experience)}</span>
            <button class="open-doctor" aria-label={`See ${d.display_name}'s profile and free times`}
              onClick={() => onOpenDoctor(d.id)}>See times</button>
          </li>
        ))}
      </ul>
      {results.nextOffset != null && (
        <button id="directory-more" disabled={busy} onClick={onMore}>More doctors</button>
      )}
    </section>
  );
}
