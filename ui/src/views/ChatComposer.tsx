// The composer: Enter sends, Shift+Enter starts a new line; typing
// on/off goes to the other party, throttled (chat/typing.ts); files are
// picked, previewed (pictures), uploaded on send and sent with the text.

import { useEffect, useRef, useState } from 'preact/hooks';
import { onKey, onStop, type OwnTyping, TYPING_IDLE_MS } from '../chat/typing';
import type { AttachmentDraft } from '../ipc/chat';
import { asCommandError, commands } from '../ipc/commands';

/** What the server takes (signaling-server's attachment sniffing). */
const ACCEPT = 'image/png,image/jpeg,image/gif,image/webp,application/pdf';

interface Props {
  conversationId: string;
  /** Called after a send went into the outbox. */
  onSent?: () => void;
}

async function readDraft(file: File): Promise<AttachmentDraft> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const preview = file.type.startsWith('image/') ? URL.createObjectURL(file) : null;
  return { name: file.name, content_type: file.type || 'application/octet-stream', bytes, preview };
}

export function ChatComposer({ conversationId, onSent }: Props) {
  const [text, setText] = useState('');
  const [drafts, setDrafts] = useState<AttachmentDraft[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const own = useRef<OwnTyping>({ sentAt: null });
  const idle = useRef<number | undefined>(undefined);
  const picker = useRef<HTMLInputElement>(null);

  const typing = (send: boolean | null) => {
    if (send !== null) void commands.chatTyping(conversationId, send).catch(() => {});
  };
  const stopTyping = () => {
    window.clearTimeout(idle.current);
    const step = onStop(own.current);
    own.current = step.own;
    typing(step.send);
  };
  // Leaving the thread (or the window) ends our typing.
  useEffect(() => stopTyping, [conversationId]);
  // Previews live until their draft is removed or sent, or the composer goes.
  const shown = useRef<AttachmentDraft[]>([]);
  shown.current = drafts;
  const release = (gone: AttachmentDraft[]) => gone.forEach((d) => d.preview && URL.revokeObjectURL(d.preview));
  useEffect(() => () => release(shown.current), []);

  const onInput = (value: string) => {
    setText(value);
    const step = onKey(own.current, Date.now(), value.trim() === '');
    own.current = step.own;
    typing(step.send);
    window.clearTimeout(idle.current);
    idle.current = window.setTimeout(stopTyping, TYPING_IDLE_MS);
  };

  const send = async () => {
    if (busy || (text.trim() === '' && drafts.length === 0)) return;
    setBusy(true);
    setError(null);
    stopTyping();
    try {
      const metas = [];
      for (const d of drafts) metas.push(await commands.chatUpload(conversationId, d.name, d.content_type, d.bytes));
      await commands.chatSend(conversationId, text.trim(), metas);
      setText('');
      release(drafts);
      setDrafts([]);
      onSent?.();
    } catch (e) {
      setError(asCommandError(e).message);
    } finally {
      setBusy(false);
    }
  };

  const onPick = async (input: HTMLInputElement) => {
    const files = Array.from(input.files ?? []);
    input.value = '';
    const read = await Promise.all(files.map(readDraft));
    setDrafts((old) => [...old, ...read]);
  };

  return (
    <form class="composer" onSubmit={(e) => { e.preventDefault(); void send(); }}>
      {drafts.length > 0 && (
        <ul class="drafts" aria-label="Files to send">
          {drafts.map((d, i) => (
            <li key={`${d.name}-${i}`} class="draft">
              {d.preview ? <img src={d.preview} alt={`Preview of ${d.name}`} class="preview-thumb" /> : <span class="file-kind">PDF</span>}
              <span>{d.name}</span>
              <button type="button" aria-label={`Remove ${d.name}`}
                onClick={() => { release([d]); setDrafts(drafts.filter((_, j) => j !== i)); }}>✕</button>
            </li>
          ))}
        </ul>
      )}
      {error && <p class="error" role="alert">{error}</p>}
      <div class="composer-row">
        <label class="attach" title="Attach a picture or PDF">
          Attach
          <input id="attach-file" ref={picker} type="file" accept={ACCEPT} multiple
            onChange={(e) => void onPick(e.currentTarget)} />
        </label>
        <label class="message-box">
          <span class="visually-hidden">Message</span>
          <textarea id="composer-text" rows={2} value={text} placeholder="Write a message"
            onInput={(e) => onInput(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
                e.preventDefault();
                void send();
              }
            }} />
        </label>
        <button id="send-message" type="submit" class="primary" disabled={busy}>Send</button>
      </div>
    </form>
  );
}
