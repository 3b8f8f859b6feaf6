// Search snippets: the cache marks matched terms; the view shows them
// with <mark>. Adjacent parts of the same kind are merged and empty ones
// dropped, so the markup stays small and screen readers do not stutter.

import type { SnippetPart } from '../ipc/chat';

export function snippetSegments(parts: SnippetPart[]): SnippetPart[] {
  const out: SnippetPart[] = [];
  for (const part of parts) {
    if (part.text === '') continue;
    const last = out[out.length - 1];
    if (last && last.highlighted === part.highlighted) {
      out[out.length - 1] = { text: last.text + part.text, highlighted: last.highlighted };
    } else {
      out.push({ ...part });
    }
  }
  return out;
}

/** The snippet as plain text (an accessible label, or a fallback). */
export function snippetText(parts: SnippetPart[]): string {
  return parts.map((p) => p.text).join('');
}
