// Typed wrappers for every shell command (src-tauri/src/commands.rs).
// The rest of the UI calls these, never `invoke` with a string.

import { Channel, invoke } from '@tauri-apps/api/core';
import type { AccountView, AppInfo, CommandError, DeviceList, DisplayMode, Settings, UiEvent } from './types';

/** Turns whatever a failed invoke threw into a CommandError. */
export function asCommandError(e: unknown): CommandError {
  if (e && typeof e === 'object' && 'message' in e && 'code' in e) {
    return e as CommandError;
  }
  return { code: 'internal', message: String(e) };
}

export const commands = {
  appInfo: () => invoke<AppInfo>('app_info'),
  subscribe: (onEvent: (event: UiEvent) => void) => {
    const events = new Channel<UiEvent>();
    events.onmessage = onEvent;
    return invoke<void>('subscribe', { events });
  },
  signIn: (server: string, email: string, password: string, remember: boolean) =>
    invoke<AccountView>('sign_in', { server, email, password, remember }),
  restoreSession: () => invoke<AccountView | null>('restore_session'),
  signOut: () => invoke<void>('sign_out'),
  placeCall: (userId: string) => invoke<void>('place_call', { userId }),
  acceptCall: () => invoke<void>('accept_call'),
  rejectCall: () => invoke<void>('reject_call'),
  cancelCall: () => invoke<void>('cancel_call'),
  hangUp: () => invoke<void>('hang_up'),
  setMuted: (muted: boolean) => invoke<void>('set_muted', { muted }),
  setCameraOff: (off: boolean) => invoke<void>('set_camera_off', { off }),
  refreshVideo: () => invoke<void>('refresh_video'),
  attachVideo: (onFrame: (message: ArrayBuffer) => void, mode: DisplayMode) => {
    const frames = new Channel<ArrayBuffer>();
    frames.onmessage = onFrame;
    return invoke<void>('attach_video', { frames, mode });
  },
  detachVideo: () => invoke<void>('detach_video'),
  getSettings: () => invoke<Settings>('get_settings'),
  saveSettings: (settings: Settings) => invoke<void>('save_settings', { settings }),
  listDevices: () => invoke<DeviceList>('list_devices'),
  startDeviceCheck: () => invoke<void>('start_device_check'),
  stopDeviceCheck: () => invoke<void>('stop_device_check'),
  playTestTone: () => invoke<void>('play_test_tone'),
  reportDisplayStats: (stats: unknown) => invoke<void>('report_display_stats', { stats }),
};
