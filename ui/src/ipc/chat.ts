// Chat types the shell sends and receives: mirrors of src-tauri/src/chat.rs
// (ChatView types). Keep the two in step.

import type { Person } from './types';

/** What the server knows of an uploaded file (protocol AttachmentMeta). */
export interface AttachmentMeta {
  id: string;
  name: string;
  content_type: string;
  size: number;
  sha256: string;
  has_thumbnail: boolean;
}

/** One message as the thread shows it. */
export interface ChatMessageView {
  id: string;
  conversation_id: string;
  sender: string;
  mine: boolean;
  body: string;
  attachments: AttachmentMeta[];
  /** The server's order; null while waiting in the outbox. */
  seq: number | null;
  /** Server time when sent, this device's time while pending (Unix ms). */
  time_ms: number;
  /** Why the server refused it for good (it will not be sent), or null. */
  refused: string | null;
}

export interface ConversationItem {
  id: string;
  /** Null until the server's summary arrived (a message can come first). */
  peer: Person | null;
  last_seq: number;
  read_seq: number;
  peer_read_seq: number;
  unread: number;
  last_message: ChatMessageView | null;
}

/** The newest `limit` messages of a thread, newest first. */
export interface ThreadView {
  conversation_id: string;
  messages: ChatMessageView[];
  /** Older messages exist (held, or on the server). */
  has_older: boolean;
  peer_read_seq: number;
  read_seq: number;
}

export interface SnippetPart {
  text: string;
  highlighted: boolean;
}

export interface SearchHitView {
  conversation_id: string;
  message_id: string;
  seq: number | null;
  sender: string;
  time_ms: number;
  snippet: SnippetPart[];
}

export interface SearchView {
  hits: SearchHitView[];
  /** More hits exist past `limit`. */
  more: boolean;
}

/** A file read in the window, ready to upload or drop. */
export interface AttachmentDraft {
  name: string;
  content_type: string;
  bytes: Uint8Array;
  /** An object URL for an image preview, or null. */
  preview: string | null;
}

export type ChatEvent =
  | { type: 'chat_conversations'; conversations: ConversationItem[] }
  | { type: 'chat_thread'; conversation_id: string }
  | { type: 'chat_typing'; conversation_id: string; user_id: string; typing: boolean }
  | { type: 'chat_status'; online: boolean; pending: number }
  | { type: 'chat_unavailable'; message: string };
