// Draws the shell's video on canvases. VP8 is decoded here with WebCodecs
// (the shell sends encoded frames: ~100x fewer bytes than pixels across
// the IPC); where this web view has no VP8 decoder, the shell sends scaled
// RGBA instead (`raw` mode) and it is drawn as it is.

import { commands } from '../ipc/commands';
import type { DisplayMode } from '../ipc/types';
import { DisplayMeter, parseVideoMessage, type StreamKind, type VideoMessage } from './frame';

/** At most one keyframe request per picture per second (the core also
 * limits what it sends to the other side). */
const KEYFRAME_REQUEST_INTERVAL_MS = 1000;

/** Whether this web view can decode VP8 itself. */
export async function chooseDisplayMode(): Promise<DisplayMode> {
  const forced = (await commands.appInfo()).video_mode;
  if (forced) return forced;
  const decoder = (globalThis as { VideoDecoder?: typeof VideoDecoder }).VideoDecoder;
  if (!decoder) return 'raw';
  try {
    const support = await decoder.isConfigSupported({ codec: 'vp8' });
    return support.supported ? 'encoded' : 'raw';
  } catch {
    return 'raw';
  }
}

class StreamView {
  canvas: HTMLCanvasElement | null = null;
  private decoder: VideoDecoder | null = null;
  private waitingForKeyframe = true;
  private pending = new Map<number, number>(); // timestamp → sentAtMs
  meter = new DisplayMeter(performance.now());

  private lastKeyframeRequest = -Infinity;

  constructor(private readonly kind: StreamKind) {}

  private draw(source: CanvasImageSource, width: number, height: number, sentAtMs: number) {
    const canvas = this.canvas;
    if (!canvas) return;
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    canvas.getContext('2d')?.drawImage(source, 0, 0);
    canvas.dataset.frames = String(Number(canvas.dataset.frames ?? '0') + 1);
    this.meter.frameShown(sentAtMs, Date.now());
  }

  private ensureDecoder(): VideoDecoder {
    if (this.decoder && this.decoder.state !== 'closed') return this.decoder;
    this.decoder = new VideoDecoder({
      output: (frame) => {
        const sentAt = this.pending.get(frame.timestamp) ?? Date.now();
        this.pending.delete(frame.timestamp);
        this.draw(frame, frame.displayWidth, frame.displayHeight, sentAt);
        frame.close();
      },
      error: (e) => {
        console.warn(`${this.kind} video decoder error`, e);
        this.wantKeyframe();
      },
    });
    this.decoder.configure({ codec: 'vp8', optimizeForLatency: true });
    this.waitingForKeyframe = true;
    return this.decoder;
  }

  push(message: VideoMessage) {
    if (message.codec === 'rgba') {
      const pixels = new Uint8ClampedArray(
        message.payload.buffer,
        message.payload.byteOffset,
        message.payload.byteLength,
      );
      const image = new ImageData(pixels, message.width, message.height);
      const canvas = this.canvas;
      if (!canvas) return;
      if (canvas.width !== message.width || canvas.height !== message.height) {
        canvas.width = message.width;
        canvas.height = message.height;
      }
      canvas.getContext('2d')?.putImageData(image, 0, 0);
      canvas.dataset.frames = String(Number(canvas.dataset.frames ?? '0') + 1);
      this.meter.frameShown(message.sentAtMs, Date.now());
      return;
    }
    const decoder = this.ensureDecoder();
    if (this.waitingForKeyframe && !message.keyframe) {
      this.wantKeyframe();
      return;
    }
    this.waitingForKeyframe = false;
    // Frames that pile up mean the decoder cannot keep up: skip to the
    // next keyframe rather than fall further behind.
    if (decoder.decodeQueueSize > 4) {
      this.wantKeyframe();
      return;
    }
    const timestamp = message.seq * 1000;
    this.pending.set(timestamp, message.sentAtMs);
    if (this.pending.size > 64) this.pending.delete(this.pending.keys().next().value as number);
    decoder.decode(
      new EncodedVideoChunk({ type: message.keyframe ? 'key' : 'delta', timestamp, data: message.payload }),
    );
  }

  /** Skips frames until a keyframe, and asks for one: senders make them
   * only on request, so waiting for the next one could take minutes. */
  private wantKeyframe() {
    this.waitingForKeyframe = true;
    const now = performance.now();
    if (now - this.lastKeyframeRequest >= KEYFRAME_REQUEST_INTERVAL_MS) {
      this.lastKeyframeRequest = now;
      void commands.refreshVideo();
    }
  }

  reset() {
    if (this.decoder && this.decoder.state !== 'closed') this.decoder.close();
    this.decoder = null;
    this.pending.clear();
    this.waitingForKeyframe = true;
  }
}

/** The app's two pictures and the channel feeding them. */
export class VideoRenderer {
  private streams = { remote: new StreamView('remote'), local: new StreamView('local') };
  private attached = false;
  private reportTimer: number | null = null;
  mode: DisplayMode = 'encoded';

  setCanvas(kind: StreamKind, canvas: HTMLCanvasElement | null) {
    this.streams[kind].canvas = canvas;
  }

  async attach() {
    if (this.attached) return;
    this.attached = true;
    this.mode = await chooseDisplayMode();
    document.documentElement.dataset.videoMode = this.mode;
    await commands.attachVideo((buffer) => {
      const message = parseVideoMessage(buffer);
      if (message) this.streams[message.stream].push(message);
    }, this.mode);
    this.reportTimer = window.setInterval(() => this.report(), 2000);
  }

  private report() {
    const now = performance.now();
    const remote = this.streams.remote.meter.take(now);
    const local = this.streams.local.meter.take(now);
    if (remote.frames > 0 || local.frames > 0) {
      void commands.reportDisplayStats({ mode: this.mode, remote, local });
    }
  }

  async detach() {
    if (!this.attached) return;
    this.attached = false;
    if (this.reportTimer !== null) window.clearInterval(this.reportTimer);
    this.reportTimer = null;
    this.streams.remote.reset();
    this.streams.local.reset();
    await commands.detachVideo();
  }
}

export const renderer = new VideoRenderer();
