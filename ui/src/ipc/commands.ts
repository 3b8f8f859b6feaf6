// Typed wrappers for every shell command (src-tauri/src/commands.rs).
// The rest of the UI calls these, never `invoke` with a string.

import { Channel, invoke } from '@tauri-apps/api/core';
import type { AttachmentMeta, ConversationItem, SearchView, ThreadView } from './chat';
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
  signOut: (eraseHistory = false) => invoke<void>('sign_out', { eraseHistory }),
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

  chatConversations: () => invoke<ConversationItem[]>('chat_conversations'),
  chatOpen: (userId: string) => invoke<string>('chat_open', { userId }),
  chatThread: (conversationId: string, limit: number) => invoke<ThreadView>('chat_thread', { conversationId, limit }),
  chatLoadOlder: (conversationId: string, limit: number) =>
    invoke<ThreadView>('chat_load_older', { conversationId, limit }),
  chatSend: (conversationId: string, body: string, attachments: AttachmentMeta[]) =>
    invoke<string>('chat_send', { conversationId, body, attachments }),
  chatMarkRead: (conversationId: string, upToSeq: number) =>
    invoke<void>('chat_mark_read', { conversationId, upToSeq }),
  chatTyping: (conversationId: string, typing: boolean) => invoke<void>('chat_typing', { conversationId, typing }),
  chatSearch: (text: string, limit: number, conversationId: string | null = null) =>
    invoke<SearchView>('chat_search', { text, limit, conversationId }),
  /** The bytes go as the raw invoke body, not as a JSON array of numbers. */
  chatUpload: (conversationId: string, name: string, contentType: string, bytes: Uint8Array) =>
    invoke<AttachmentMeta>('chat_upload', bytes, {
      headers: {
        'x-conversation': conversationId,
        'x-file-name': encodeURIComponent(name),
        'x-content-type': contentType,
      },
    }),
  /** The file (or its thumbnail) as bytes. */
  chatAttachment: (attachment: AttachmentMeta, thumbnail: boolean) =>
    invoke<ArrayBuffer>('chat_attachment', { attachment, thumbnail }),
};
