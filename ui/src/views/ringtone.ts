// The incoming-call ring, made with Web Audio (no sound file to ship).
// Returns a function that stops it. Silently does nothing where the web
// view has no audio output.

export function startRingtone(): () => void {
  const Context = (globalThis as { AudioContext?: typeof AudioContext }).AudioContext;
  if (!Context) return () => {};
  let context: AudioContext;
  try {
    context = new Context();
  } catch {
    return () => {};
  }
  const gain = context.createGain();
  gain.gain.value = 0;
  gain.connect(context.destination);
  const tones = [440, 480].map((frequency) => {
    const osc = context.createOscillator();
    osc.frequency.value = frequency;
    osc.connect(gain);
    osc.start();
    return osc;
  });
  // Two seconds on, four off, like a phone.
  const ring = () => {
    const t = context.currentTime;
    gain.gain.setValueAtTime(0.15, t);
    gain.gain.setValueAtTime(0, t + 2);
  };
  ring();
  const timer = window.setInterval(ring, 6000);
  return () => {
    window.clearInterval(timer);
    tones.forEach((osc) => osc.stop());
    void context.close();
  };
}
