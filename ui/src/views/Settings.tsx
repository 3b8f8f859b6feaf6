// Settings and the pre-call device check: both pick devices, and both
// save the choice: a call in progress switches to it at once, later calls use it.

import { useEffect, useRef, useState } from 'preact/hooks';
import { asCommandError, commands } from '../ipc/commands';
import type { AudioInput, AudioOutput, DeviceList, Settings, VideoInput } from '../ipc/types';
import { levelFraction } from '../state/app';
import { renderer } from '../video/renderer';
import { audioInputValue, audioOutputValue, parseAudioInput, parseAudioOutput, parseVideoInput, videoInputValue } from './devices';

export function useDevices(): DeviceList | null {
  const [devices, setDevices] = useState<DeviceList | null>(null);
  useEffect(() => {
    commands.listDevices().then(setDevices, () => setDevices({ cameras: [], microphones: [], speakers: [] }));
  }, []);
  return devices;
}

export function DevicePickers({ settings, devices, onChange }: { settings: Settings; devices: DeviceList | null; onChange: (s: Settings) => void }) {
  return (
    <fieldset>
      <legend>Devices</legend>
      <label>
        Camera
        <select id="video-input" value={videoInputValue(settings.video_input)}
          onChange={(e) => onChange({ ...settings, video_input: parseVideoInput(e.currentTarget.value) as VideoInput })}>
          <option value="camera">Default camera</option>
          {devices?.cameras.map((d) => <option key={d.name} value={`named:${d.name}`}>{d.name}</option>)}
          <option value="test_pattern">Test pattern</option>
          <option value="none">No video</option>
        </select>
      </label>
      <label>
        Microphone
        <select id="audio-input" value={audioInputValue(settings.audio_input)}
          onChange={(e) => onChange({ ...settings, audio_input: parseAudioInput(e.currentTarget.value) as AudioInput })}>
          <option value="microphone">Default microphone</option>
          {devices?.microphones.map((d) => <option key={d.name} value={`named:${d.name}`}>{d.name}</option>)}
          <option value="tone">Test tone</option>
          <option value="none">No audio</option>
        </select>
      </label>
      <label>
        Speaker
        <select id="audio-output" value={audioOutputValue(settings.audio_output)}
          onChange={(e) => onChange({ ...settings, audio_output: parseAudioOutput(e.currentTarget.value) as AudioOutput })}>
          <option value="default">Default speaker</option>
          {devices?.speakers.map((d) => <option key={d.name} value={`named:${d.name}`}>{d.name}</option>)}
          <option value="none">No sound</option>
        </select>
      </label>
    </fieldset>
  );
}

/** The device pickers inside the call window: each change is saved and
 * the running call switches to the device at once. */
export function CallDevices({ onClose }: { onClose: () => void }) {
  const [settings, setSettings] = useState<Settings | null>(null);
  const [error, setError] = useState<string | null>(null);
  const devices = useDevices();
  useEffect(() => {
    void commands.getSettings().then(setSettings);
  }, []);
  useEffect(() => {
    if (settings) document.getElementById('video-input')?.focus();
  }, [settings === null]);
  const change = async (next: Settings) => {
    setSettings(next);
    try {
      await commands.saveSettings(next);
      setError(null);
    } catch (err) {
      setError(asCommandError(err).message);
    }
  };
  return (
    <div id="call-device-panel" class="card device-panel" role="dialog" aria-labelledby="call-devices-title"
      onKeyDown={(e) => { if (e.key === 'Escape') onClose(); }}>
      <h2 id="call-devices-title">Devices for this call</h2>
      {settings ? <DevicePickers settings={settings} devices={devices} onChange={(s) => void change(s)} /> : <p>Loading…</p>}
      {error && <p class="error" role="alert">{error}</p>}
      <button id="close-call-devices" onClick={onClose}>Done</button>
    </div>
  );
}

export function SettingsScreen({ onClose }: { onClose: () => void }) {
  const [settings, setSettings] = useState<Settings | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const devices = useDevices();
  useEffect(() => {
    void commands.getSettings().then(setSettings);
  }, []);
  if (!settings) return <main class="settings"><p>Loading…</p></main>;
  const save = async (e: Event) => {
    e.preventDefault();
    try {
      await commands.saveSettings(settings);
      setStatus('Saved. Devices change at once, in a call too; a new server address applies at the next sign-in.');
    } catch (err) {
      setStatus(asCommandError(err).message);
    }
  };
  return (
    <main class="settings" aria-labelledby="settings-title">
      <form class="card" onSubmit={save}>
        <h1 id="settings-title">Settings</h1>
        <label>
          Server address
          <input id="settings-server" type="url" value={settings.server}
            onInput={(e) => setSettings({ ...settings, server: e.currentTarget.value })} />
        </label>
        <DevicePickers settings={settings} devices={devices} onChange={setSettings} />
        <label class="inline">
          <input id="notifications" type="checkbox" checked={settings.notifications}
            onChange={(e) => setSettings({ ...settings, notifications: e.currentTarget.checked })} />
          Notify me of incoming calls when Clinicall is in the background
        </label>
        {status && <p role="status">{status}</p>}
        <div class="actions">
          <button id="save-settings" type="submit" class="primary">Save</button>
          <button id="close-settings" type="button" onClick={onClose}>Back</button>
        </div>
      </form>
    </main>
  );
}

export function DeviceCheck({ micLevel, problems, onClose }: { micLevel: number | null; problems: { device: string; message: string }[]; onClose: () => void }) {
  const [settings, setSettings] = useState<Settings | null>(null);
  const devices = useDevices();
  const preview = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    void commands.getSettings().then(setSettings);
    renderer.setCanvas('local', preview.current);
    void renderer.attach().then(() => commands.startDeviceCheck());
    return () => {
      void commands.stopDeviceCheck();
      renderer.setCanvas('local', null);
      void renderer.detach();
    };
  }, []);
  const change = async (next: Settings) => {
    setSettings(next);
    await commands.saveSettings(next);
    // Restart with the new devices.
    await commands.stopDeviceCheck();
    await commands.startDeviceCheck();
  };
  const level = levelFraction(micLevel);
  return (
    <main class="device-check" aria-labelledby="check-title">
      <div class="card">
        <h1 id="check-title">Test your camera, microphone and speaker</h1>
        <canvas id="preview-video" class="preview" ref={preview} role="img" aria-label="Camera preview" />
        <div class="meter-row">
          <span id="mic-label">Microphone level</span>
          <div id="mic-meter" class="meter" role="meter" aria-labelledby="mic-label" aria-valuemin={0} aria-valuemax={100}
            aria-valuenow={Math.round(level * 100)}>
            <div class="fill" style={{ width: `${level * 100}%` }} />
          </div>
        </div>
        {problems.map((p) => <p class="error" role="alert" key={p.device}>{p.device}: {p.message}</p>)}
        {settings && <DevicePickers settings={settings} devices={devices} onChange={(s) => void change(s)} />}
        <div class="actions">
          <button id="test-speaker" onClick={() => void commands.playTestTone()}>Play a test sound</button>
          <button id="close-device-check" onClick={onClose}>Done</button>
        </div>
      </div>
    </main>
  );
}
