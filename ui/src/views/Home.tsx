import type { AppState, Screen } from '../state/app';
import { totalUnread } from '../state/chat';
import { HomeVisits } from './HomeVisits';

interface Props {
  state: AppState;
  onCall: (userId: string) => void;
  onMessage: (userId: string) => void;
  onNavigate: (screen: Extract<Screen, 'settings' | 'device_check' | 'chat' | 'appointments' | 'directory' | 'my_profile'>) => void;
  onOpenAppointment: (id: string) => void;
  onSignOut: (eraseHistory: boolean) => void;
}

export function Home({ state, onCall, onMessage, onNavigate, onOpenAppointment, onSignOut }: Props) {
  const unread = totalUnread(state.chat);
  const inCall = state.call !== null && state.call.phase !== 'ended';
  return (
    <div class="home">
      <header class="top-bar">
        <h1>Clinicall</h1>
        <span id="connection" class={`connection ${state.connection}`} role="status">
          {state.connection === 'online' ? 'Online' : state.connection === 'reconnecting' ? 'Reconnecting…' : 'Offline'}
        </span>
        <span class="who">{state.account?.person.name}</span>
        <nav aria-label="Main">
          <button id="open-chat" onClick={() => onNavigate('chat')}>
            Messages
            {unread > 0 && <span id="chat-unread-total" class="unread-badge" aria-label={`${unread} unread`}>{unread}</span>}
          </button>
          <button id="open-device-check" onClick={() => onNavigate('device_check')}>Test camera and microphone</button>
          <button id="open-settings" onClick={() => onNavigate('settings')}>Settings</button>
          <button id="sign-out" onClick={() => onSignOut(false)}>Sign out</button>
          <button id="sign-out-erase" onClick={() => onSignOut(true)}
            title="Also deletes the chat history kept on this computer">Sign out and erase chat history on this computer</button>
        </nav>
      </header>
      <main aria-labelledby="contacts-title">
        <HomeVisits state={state} onNavigate={onNavigate} onOpen={onOpenAppointment} />
        <h2 id="contacts-title">Contacts</h2>
        {state.contacts.length === 0 ? (
          <p class="empty">No contacts yet.</p>
        ) : (
          <ul class="contacts">
            {state.contacts.map((c) => (
              <li key={c.person.id} class="contact" data-user-id={c.person.id} data-online={String(c.online)}>
                <span class={`presence ${c.online ? 'online' : 'offline'}`} aria-hidden="true" />
                <span class="name">{c.person.name}</span>
                <span class="role">{c.person.role}</span>
                <span class="status">{c.online ? 'Online' : 'Offline'}</span>
                <button class="message" disabled={state.chat.unavailable !== null}
                  aria-label={`Message ${c.person.name}`} onClick={() => onMessage(c.person.id)}>
                  Message
                </button>
                <button
                  class="call"
                  disabled={!c.online || inCall || state.connection !== 'online'}
                  aria-label={`Video call ${c.person.name}`}
                  onClick={() => onCall(c.person.id)}
                >
                  Call
                </button>
              </li>
            ))}
          </ul>
        )}
      </main>
    </div>
  );
}
