import { describe, expect, it } from 'vitest';
import { audioInputValue, audioOutputValue, parseAudioInput, parseAudioOutput, parseVideoInput, videoInputValue } from './devices';

describe('device choices', () => {
  it('round-trip through select values', () => {
    for (const v of [{ kind: 'camera' }, { kind: 'named_camera', name: 'USB: cam' }, { kind: 'test_pattern' }, { kind: 'none' }] as const) {
      expect(parseVideoInput(videoInputValue(v))).toEqual(v);
    }
    for (const v of [{ kind: 'microphone' }, { kind: 'named_microphone', name: 'Mic 2' }, { kind: 'tone' }, { kind: 'none' }] as const) {
      expect(parseAudioInput(audioInputValue(v))).toEqual(v);
    }
    for (const v of [{ kind: 'default' }, { kind: 'named', name: 'Headset' }, { kind: 'none' }] as const) {
      expect(parseAudioOutput(audioOutputValue(v))).toEqual(v);
    }
  });

  it('falls back to the default device for unknown values', () => {
    expect(parseVideoInput('??')).toEqual({ kind: 'camera' });
    expect(parseAudioInput('')).toEqual({ kind: 'microphone' });
    expect(parseAudioOutput('x')).toEqual({ kind: 'default' });
  });
});
