import { useState } from 'preact/hooks';
import { asCommandError, commands } from '../ipc/commands';
import type { AccountView } from '../ipc/types';

interface Props {
  server: string;
  email: string | null;
  notice: string | null;
  onSignedIn: (account: AccountView) => void;
}

export function SignIn({ server: initialServer, email: initialEmail, notice, onSignedIn }: Props) {
  const [server, setServer] = useState(initialServer);
  const [email, setEmail] = useState(initialEmail ?? '');
  const [password, setPassword] = useState('');
  const [remember, setRemember] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await commands.signIn(server, email, password, remember));
    } catch (err) {
      setError(asCommandError(err).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in" aria-labelledby="sign-in-title">
      <form onSubmit={submit} class="card">
        <h1 id="sign-in-title">Sign in to Clinicall</h1>
        {notice && <p class="notice" role="status">{notice}</p>}
        <label>
          Server address
          <input id="server" type="url" required value={server} onInput={(e) => setServer(e.currentTarget.value)} />
        </label>
        <label>
          Email
          <input id="email" type="email" autoComplete="username" required value={email}
            onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input id="password" type="password" autoComplete="current-password" required value={password}
            onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <label class="inline">
          <input id="remember" type="checkbox" checked={remember} onChange={(e) => setRemember(e.currentTarget.checked)} />
          Keep me signed in on this computer
        </label>
        {error && <p id="sign-in-error" class="error" role="alert">{error}</p>}
        <button id="sign-in" type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
