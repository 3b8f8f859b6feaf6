// Reads the shell's video messages (layout in src-tauri/src/video.rs).

export const FORMAT_VERSION = 1;
export const HEADER_LEN = 24;

export type StreamKind = 'remote' | 'local';

export interface VideoMessage {
  stream: StreamKind;
  codec: 'vp8' | 'rgba';
  keyframe: boolean;
  width: number;
  height: number;
  /** Wall-clock ms when the shell handed the frame to the IPC. */
  sentAtMs: number;
  seq: number;
  payload: Uint8Array<ArrayBuffer>;
}

/** Parses one message; `null` for one this UI cannot read. */
export function parseVideoMessage(buffer: ArrayBuffer): VideoMessage | null {
  if (buffer.byteLength < HEADER_LEN) return null;
  const view = new DataView(buffer);
  if (view.getUint8(0) !== FORMAT_VERSION) return null;
  const stream = view.getUint8(1);
  const codec = view.getUint8(2);
  if (stream > 1 || codec > 1) return null;
  const width = view.getUint16(4, true);
  const height = view.getUint16(6, true);
  const payload = new Uint8Array(buffer, HEADER_LEN);
  if (codec === 1 && payload.byteLength !== width * height * 4) return null;
  return {
    stream: stream === 0 ? 'remote' : 'local',
    codec: codec === 0 ? 'vp8' : 'rgba',
    keyframe: (view.getUint8(3) & 1) === 1,
    width,
    height,
    sentAtMs: view.getFloat64(8, true),
    seq: view.getUint32(16, true),
    payload,
  };
}

/**
 * Counts frames shown and how long after the shell sent them, per
 * reporting window; pure so it can be tested with made-up clocks.
 */
export class DisplayMeter {
  private shown = 0;
  private delays: number[] = [];
  private windowStart: number;

  constructor(now: number) {
    this.windowStart = now;
  }

  frameShown(sentAtMs: number, shownAtMs: number): void {
    this.shown += 1;
    this.delays.push(Math.max(0, shownAtMs - sentAtMs));
  }

  /** Figures since the last call, and starts a new window. */
  take(now: number): { fps: number; delay_p50_ms: number | null; delay_p95_ms: number | null; frames: number } {
    const seconds = Math.max(1e-3, (now - this.windowStart) / 1000);
    const sorted = [...this.delays].sort((a, b) => a - b);
    const pick = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : null);
    const result = { fps: this.shown / seconds, delay_p50_ms: pick(0.5), delay_p95_ms: pick(0.95), frames: this.shown };
    this.shown = 0;
    this.delays = [];
    this.windowStart = now;
    return result;
  }
}
