// The patient rates a completed visit once (1 to 5 stars and an optional
// review); afterwards both sides see the rating.

import { useState } from 'preact/hooks';
import { type Appointment, type Role, appointmentCommands } from '../ipc/appointments';
import { type AppointmentAction, ratingProblem } from '../appointments/actions';
import { ErrorText, useCommand } from './useCommand';

interface Props {
  appointment: Appointment;
  actions: Set<AppointmentAction>;
  role: Role;
  onChanged: () => void;
}

export function RatingPanel({ appointment: a, actions, role, onChanged }: Props) {
  if (a.rating != null) {
    return (
      <section id="rating-given" class="card rating" aria-labelledby="rating-title" data-rating={a.rating}>
        <h2 id="rating-title">{role === 'patient' ? 'Your rating' : 'The patient’s rating'}</h2>
        <p><span class="stars" aria-hidden="true">{'★'.repeat(a.rating)}{'☆'.repeat(5 - a.rating)}</span> {a.rating} of 5</p>
        {a.review && <p class="text">{a.review}</p>}
      </section>
    );
  }
  return actions.has('rate') ? <RatingForm appointmentId={a.id} onChanged={onChanged} /> : null;
}

function RatingForm({ appointmentId, onChanged }: { appointmentId: string; onChanged: () => void }) {
  const [rating, setRating] = useState<number | null>(null);
  const [review, setReview] = useState('');
  const { busy, error, run } = useCommand();
  const problem = ratingProblem(rating, review);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (problem || rating === null) return;
    if (await run(() => appointmentCommands.rate(appointmentId, rating, review.trim() || null))) onChanged();
  };
  return (
    <form class="card rating" aria-labelledby="rate-title" onSubmit={submit}>
      <h2 id="rate-title">How was your visit?</h2>
      <div id="rating" role="group" aria-label="Rating, 1 to 5 stars">
        {[1, 2, 3, 4, 5].map((v) => (
          <button key={v} type="button" class={`star${rating !== null && v <= rating ? ' lit' : ''}`} data-value={v}
            aria-pressed={rating === v} aria-label={`${v} star${v === 1 ? '' : 's'}`} onClick={() => setRating(v)}>
            ★
          </button>
        ))}
      </div>
      <label>
        Review (optional)
        <textarea id="review" rows={3} maxLength={2000} value={review} onInput={(e) => setReview(e.currentTarget.value)} />
      </label>
      {rating !== null && problem && <p class="error" role="alert">{problem}</p>}
      <ErrorText error={error} />
      <button id="rating-submit" type="submit" class="primary" disabled={busy || problem !== null}>Send rating</button>
    </form>
  );
}
