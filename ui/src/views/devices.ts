// Device choices <-> <select> values ("camera", "named:<name>", …).

import type { AudioInput, AudioOutput, VideoInput } from '../ipc/types';

const NAMED = 'named:';

export function videoInputValue(v: VideoInput): string {
  return v.kind === 'named_camera' ? NAMED + v.name : v.kind;
}
export function parseVideoInput(value: string): VideoInput {
  if (value.startsWith(NAMED)) return { kind: 'named_camera', name: value.slice(NAMED.length) };
  if (value === 'test_pattern' || value === 'none') return { kind: value };
  return { kind: 'camera' };
}
export function audioInputValue(v: AudioInput): string {
  return v.kind === 'named_microphone' ? NAMED + v.name : v.kind;
}
export function parseAudioInput(value: string): AudioInput {
  if (value.startsWith(NAMED)) return { kind: 'named_microphone', name: value.slice(NAMED.length) };
  if (value === 'tone' || value === 'none') return { kind: value };
  return { kind: 'microphone' };
}
export function audioOutputValue(v: AudioOutput): string {
  return v.kind === 'named' ? NAMED + v.name : v.kind;
}
export function parseAudioOutput(value: string): AudioOutput {
  if (value.startsWith(NAMED)) return { kind: 'named', name: value.slice(NAMED.length) };
  if (value === 'none') return { kind: 'none' };
  return { kind: 'default' };
}
