// One attachment in a message: a thumbnail for pictures (the whole file
// once it is cached, so it shows offline), a button that fetches the file
// and offers it to save.

import { useEffect, useState } from 'preact/hooks';
import { asCommandError, commands } from '../ipc/commands';
import type { AttachmentMeta } from '../ipc/chat';

function sizeText(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function blobUrl(bytes: ArrayBuffer, type: string): string {
  return URL.createObjectURL(new Blob([bytes], { type }));
}

export function ChatAttachment({ meta }: { meta: AttachmentMeta }) {
  const [thumb, setThumb] = useState<string | null>(null);
  const [file, setFile] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const image = meta.content_type.startsWith('image/');

  useEffect(() => {
    if (!image) return;
    let url: string | null = null;
    let live = true;
    commands
      .chatAttachment(meta, true)
      .then((bytes) => {
        url = blobUrl(bytes, 'image/jpeg');
        if (live) setThumb(url);
      })
      .catch((e) => live && setError(asCommandError(e).message));
    return () => {
      live = false;
      if (url) URL.revokeObjectURL(url);
    };
  }, [meta.id]);

  useEffect(() => () => { if (file) URL.revokeObjectURL(file); }, [file]);

  const fetchFile = () => {
    setError(null);
    commands
      .chatAttachment(meta, false)
      .then((bytes) => setFile(blobUrl(bytes, meta.content_type)))
      .catch((e) => setError(asCommandError(e).message));
  };

  return (
    <div class="attachment" data-attachment-id={meta.id}>
      {image && thumb && <img src={thumb} alt={meta.name} class="thumb" />}
      <span class="file-name">{meta.name}</span> <span class="file-size">{sizeText(meta.size)}</span>
      {file ? (
        <a href={file} download={meta.name} class="save-file">Save</a>
      ) : (
        <button type="button" class="fetch-file" onClick={fetchFile} aria-label={`Download ${meta.name}`}>Download</button>
      )}
      {error && <span class="error" role="alert">{error}</span>}
    </div>
  );
}
