// A visit record (one call of an appointment) as the detail page tells it:
// when it started, how long it lasted, and how each side's link was.

import type { QualityReport, Visit } from '../ipc/appointments';
import { formatDuration } from '../state/app';

export interface VisitLines {
  /** When the call was answered (or rung, when never answered), Unix ms. */
  startedMs: number;
  /** "12:05", or null when the call was never answered. */
  duration: string | null;
  /** One line per party that reported: "Dr Ada: good (…)". */
  quality: string[];
}

const QUALITY_WORDS = { good: 'good', fair: 'fair', poor: 'poor' } as const;

function qualityLine(report: QualityReport, names: Record<string, string>): string {
  const s = report;
  const who = names[report.user] ?? 'Someone';
  const loss = (s.packet_loss_permille / 10).toFixed(1);
  return `${who}: ${QUALITY_WORDS[s.quality] ?? s.quality} connection ` +
    `(${Math.round(s.avg_bitrate_kbps)} kbit/s, ${loss}% lost, jitter ${Math.round(s.jitter_ms)} ms, round trip ${Math.round(s.rtt_ms)} ms)`;
}

/** `names` maps user ids to the names to show (the doctor and the patient). */
export function describeVisit(visit: Visit, names: Record<string, string>): VisitLines {
  const { call } = visit;
  const answered = call.answered_at ? Date.parse(call.answered_at) : null;
  return {
    startedMs: answered ?? Date.parse(call.rung_at),
    duration: answered === null ? null : formatDuration(call.duration_ms ?? 0),
    quality: visit.quality.map((q) => qualityLine(q, names)),
  };
}
