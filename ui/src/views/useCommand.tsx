// Running a shell command from a view: busy while it runs, and its failure
// kept to show (never thrown away). Loading data the same way.

import { useEffect, useState } from 'preact/hooks';
import { asCommandError } from '../ipc/commands';
import type { CommandError } from '../ipc/types';

export function useCommand() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<CommandError | null>(null);
  /** Runs `fn`; its result, or undefined when it failed (the error is kept and given to `onError`). */
  const run = async <T,>(fn: () => Promise<T>, onError?: (e: CommandError) => void): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    try {
      return await fn();
    } catch (e) {
      const error = asCommandError(e);
      setError(error);
      onError?.(error);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}

/** `load()` whenever a key changes; a late answer for older keys is dropped. */
export function useLoad<T>(load: () => Promise<T>, keys: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let current = true;
    setError(null);
    load().then(
      (value) => { if (current) { setData(value); setLoaded(true); } },
      (e) => current && setError(asCommandError(e).message),
    );
    return () => { current = false; };
  }, keys);
  return { data, loaded, error };
}

export function ErrorText({ error, id }: { error: CommandError | string | null; id?: string }) {
  if (!error) return null;
  return <p id={id} class="error" role="alert">{typeof error === 'string' ? error : error.message}</p>;
}
