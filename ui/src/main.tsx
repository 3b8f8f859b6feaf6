import { render } from 'preact';
import { useEffect, useReducer, useState } from 'preact/hooks';
import { asCommandError, commands } from './ipc/commands';
import type { Settings } from './ipc/types';
import { callSurface, initialState, reduce } from './state/app';
import { AppointmentPages } from './views/AppointmentPages';
import { CallWindow, EndedNotice, IncomingCall, OutgoingCall } from './views/CallSurfaces';
import { ChatScreen } from './views/ChatScreen';
import { Home } from './views/Home';
import { ReminderBanner } from './views/ReminderBanner';
import { DeviceCheck, SettingsScreen } from './views/Settings';
import { SignIn } from './views/SignIn';
import { useAppointments } from './views/useAppointments';
import './styles.css';

function App() {
  const [state, dispatch] = useReducer(reduce, initialState);
  const [settings, setSettings] = useState<Settings | null>(null);
  useAppointments(state, dispatch);

  useEffect(() => {
    (async () => {
      await commands.subscribe((event) => dispatch({ type: 'event', event }));
      const info = await commands.appInfo();
      setSettings(info.settings);
      try {
        const account = await commands.restoreSession();
        if (account) dispatch({ type: 'signed_in', account });
        else dispatch({ type: 'show_sign_in' });
      } catch (e) {
        dispatch({ type: 'show_sign_in', notice: asCommandError(e).message });
      }
    })();
  }, []);

  // Failed call actions are shown, not thrown away.
  const act = (action: () => Promise<void>) => {
    action().catch((e) => dispatch({ type: 'notice', notice: asCommandError(e).message }));
  };

  if (state.screen === 'starting') {
    return <main class="starting" aria-busy="true"><p>Starting…</p></main>;
  }
  if (state.screen === 'sign_in' || !state.account) {
    return (
      <SignIn
        server={settings?.server ?? 'http://127.0.0.1:8080'}
        email={settings?.remembered_email ?? null}
        notice={state.notice}
        onSignedIn={(account) => dispatch({ type: 'signed_in', account })}
      />
    );
  }

  const surface = callSurface(state);
  const openChatWith = (userId: string, navigate: boolean) =>
    act(async () => {
      const id = await commands.chatOpen(userId);
      dispatch({ type: 'chat_open', conversationId: id });
      if (navigate) dispatch({ type: 'navigate', screen: 'chat' });
    });
  const typingExpired = () => dispatch({ type: 'chat_typing_expired', now: Date.now() });

  if (surface === 'call_window') {
    return (
      <CallWindow
        state={state}
        onToggleChat={() => dispatch({ type: 'toggle_call_chat' })}
        onTypingExpired={typingExpired}
        onMute={(muted) => act(async () => { await commands.setMuted(muted); dispatch({ type: 'muted', muted }); })}
        onCameraOff={(off) => act(async () => { await commands.setCameraOff(off); dispatch({ type: 'camera_off', off }); })}
        onHangUp={() => act(commands.hangUp)}
        onToggleStats={() => dispatch({ type: 'toggle_stats' })}
        onDismiss={() => dispatch({ type: 'dismiss_call' })}
      />
    );
  }

  let page;
  switch (state.screen) {
    case 'settings':
      page = <SettingsScreen onClose={() => dispatch({ type: 'navigate', screen: 'home' })} />;
      break;
    case 'chat':
      page = (
        <ChatScreen state={state} onTypingExpired={typingExpired}
          onOpen={(conversationId, focusMessage) => dispatch({ type: 'chat_open', conversationId, focusMessage })}
          onBack={() => dispatch({ type: 'navigate', screen: 'home' })} />
      );
      break;
    case 'appointments':
    case 'directory':
    case 'doctor':
    case 'appointment':
    case 'my_profile':
      page = <AppointmentPages state={state} dispatch={dispatch} />;
      break;
    case 'device_check':
      page = (
        <DeviceCheck micLevel={state.micLevel} problems={state.problems}
          onClose={() => dispatch({ type: 'navigate', screen: 'home' })} />
      );
      break;
    default:
      page = (
        <Home
          state={state}
          onCall={(userId) => act(() => commands.placeCall(userId))}
          onMessage={(userId) => openChatWith(userId, true)}
          onNavigate={(screen) => dispatch({ type: 'navigate', screen })}
          onOpenAppointment={(id) => dispatch({ type: 'show_appointment', id })}
          onSignOut={(erase) =>
            commands.signOut(erase).then(
              () => dispatch({ type: 'show_sign_in' }),
              // Signed out either way; say what did not happen.
              (e) => dispatch({ type: 'show_sign_in', notice: asCommandError(e).message }),
            )}
        />
      );
  }
  const reminder = state.appointments.reminder;
  return (
    <>
      {reminder && (
        <ReminderBanner reminder={reminder} viewer={state.account.person.role}
          onOpen={(id) => dispatch({ type: 'show_appointment', id })} onDismiss={() => dispatch({ type: 'reminder_dismiss' })} />
      )}
      {page}
      {state.notice && (
        <p class="toast" role="alert">
          {state.notice} <button onClick={() => dispatch({ type: 'notice', notice: null })}>Dismiss</button>
        </p>
      )}
      {surface === 'incoming' && (
        <IncomingCall state={state} onAccept={() => act(commands.acceptCall)} onReject={() => act(commands.rejectCall)} />
      )}
      {surface === 'outgoing' && <OutgoingCall state={state} onCancel={() => act(commands.cancelCall)} />}
      {surface === 'ended_notice' && <EndedNotice state={state} onDismiss={() => dispatch({ type: 'dismiss_call' })} />}
    </>
  );
}

render(<App />, document.getElementById('app')!);
