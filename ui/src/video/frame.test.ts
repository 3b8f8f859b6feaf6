import { describe, expect, it } from 'vitest';
import { DisplayMeter, HEADER_LEN, parseVideoMessage } from './frame';

function message(fields: { version?: number; stream: number; codec: number; key: boolean; w: number; h: number; t: number; seq: number }, payload: Uint8Array): ArrayBuffer {
  const buffer = new ArrayBuffer(HEADER_LEN + payload.byteLength);
  const view = new DataView(buffer);
  view.setUint8(0, fields.version ?? 1);
  view.setUint8(1, fields.stream);
  view.setUint8(2, fields.codec);
  view.setUint8(3, fields.key ? 1 : 0);
  view.setUint16(4, fields.w, true);
  view.setUint16(6, fields.h, true);
  view.setFloat64(8, fields.t, true);
  view.setUint32(16, fields.seq, true);
  new Uint8Array(buffer, HEADER_LEN).set(payload);
  return buffer;
}

describe('video messages', () => {
  it('reads what the shell writes', () => {
    const parsed = parseVideoMessage(message({ stream: 1, codec: 0, key: true, w: 1280, h: 720, t: 1764000000123.5, seq: 9 }, new Uint8Array([1, 2, 3])));
    expect(parsed).not.toBeNull();
    expect(parsed).toMatchObject({ stream: 'local', codec: 'vp8', keyframe: true, width: 1280, height: 720, sentAtMs: 1764000000123.5, seq: 9 });
    expect(Array.from(parsed!.payload)).toEqual([1, 2, 3]);
  });

  it('refuses what it cannot read', () => {
    expect(parseVideoMessage(new ArrayBuffer(10))).toBeNull();
    expect(parseVideoMessage(message({ version: 2, stream: 0, codec: 0, key: false, w: 2, h: 2, t: 0, seq: 0 }, new Uint8Array(1)))).toBeNull();
    expect(parseVideoMessage(message({ stream: 5, codec: 0, key: false, w: 2, h: 2, t: 0, seq: 0 }, new Uint8Array(1)))).toBeNull();
    // RGBA whose size does not match its dimensions.
    expect(parseVideoMessage(message({ stream: 0, codec: 1, key: true, w: 2, h: 2, t: 0, seq: 0 }, new Uint8Array(15)))).toBeNull();
    expect(parseVideoMessage(message({ stream: 0, codec: 1, key: true, w: 2, h: 2, t: 0, seq: 0 }, new Uint8Array(16)))?.codec).toBe('rgba');
  });
});

describe('display meter', () => {
  it('reports frame rate and delay percentiles per window', () => {
    const meter = new DisplayMeter(0);
    for (let i = 0; i < 60; i++) meter.frameShown(1000 + i * 33, 1000 + i * 33 + (i % 10));
    const first = meter.take(2000);
    expect(first.fps).toBeCloseTo(30);
    expect(first.frames).toBe(60);
    expect(first.delay_p50_ms).toBe(5);
    expect(first.delay_p95_ms).toBe(9);
    const empty = meter.take(3000);
    expect([empty.fps, empty.delay_p50_ms]).toEqual([0, null]);
  });
});
