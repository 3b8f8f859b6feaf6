// The call's surfaces: the incoming dialog, the outgoing screen, the
// "call ended" notice for unanswered calls, and the call window.

import { useEffect, useRef, useState } from 'preact/hooks';
import type { AppState } from '../state/app';
import { endReasonText, formatDuration, statsLines } from '../state/app';
import { renderer } from '../video/renderer';
import { startRingtone } from './ringtone';
import { CallDevices } from './Settings';
import { CallChat } from './CallChat';

export function IncomingCall({ state, onAccept, onReject }: { state: AppState; onAccept: () => void; onReject: () => void }) {
  const accept = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    accept.current?.focus();
    return startRingtone();
  }, []);
  const name = state.call?.peer?.name ?? 'Someone';
  return (
    <div class="overlay">
      <div id="incoming-call" class="card dialog" role="alertdialog" aria-modal="true"
        aria-labelledby="incoming-title" aria-describedby="incoming-desc">
        <h2 id="incoming-title">Incoming video call</h2>
        <p id="incoming-desc">{name} is calling you.</p>
        <div class="actions">
          <button id="accept-call" ref={accept} class="primary" onClick={onAccept}>Accept</button>
          <button id="reject-call" class="danger" onClick={onReject}>Decline</button>
        </div>
      </div>
    </div>
  );
}

export function OutgoingCall({ state, onCancel }: { state: AppState; onCancel: () => void }) {
  const cancel = useRef<HTMLButtonElement>(null);
  useEffect(() => cancel.current?.focus(), []);
  return (
    <div class="overlay">
      <div id="outgoing-call" class="card dialog" role="dialog" aria-modal="true" aria-labelledby="outgoing-title">
        <h2 id="outgoing-title">Calling {state.call?.peer?.name ?? '…'}</h2>
        <p role="status">Ringing…</p>
        <button id="cancel-call" ref={cancel} class="danger" onClick={onCancel}>Cancel</button>
      </div>
    </div>
  );
}

export function EndedNotice({ state, onDismiss }: { state: AppState; onDismiss: () => void }) {
  const ok = useRef<HTMLButtonElement>(null);
  useEffect(() => ok.current?.focus(), []);
  return (
    <div class="overlay">
      <div id="call-ended" class="card dialog" role="alertdialog" aria-modal="true" aria-labelledby="ended-title">
        <h2 id="ended-title">Call ended</h2>
        <p id="end-reason" data-reason={state.call?.end_reason ?? ''}>
          {endReasonText(state.call?.end_reason ?? null, state.call?.outgoing ?? null)}
        </p>
        <button id="dismiss-call" ref={ok} onClick={onDismiss}>OK</button>
      </div>
    </div>
  );
}

interface CallWindowProps {
  state: AppState;
  onMute: (muted: boolean) => void;
  onCameraOff: (off: boolean) => void;
  onHangUp: () => void;
  onToggleStats: () => void;
  onDismiss: () => void;
  onToggleChat: () => void;
  onTypingExpired: () => void;
}

export function CallWindow(props: CallWindowProps) {
  const { state } = props;
  const call = state.call;
  const ended = call?.phase === 'ended';
  const remote = useRef<HTMLCanvasElement>(null);
  const local = useRef<HTMLCanvasElement>(null);
  const hangUp = useRef<HTMLButtonElement>(null);
  const devicesButton = useRef<HTMLButtonElement>(null);
  const [showDevices, setShowDevices] = useState(false);
  const closeDevices = () => {
    setShowDevices(false);
    devicesButton.current?.focus();
  };
  useEffect(() => {
    renderer.setCanvas('remote', remote.current);
    renderer.setCanvas('local', local.current);
    void renderer.attach();
    hangUp.current?.focus();
    return () => {
      renderer.setCanvas('remote', null);
      renderer.setCanvas('local', null);
      void renderer.detach();
    };
  }, []);
  const peer = call?.peer?.name ?? 'the other party';
  return (
    <div id="call-window" class={`call-window${state.callChat ? ' with-chat' : ''}`} role="region" aria-label={`Video call with ${peer}`} data-phase={call?.phase}>
      <canvas id="remote-video" class="remote" ref={remote} role="img" aria-label={`Video of ${peer}`} />
      <canvas id="local-video" class="local" ref={local} role="img" aria-label="Your camera" />
      {call?.phase === 'connecting' && <p class="banner" role="status">Connecting…</p>}
      {call?.phase === 'reconnecting' && (
        <p id="reconnecting" class="banner warn" role="status">Connection lost — reconnecting…</p>
      )}
      {call && !call.signaling_ok && !ended && (
        <p class="banner warn" role="status">The server is unreachable; the call continues.</p>
      )}
      {state.problems.map((p) => (
        <p class="banner warn device-problem" role="alert" key={p.device}>
          {p.device === 'camera' ? 'Camera' : p.device === 'microphone' ? 'Microphone' : 'Speaker'}: {p.message}
        </p>
      ))}
      {ended && (
        <div class="ended-panel" role="alert">
          <p id="end-reason" data-reason={call?.end_reason ?? ''}>{endReasonText(call?.end_reason ?? null, call?.outgoing ?? null)}</p>
          <button id="close-call" onClick={props.onDismiss}>Close</button>
        </div>
      )}
      {state.showStats && (
        <div id="stats-overlay" class="stats" role="status" aria-live="off">
          {state.stats && <p>Call time {formatDuration(state.stats.elapsed_ms)}</p>}
          {statsLines(state.stats).map((line) => <p key={line}>{line}</p>)}
        </div>
      )}
      {showDevices && !ended && <CallDevices onClose={closeDevices} />}
      {state.callChat && call?.peer && (
        <CallChat state={state} peer={call.peer} onTypingExpired={props.onTypingExpired} />
      )}
      {!ended && (
        <div class="controls" role="toolbar" aria-label="Call controls">
          <button id="toggle-mute" aria-pressed={state.muted} onClick={() => props.onMute(!state.muted)}>
            {state.muted ? 'Unmute' : 'Mute'}
          </button>
          <button id="toggle-camera" aria-pressed={state.cameraOff} onClick={() => props.onCameraOff(!state.cameraOff)}>
            {state.cameraOff ? 'Turn camera on' : 'Turn camera off'}
          </button>
          <button id="toggle-stats" aria-pressed={state.showStats} onClick={props.onToggleStats}>Statistics</button>
          <button id="toggle-call-chat" aria-pressed={state.callChat} onClick={props.onToggleChat}
            disabled={state.chat.unavailable !== null}>Chat</button>
          <button id="call-devices" ref={devicesButton} aria-expanded={showDevices}
            onClick={() => (showDevices ? closeDevices() : setShowDevices(true))}>Devices</button>
          <button id="hang-up" ref={hangUp} class="danger" onClick={props.onHangUp}>Hang up</button>
        </div>
      )}
    </div>
  );
}
