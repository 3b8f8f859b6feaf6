import { describe, expect, it } from 'vitest';
import { snippetSegments, snippetText } from './snippet';

describe('snippets', () => {
  it('merges neighbours of the same kind and drops empty parts', () => {
    const parts = [
      { text: 'the ', highlighted: false },
      { text: '', highlighted: true },
      { text: 'rash ', highlighted: false },
      { text: 'cream', highlighted: true },
      { text: 's', highlighted: true },
      { text: ' twice', highlighted: false },
    ];
    expect(snippetSegments(parts)).toEqual([
      { text: 'the rash ', highlighted: false },
      { text: 'creams', highlighted: true },
      { text: ' twice', highlighted: false },
    ]);
    expect(snippetText(parts)).toBe('the rash creams twice');
  });

  it('does not change its input', () => {
    const parts = [{ text: 'a', highlighted: true }, { text: 'b', highlighted: true }];
    snippetSegments(parts);
    expect(parts[0].text).toBe('a');
  });
});
