//! `clinicall-headless`: the Clinicall client without a window.
//!
//! Signs in, connects to the signaling server, and then lists contacts,
//! places a call or answers one, printing every event as one JSON object
//! per line on stdout (logs go to stderr). Admins use it to smoke-test a
//! server; end-to-end tests use it to make real calls. It runs the same
//! client core as the desktop app: the signaling client and the call
//! machine under [`CallDriver`], with the WebRTC media engine sending
//! synthetic or file media and checking what comes back.

mod audio_devices;
mod chat;
mod media_io;
mod quality;

use clap::{ArgGroup, CommandFactory, Parser, ValueEnum};
use clinicall_client_core::call::{
    CallConfig, CallEndReason, CallEvent, CallSignaling, CallState, MediaRole,
};
use clinicall_client_core::driver::{
    CallDriver, CallHandle, DriverEvent, MediaEngine, SignalingOnlyMedia,
};
use clinicall_client_core::media::{MediaControl, MediaSettings, WebRtcEngine};
use clinicall_client_core::signaling::{
    AuthSession, ClientConfig, MemoryTokenStore, RestClient, SignalingClient,
};
use clinicall_devices::camera::CaptureRequest;
use clinicall_protocol::{
    AppointmentId, CallId, ClientMessage, Contact, ServerMessage, UserId, UserSummary,
};
use media_io::{AudioChoice, HeadlessMedia, SpeakerChoice, VideoChoice};
use serde_json::{Value, json};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The call went as asked (or the contacts were listed).
const EXIT_OK: u8 = 0;
/// The call did not go as asked: refused, rejected, never connected, or
/// ended by a failure.
const EXIT_CALL_FAILED: u8 = 1;
// 2 is clap's exit code for a bad command line.
/// `--timeout` passed first.
const EXIT_TIMEOUT: u8 = 3;
/// Could not sign in, or the login ended (signed out elsewhere).
const EXIT_SIGN_IN: u8 = 4;
/// Stopped by SIGINT or SIGTERM (after hanging up any call).
const EXIT_INTERRUPTED: u8 = 5;

/// Our `info`; the WebRTC stack's errors only (its warnings are about
/// routine races, such as a connectivity check arriving before the
/// candidate it belongs to). `RUST_LOG` overrides it.
const DEFAULT_LOG_FILTER: &str = "info,rtc=error,rtc_ice=error,rtc_dtls=error,rtc_srtp=error,rtc_sctp=error,rtc_interceptor=error";

/// How long to wait, after the run's outcome, for the hang-up and the
/// clean close of the connection.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(5);

const AFTER_HELP: &str = "\
OUTPUT:
  One JSON object per line on stdout, for example
    {\"event\":\"signaling\",\"state\":\"connected\",\"user_id\":\"…\",...}
    {\"event\":\"contact\",\"user_id\":\"…\",\"display_name\":\"Dr. Ada\",\"online\":true,...}
    {\"event\":\"call\",\"state\":\"connected\",\"call_id\":\"…\"}
    {\"event\":\"stats\",\"call_id\":\"…\",\"rtt_ms\":0.3,\"outbound\":{…},\"inbound\":{…},\"received\":{…}}
    {\"event\":\"ended\",\"call_id\":\"…\",\"reason\":\"hung_up\",\"local\":false,...}
    {\"event\":\"media_summary\",\"call_id\":\"…\",\"frames_decoded\":…,\"first_counter\":…,
     \"last_counter\":…,\"setup_ms\":…,\"latency_ms\":{…},\"audio_frequencies_hz\":[…]}
    {\"event\":\"resources\",\"open_fds\":…,\"threads\":…,\"tasks\":…,\"rss_kb\":…}
    {\"event\":\"camera\",\"call_id\":\"…\",\"name\":\"…\",\"width\":640,\"height\":480,\"fps\":30,...}
    {\"event\":\"warning\",\"call_id\":\"…\",\"source\":\"camera\",\"code\":\"no_camera\",\"message\":\"…\"}
    {\"event\":\"exit\",\"code\":0,\"message\":\"…\"}
  Logs go to stderr (filter with RUST_LOG; default: our `info`, the WebRTC
  stack's errors).
  `stats` comes once a second during a call: round-trip time, the type of
  our selected ICE candidate (`local_candidate_type`: host, srflx, prflx,
  or relay when the media goes through TURN), jitter, loss, bitrates,
  frames and frame rates both ways, and `received`: what the stamped test
  pattern and the tone that arrived say (last frame counter,
  capture-to-decode latency, dominant audio frequency).
  With --video camera, each call opens the camera: `camera` says which
  mode it captures in; if it cannot be opened, `warning` says why (codes:
  no_camera, camera_busy, camera_permission_denied,
  camera_unsupported_format, camera_failed) and the call goes on without
  our video.
  `media_summary` and `resources` follow each call (`resources` once its
  media session has released its sockets and threads).
  With --audio microphone or --speaker, an `audio_device` line names each
  sound device opened and its format
    {\"event\":\"audio_device\",\"direction\":\"output\",\"id\":\"default\",
     \"name\":…,\"channels\":2,\"sample_rate\":48000,\"sample_format\":\"F32\"}
  and `media_summary` has `speaker` (seconds played, silent, dropped;
  underruns). A device that cannot be opened or stops gives
    {\"event\":\"warning\",\"device\":\"microphone\",\"message\":\"…\",\"detail\":\"…\"}
  (with `available` devices when a name matched none) and the call goes on
  without it.

WAITING ROOM:
  `room` lines give each answer about an appointment's waiting room:
    {\"event\":\"room\",\"appointment_id\":\"…\",\"patient_id\":\"…\",\"waiting\":true}
    {\"event\":\"room\",\"error\":\"not_found\",\"message\":\"…\"}
  A visit (the appointment must be scheduled):
    clinicall-headless --email patient@x --wait-room <APPOINTMENT_ID>
    clinicall-headless --email doctor@x --admit <APPOINTMENT_ID> --hang-up-after 10

SMOKE-TESTING A SERVER:
  clinicall-headless --server https://clinic.example.org --email a@x --answer
  clinicall-headless --server https://clinic.example.org --email b@x \\
      --call-name \"A\" --hang-up-after 10
  Both exit 0 when the call connected, carried media, and was hung up.
  Add --relay-only on both sides to check the server's TURN relay too:
  `stats` then shows \"local_candidate_type\":\"relay\".

EXIT CODES:
  0  the call connected and was hung up (by either side), or --list
     succeeded, or (--incoming reject/ignore, --cancel-after) the call
     ended without connecting as asked
  1  the call did not go as asked (refused, rejected, unanswered, failed)
  2  bad command line
  3  --timeout passed
  4  could not sign in, or the login was ended by the server
  5  stopped by Ctrl-C or SIGTERM (a call in progress is hung up first)";

/// Headless Clinicall client: sign in, then list contacts, place a call or
/// answer one, printing every event as a JSON line on stdout.
#[derive(Debug, Parser)]
#[command(name = "clinicall-headless", version, after_help = AFTER_HELP)]
#[command(group(
    ArgGroup::new("mode")
        .required(true)
        .args(["call", "call_name", "answer", "list", "wait_room", "admit"])
))]
struct Args {
    /// Base URL of the signaling server (http/https; the WebSocket URL is
    /// derived from it).
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8787")]
    server: String,

    /// Email address of the account to sign in with.
    #[arg(long, value_name = "EMAIL")]
    email: String,

    /// Password of that account. Prefer the environment variable: a
    /// command line is visible to other users of the machine.
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "CLINICALL_PASSWORD",
        hide_env_values = true
    )]
    password: String,

    /// Allow clear-text http/ws to a host that is not this machine. Without
    /// it, only loopback may be reached without TLS.
    #[arg(long)]
    allow_insecure: bool,

    /// Mode: call the contact with this user id (a UUID, as printed by
    /// --list).
    #[arg(long, value_name = "USER_ID")]
    call: Option<UserId>,

    /// Mode: call the contact whose display name is this (case-insensitive;
    /// it must match exactly one contact).
    #[arg(long, value_name = "DISPLAY_NAME")]
    call_name: Option<String>,

    /// Mode: wait for an incoming call and accept it (or decline it, or let
    /// it ring: see --incoming).
    #[arg(long)]
    answer: bool,

    /// With --call/--call-name: before dialling, send this chat message to
    /// the callee (a `chat_sent` line follows once the server stored it).
    #[arg(long, value_name = "TEXT", conflicts_with_all = ["answer", "list"])]
    say: Option<String>,

    /// Answer every chat message that arrives during the run with this
    /// text. Incoming messages are printed as `chat_message` lines.
    #[arg(long, value_name = "TEXT", conflicts_with = "list")]
    reply: Option<String>,

    /// Mode: print the contacts with their online state and exit.
    #[arg(long)]
    list: bool,

    /// Mode (patient): wait in the waiting room of this scheduled
    /// appointment (a `room` line says so), and accept the call that comes
    /// when the doctor admits. After a reconnect that lost the session,
    /// waits again until the call rings.
    #[arg(long, value_name = "APPOINTMENT_ID")]
    wait_room: Option<AppointmentId>,

    /// Mode (doctor): admit the patient waiting in this appointment's
    /// waiting room, once they wait (looking in once a second until then;
    /// each look prints a `room` line), which rings them for the visit.
    #[arg(long, value_name = "APPOINTMENT_ID", conflicts_with = "calls")]
    admit: Option<AppointmentId>,

    /// With --answer: what to do with an incoming call: `accept` it,
    /// `reject` it (decline), or `ignore` it (let it ring until the caller
    /// gives up or the server's ring timeout ends it).
    #[arg(long, value_enum, value_name = "ACTION", default_value_t = Incoming::Accept)]
    incoming: Incoming,

    /// With --call/--call-name: cancel the call if it is still ringing
    /// this many seconds after the callee's devices started ringing.
    #[arg(long, value_name = "SECONDS", conflicts_with_all = ["answer", "list"])]
    cancel_after: Option<u64>,

    /// The appointment id to send with the invite (--call, --call-name).
    #[arg(long, value_name = "ID", conflicts_with_all = ["answer", "list"])]
    appointment: Option<String>,

    /// Hang up this many seconds after the call connects. Without it, the
    /// call lasts until the other party hangs up (or --timeout).
    #[arg(long, value_name = "SECONDS", conflicts_with = "list")]
    hang_up_after: Option<u64>,

    /// Give up (hanging up any call) after this many seconds in all,
    /// counted from the start; exits with code 3.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    timeout: u64,

    /// How media is handled: `webrtc` sends and receives real VP8 video and
    /// Opus audio peer to peer; `signaling-only` sends none and reports the
    /// media path connected at once (it proves signaling, ringing and
    /// answering only).
    #[arg(long, value_enum, value_name = "ENGINE", default_value_t = Media::Webrtc)]
    media: Media,

    /// Video to send: `test-pattern` (moving, carrying a frame counter and
    /// its capture time, which the receiving side reads back), `camera`
    /// (see --camera), `none`, or the path of a .y4m file (4:2:0, played in
    /// a loop).
    #[arg(long, value_name = "SOURCE", default_value = "test-pattern")]
    video: String,

    /// With --video camera: which camera (0 is the first; /dev/video<N> on
    /// Linux). If it cannot be opened, a `warning` line says why and the
    /// call goes on without our video.
    #[arg(long, value_name = "INDEX", default_value_t = 0)]
    camera: u32,

    /// With --video camera: the size wanted, WIDTHxHEIGHT; the camera's
    /// closest mode is used (the `camera` line says which).
    #[arg(long, value_name = "WxH", default_value = "640x480", value_parser = parse_size)]
    camera_size: (u32, u32),

    /// With --video camera: the frame rate wanted (the closest offered is
    /// used).
    #[arg(long, value_name = "FPS", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=60))]
    camera_fps: u32,

    /// Size of the test pattern, WIDTHxHEIGHT (even numbers).
    #[arg(long, value_name = "WxH", default_value = "640x480", value_parser = parse_size)]
    video_size: (u32, u32),

    /// Frame rate of the test pattern.
    #[arg(long, value_name = "FPS", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=60))]
    fps: u32,

    /// Video bitrate in kbit/s (default: chosen for the size and rate).
    #[arg(long, value_name = "KBPS")]
    video_kbps: Option<u32>,

    /// Audio to send: `tone` (a sine of --tone-hz), `microphone` (the
    /// default capture device, or --audio-input), `none`, or the path of a
    /// 16-bit PCM .wav file (any rate and channel count; played in a loop).
    #[arg(long, value_name = "SOURCE", default_value = "tone")]
    audio: String,

    /// With --audio microphone: the capture device to use, by id (as in
    /// the `audio_device` line, e.g. `pulse`) or name. Default: the
    /// system's default microphone.
    #[arg(long, value_name = "NAME")]
    audio_input: Option<String>,

    /// Also play the received audio on a speaker (the default playback
    /// device, or --audio-output); it is measured either way. A device
    /// that cannot be opened gives a `warning` line and the call goes on.
    #[arg(long, conflicts_with = "list")]
    speaker: bool,

    /// With --speaker: the playback device to use, by id or name.
    #[arg(long, value_name = "NAME", requires = "speaker")]
    audio_output: Option<String>,

    /// Frequency of the tone.
    #[arg(long, value_name = "HZ", default_value_t = 440.0, value_parser = parse_tone)]
    tone_hz: f32,

    /// Local address to offer for media (repeat for several). Default:
    /// every address of the machine except loopback (loopback if that is
    /// all there is).
    #[arg(long = "bind", value_name = "IP")]
    bind: Vec<IpAddr>,

    /// Send media only through a TURN relay (ICE transport policy
    /// "relay"): only relay candidates from the TURN servers the signaling
    /// server sends are offered, never this machine's addresses or its
    /// server-reflexive (NAT) address. For testing TURN, and for networks
    /// where direct paths must not be used. A call fails if the server
    /// sent no TURN server.
    #[arg(long, conflicts_with = "list")]
    relay_only: bool,

    /// Place (with --call/--call-name) or answer (with --answer) this many
    /// calls one after another; each needs --hang-up-after on one side.
    #[arg(long, value_name = "N", default_value_t = 1, conflicts_with = "list")]
    calls: u32,

    /// For testing ICE restarts: this many seconds after media connects,
    /// close the media sockets and bind new ones, as a network change
    /// would. The path breaks, ICE restarts and media resumes.
    #[arg(long, value_name = "SECONDS", conflicts_with = "list")]
    rebind_after: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Incoming {
    /// Answer the call.
    Accept,
    /// Decline the call.
    Reject,
    /// Do nothing; let it ring.
    Ignore,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Media {
    /// Real audio and video over WebRTC.
    Webrtc,
    /// No media; the call is reported connected once answered.
    SignalingOnly,
}

fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .ok_or_else(|| "expected WIDTHxHEIGHT, e.g. 1280x720".to_owned())?;
    let parse = |s: &str| s.trim().parse::<u32>().map_err(|e| format!("{s:?}: {e}"));
    let (w, h) = (parse(w)?, parse(h)?);
    if w < 64 || h < 64 || w % 2 == 1 || h % 2 == 1 || w > 3840 || h > 2160 {
        return Err("width and height must be even, between 64x64 and 3840x2160".into());
    }
    Ok((w, h))
}

fn parse_tone(text: &str) -> Result<f32, String> {
    let hz: f32 = text.parse().map_err(|e| format!("{text:?}: {e}"))?;
    if !(50.0..=8_000.0).contains(&hz) {
        return Err("the tone must be between 50 and 8000 Hz".into());
    }
    Ok(hz)
}

fn video_choice(args: &Args) -> VideoChoice {
    match args.video.as_str() {
        "none" => VideoChoice::None,
        "test-pattern" => VideoChoice::TestPattern {
            width: args.video_size.0,
            height: args.video_size.1,
            fps: args.fps,
        },
        "camera" => VideoChoice::Camera {
            index: args.camera,
            request: CaptureRequest {
                width: args.camera_size.0,
                height: args.camera_size.1,
                fps: args.camera_fps,
            },
        },
        path => VideoChoice::File(PathBuf::from(path)),
    }
}

fn audio_choice(args: &Args) -> AudioChoice {
    match args.audio.as_str() {
        "none" => AudioChoice::None,
        "tone" => AudioChoice::Tone(args.tone_hz),
        "microphone" => AudioChoice::Microphone(args.audio_input.clone()),
        path => AudioChoice::File(PathBuf::from(path)),
    }
}

fn speaker_choice(args: &Args) -> SpeakerChoice {
    if args.speaker {
        SpeakerChoice::Device(args.audio_output.clone())
    } else {
        SpeakerChoice::None
    }
}

/// How the run ended: exit code and a sentence for the `exit` line.
struct Outcome {
    code: u8,
    message: String,
}

impl Outcome {
    fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

fn main() -> ExitCode {
    // Before any thread exists: memory a call frees goes back to the OS.
    clinicall_media::return_large_blocks_to_os();
    let args = Args::parse();
    if args.audio_input.is_some() && args.audio != "microphone" {
        Args::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--audio-input needs --audio microphone",
            )
            .exit();
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER)),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(args));
    print(json!({"event": "exit", "code": outcome.code, "message": outcome.message}));
    ExitCode::from(outcome.code)
}

async fn run(args: Args) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    for path in [&args.video, &args.audio] {
        if !matches!(
            path.as_str(),
            "none" | "tone" | "test-pattern" | "camera" | "microphone"
        ) && !std::path::Path::new(path).is_file()
        {
            return Outcome::new(EXIT_CALL_FAILED, format!("no such media file: {path}"));
        }
    }
    let headless_media = Arc::new(HeadlessMedia::new(
        video_choice(&args),
        audio_choice(&args),
        speaker_choice(&args),
    ));
    let (media, control): (Box<dyn MediaEngine>, Option<MediaControl>) = match args.media {
        Media::Webrtc => {
            let settings = MediaSettings {
                bind: args.bind.clone(),
                relay_only: args.relay_only,
                video_bitrate_kbps: args.video_kbps,
                ..MediaSettings::default()
            };
            let (engine, control) = WebRtcEngine::new(settings, headless_media.clone());
            (Box::new(engine), Some(control))
        }
        Media::SignalingOnly => (Box::new(SignalingOnlyMedia), None),
    };

    let rest = match RestClient::new(&args.server, args.allow_insecure) {
        Ok(rest) => rest,
        Err(e) => return Outcome::new(EXIT_SIGN_IN, format!("bad server address: {e}")),
    };
    let auth = Arc::new(AuthSession::new(rest, Arc::new(MemoryTokenStore::new())));
    let me = match tokio::time::timeout_at(deadline, auth.login(&args.email, &args.password)).await
    {
        Ok(Ok(account)) => {
            tracing::info!(user_id = %account.id, "signed in");
            account.id
        }
        Ok(Err(e)) => return Outcome::new(EXIT_SIGN_IN, format!("sign-in failed: {e}")),
        Err(_) => return Outcome::new(EXIT_TIMEOUT, "timed out signing in"),
    };
    let mut config = ClientConfig::new(&args.server);
    config.allow_insecure = args.allow_insecure;
    let mut quality = quality::VisitQuality::new(auth.clone());
    let (client, signaling) = match SignalingClient::start(config, auth) {
        Ok(started) => started,
        Err(e) => return Outcome::new(EXIT_SIGN_IN, format!("cannot connect: {e}")),
    };
    let (chat, mut chat_events) = if args.say.is_some() || args.reply.is_some() {
        match chat::Chat::start(client.clone(), me, args.reply.clone()).await {
            Ok((chat, feed, events)) => (Some((chat, feed)), Some(events)),
            Err(e) => return Outcome::new(EXIT_CALL_FAILED, format!("cannot start chat: {e}")),
        }
    } else {
        (None, None)
    };
    let room_client = client.clone();
    let (chat, (call, mut events)) = match chat {
        Some((chat, feed)) => (
            Some(chat),
            CallDriver::start_with_chat(client, signaling, media, CallConfig::default(), feed),
        ),
        None => (
            None,
            CallDriver::start(client, signaling, media, CallConfig::default()),
        ),
    };

    let mut runner = Runner {
        call: call.clone(),
        args,
        media: headless_media,
        control,
        ever_connected: false,
        dialled: false,
        answered: false,
        call_connected: false,
        calls_done: 0,
        last_contacts: Vec::new(),
        hang_up_at: None,
        rebind_at: None,
        cancel_at: None,
        look_in_at: None,
        rang: false,
        room_client,
        chat,
    };
    let outcome = loop {
        tokio::select! {
            Some(event) = next_chat_event(&mut chat_events) => {
                if let Some(chat) = &mut runner.chat {
                    chat.on_event(event).await;
                }
            }
            event = events.recv() => {
                let Some(event) = event else {
                    break Outcome::new(EXIT_CALL_FAILED, "the client stopped");
                };
                print_event(&event);
                quality.observe(&event);
                if let Some(outcome) = runner.on_event(event).await {
                    break outcome;
                }
            }
            () = sleep_until(runner.cancel_at), if runner.cancel_at.is_some() => {
                runner.cancel_at = None;
                tracing::info!("cancelling as asked");
                if let Err(e) = call.cancel().await {
                    tracing::warn!(error = %e, "cancel refused");
                }
            }
            () = sleep_until(runner.rebind_at), if runner.rebind_at.is_some() => {
                runner.rebind_at = None;
                if let Some(control) = &runner.control {
                    tracing::info!("rebinding the media sockets as asked");
                    print(json!({"event": "rebind"}));
                    control.rebind_sockets();
                }
            }
            () = sleep_until(runner.look_in_at), if runner.look_in_at.is_some() => {
                runner.look_in_at = None;
                if let Some(outcome) = runner.admit_if_waiting().await {
                    break outcome;
                }
            }
            () = sleep_until(runner.hang_up_at), if runner.hang_up_at.is_some() => {
                runner.hang_up_at = None;
                tracing::info!("hanging up as asked");
                if let Err(e) = call.hang_up().await {
                    break Outcome::new(EXIT_CALL_FAILED, format!("hang-up refused: {e}"));
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                break Outcome::new(EXIT_TIMEOUT, runner.timeout_message());
            }
            signal = stop_signal() => {
                // The shutdown below hangs up a live call, so the other
                // side hears "hung up" rather than waiting for ICE to fail.
                break Outcome::new(EXIT_INTERRUPTED, format!("stopped by {signal}"));
            }
        }
    };

    // Hangs up a call still live (after a timeout), closes the connection;
    // print what that produced.
    let drain = async {
        if let Some(chat) = runner.chat.take() {
            chat.close().await;
        }
        call.shutdown().await;
        while let Some(event) = events.recv().await {
            print_event(&event);
            quality.observe(&event);
        }
    };
    if tokio::time::timeout(SHUTDOWN_LIMIT, drain).await.is_err() {
        tracing::warn!("the connection did not close in time");
    }
    // A visit's call ended above (or just now, in the drain): its quality
    // report goes out before the process does.
    quality.finish().await;
    outcome
}

/// The mode's decisions, event by event.
struct Runner {
    call: CallHandle,
    args: Args,
    media: Arc<HeadlessMedia>,
    control: Option<MediaControl>,
    ever_connected: bool,
    dialled: bool,
    answered: bool,
    call_connected: bool,
    /// Calls that ended (for --calls).
    calls_done: u32,
    last_contacts: Vec<Contact>,
    hang_up_at: Option<Instant>,
    rebind_at: Option<Instant>,
    cancel_at: Option<Instant>,
    /// With --admit: when to look in the waiting room again.
    look_in_at: Option<Instant>,
    /// With --wait-room or --admit: the visit's call rang (no more waiting
    /// or looking in).
    rang: bool,
    /// For the waiting-room requests.
    room_client: SignalingClient,
    /// With --say or --reply.
    chat: Option<chat::Chat>,
}

/// How often --admit looks in while nobody waits. The headless client
/// runs no appointments engine, which would hear `room_waiting` pushes.
const LOOK_IN_EVERY: Duration = Duration::from_secs(1);

impl Runner {
    async fn on_event(&mut self, event: DriverEvent) -> Option<Outcome> {
        match event {
            DriverEvent::Connected { resumed, .. } => {
                if !self.ever_connected {
                    // The baseline the `resources` after each call compare with.
                    print(resources());
                }
                self.ever_connected = true;
                // A resumed session still waits on the server; a new one
                // (the first, or after the server forgot us) waits again.
                if let Some(appointment) = self.args.wait_room
                    && !resumed
                    && !self.rang
                {
                    return self.wait_in_room(appointment).await;
                }
                if self.args.admit.is_some() && !self.rang {
                    return self.admit_if_waiting().await;
                }
            }
            // Sent after every `Connected`; the first one is where a mode starts.
            DriverEvent::PresenceSnapshot(contacts) => {
                self.last_contacts.clone_from(&contacts);
                return self.on_contacts(&contacts).await;
            }
            DriverEvent::Call(CallEvent::StateChanged(state)) => return self.on_state(state).await,
            DriverEvent::MediaStats { call_id, stats } => {
                let mut line = serde_json::to_value(&stats).unwrap_or_default();
                line["event"] = json!("stats");
                line["call_id"] = json!(call_id);
                line["received"] = self
                    .media
                    .reception(call_id)
                    .lock()
                    .map(|r| r.progress())
                    .unwrap_or_default();
                print(line);
            }
            DriverEvent::SignedOut => {
                return Some(Outcome::new(EXIT_SIGN_IN, "signed out by the server"));
            }
            DriverEvent::Closed => {
                return Some(Outcome::new(EXIT_CALL_FAILED, "the client stopped"));
            }
            _ => {}
        }
        None
    }

    async fn on_contacts(&mut self, contacts: &[Contact]) -> Option<Outcome> {
        if self.args.list {
            return Some(Outcome::new(
                EXIT_OK,
                format!("listed {} contacts", contacts.len()),
            ));
        }
        if self.dialled || self.answering() || self.args.admit.is_some() {
            return None;
        }
        let callee = match (&self.args.call, &self.args.call_name) {
            (Some(id), _) => *id,
            (None, Some(name)) => {
                let matches: Vec<_> = contacts
                    .iter()
                    .filter(|c| c.user.display_name.eq_ignore_ascii_case(name))
                    .collect();
                match matches.as_slice() {
                    [one] => one.user.id,
                    [] => {
                        return Some(Outcome::new(
                            EXIT_CALL_FAILED,
                            format!("no contact is named {name:?}"),
                        ));
                    }
                    _ => {
                        return Some(Outcome::new(
                            EXIT_CALL_FAILED,
                            format!(
                                "{} contacts are named {name:?}; use --call with a user id",
                                matches.len()
                            ),
                        ));
                    }
                }
            }
            (None, None) => return None,
        };
        self.dialled = true;
        if let (Some(text), Some(chat)) = (&self.args.say, &mut self.chat)
            && let Err(e) = chat.say(callee, text).await
        {
            return Some(Outcome::new(
                EXIT_CALL_FAILED,
                format!("could not send the chat message: {e}"),
            ));
        }
        tracing::info!(%callee, "dialling");
        match self.call.dial(callee, self.args.appointment.clone()).await {
            Ok(()) => None,
            Err(e) => Some(Outcome::new(EXIT_CALL_FAILED, format!("dial refused: {e}"))),
        }
    }

    async fn on_state(&mut self, state: CallState) -> Option<Outcome> {
        match state {
            CallState::Connecting { call_id, .. } => {
                if let Ok(mut reception) = self.media.reception(call_id).lock() {
                    reception.mark_accepted(std::time::Instant::now());
                }
            }
            CallState::OutgoingRinging { call_id: Some(_) } => {
                self.rang = true;
                if self.cancel_at.is_none()
                    && let Some(after) = self.args.cancel_after
                {
                    self.cancel_at = Some(Instant::now() + Duration::from_secs(after));
                }
            }
            CallState::IncomingRinging { .. } if self.answering() && !self.answered => {
                self.rang = true;
                self.answered = true;
                let result = match self.args.incoming {
                    Incoming::Accept => {
                        tracing::info!("answering");
                        self.call.accept().await
                    }
                    Incoming::Reject => {
                        tracing::info!("declining as asked");
                        self.call.reject().await
                    }
                    Incoming::Ignore => {
                        tracing::info!("letting it ring as asked");
                        Ok(())
                    }
                };
                if let Err(e) = result {
                    return Some(Outcome::new(
                        EXIT_CALL_FAILED,
                        format!("answering refused: {e}"),
                    ));
                }
            }
            CallState::Connected { .. } => {
                if !self.call_connected {
                    let now = Instant::now();
                    self.hang_up_at = self
                        .args
                        .hang_up_after
                        .map(|s| now + Duration::from_secs(s));
                    self.rebind_at = self.args.rebind_after.map(|s| now + Duration::from_secs(s));
                }
                self.call_connected = true;
            }
            CallState::Ended { reason, call_id } => {
                self.hang_up_at = None;
                self.rebind_at = None;
                self.cancel_at = None;
                self.finish_call(call_id).await;
                let hung_up = reason.is_hang_up();
                // Runs told not to connect succeed when the call ended their way.
                let as_asked = match (self.args.incoming, &reason) {
                    _ if self.call_connected => None,
                    (Incoming::Reject, CallEndReason::LocalReject) => Some("declined as asked"),
                    (Incoming::Ignore, _) if self.answering() => Some("let it ring as asked"),
                    (_, CallEndReason::LocalCancel) if self.args.cancel_after.is_some() => {
                        Some("cancelled as asked")
                    }
                    _ => None,
                };
                if let Some(message) = as_asked {
                    self.calls_done += 1;
                    return Some(Outcome::new(
                        EXIT_OK,
                        format!("{message}: {}", reason.as_str()),
                    ));
                }
                let ok = self.call_connected && hung_up;
                self.calls_done += 1;
                if ok && self.calls_done < self.args.calls {
                    return self.next_call().await;
                }
                return Some(if ok {
                    Outcome::new(EXIT_OK, format!("call connected, then {}", reason.as_str()))
                } else if self.call_connected {
                    Outcome::new(
                        EXIT_CALL_FAILED,
                        format!("call connected, then failed: {}", reason.as_str()),
                    )
                } else {
                    Outcome::new(
                        EXIT_CALL_FAILED,
                        format!("call ended before connecting: {}", reason.as_str()),
                    )
                });
            }
            _ => {}
        }
        None
    }

    /// Prints what the ended call received, waits until its media session
    /// has let go of everything, and prints the process's resources.
    async fn finish_call(&mut self, call_id: Option<CallId>) {
        if let Some(call_id) = call_id
            && let Some(reception) = self.media.forget(call_id)
        {
            let mut line = reception.summary();
            line["event"] = json!("media_summary");
            line["call_id"] = json!(call_id);
            print(line);
        }
        if let Some(control) = &self.control {
            control.wait_released().await;
        }
        print(resources());
    }

    /// Gets ready for the next of --calls: the answerer waits, the caller
    /// dials again.
    async fn next_call(&mut self) -> Option<Outcome> {
        self.call_connected = false;
        self.answered = false;
        self.dialled = false;
        if self.answering() {
            return None;
        }
        let contacts = self.last_contacts.clone();
        self.on_contacts(&contacts).await
    }

    /// Whether this run answers calls (--answer, or --wait-room).
    fn answering(&self) -> bool {
        self.args.answer || self.args.wait_room.is_some()
    }

    /// --wait-room: joins the waiting room (again).
    async fn wait_in_room(&mut self, appointment: AppointmentId) -> Option<Outcome> {
        let join = ClientMessage::RoomJoin {
            appointment_id: appointment,
        };
        match self.room(join).await {
            Ok((_, waiting)) => {
                if !waiting {
                    // The visit's call already rings (it comes next).
                    tracing::info!("not waiting: the visit's call already rings");
                }
                None
            }
            Err(message) => Some(Outcome::new(
                EXIT_CALL_FAILED,
                format!("could not wait in the room: {message}"),
            )),
        }
    }

    /// --admit: looks in; admits the patient if they wait, or looks again
    /// later.
    async fn admit_if_waiting(&mut self) -> Option<Outcome> {
        let appointment = self.args.admit?;
        if self.rang {
            return None;
        }
        let look = ClientMessage::RoomJoin {
            appointment_id: appointment,
        };
        match self.room(look).await {
            Ok((patient, true)) => {
                tracing::info!(patient = %patient.id, "admitting");
                self.rang = true;
                match self.call.admit(appointment, patient.id).await {
                    Ok(()) => None,
                    Err(e) => Some(Outcome::new(
                        EXIT_CALL_FAILED,
                        format!("admit refused: {e}"),
                    )),
                }
            }
            Ok((_, false)) => {
                self.look_in_at = Some(Instant::now() + LOOK_IN_EVERY);
                None
            }
            // Offline for a moment: the next `Connected` looks again.
            Err(message) if message.starts_with("signaling: ") => None,
            Err(message) => Some(Outcome::new(
                EXIT_CALL_FAILED,
                format!("could not look in the room: {message}"),
            )),
        }
    }

    /// A waiting-room request; prints the `room` line of its reply.
    async fn room(&self, msg: ClientMessage) -> Result<(UserSummary, bool), String> {
        let reply = self
            .room_client
            .request(msg)
            .await
            .map_err(|e| format!("signaling: {e}"))?;
        match reply.msg {
            ServerMessage::RoomWaiting {
                appointment_id,
                patient,
                waiting,
            } => {
                print(json!({
                    "event": "room", "appointment_id": appointment_id,
                    "patient_id": patient.id, "waiting": waiting,
                }));
                Ok((patient, waiting))
            }
            ServerMessage::Error { code, message, .. } => {
                print(json!({"event": "room", "error": code.as_str(), "message": message}));
                Err(format!("{}: {message}", code.as_str()))
            }
            other => Err(format!("unexpected reply {other:?}")),
        }
    }

    fn timeout_message(&self) -> String {
        let doing = if !self.ever_connected {
            "never connected to the signaling server"
        } else if self.call_connected {
            "the call was still connected"
        } else if self.args.admit.is_some() && !self.rang {
            "nobody came to the waiting room"
        } else if self.answering() && !self.answered {
            "no call came in"
        } else if self.args.list {
            "no contact list arrived"
        } else {
            "the call never connected"
        };
        format!("timed out: {doing}")
    }
}

/// Open file descriptors, threads, tokio tasks and resident memory of
/// this process (Linux; zeros elsewhere).
fn resources() -> Value {
    let open_fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0);
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    json!({
        "event": "resources", "open_fds": open_fds, "threads": field("Threads:"),
        "tasks": tasks, "rss_kb": field("VmRSS:"),
    })
}

/// Resolves on SIGINT or SIGTERM with the signal's name (never, where
/// they cannot be listened for).
async fn stop_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        },
        _ => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Prints one JSON line on stdout (also used by the media threads).
/// The next chat event, or never without chat.
async fn next_chat_event(
    events: &mut Option<tokio::sync::mpsc::Receiver<clinicall_client_core::chat::ChatEvent>>,
) -> Option<clinicall_client_core::chat::ChatEvent> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

pub(crate) fn print(line: Value) {
    // `println!` locks stdout for the line, so lines never interleave.
    println!("{line}");
}

fn print_event(event: &DriverEvent) {
    for line in event_lines(event) {
        print(line);
    }
}

/// The JSON lines for one event (a contact list gives one per contact).
fn event_lines(event: &DriverEvent) -> Vec<Value> {
    let line = match event {
        DriverEvent::Connected { user, resumed } => json!({
            "event": "signaling", "state": "connected", "resumed": resumed,
            "user_id": user.id, "display_name": user.display_name, "role": user.role.as_str(),
        }),
        DriverEvent::Disconnected { reason } => json!({
            "event": "signaling", "state": "disconnected", "reason": reason.to_string(),
        }),
        DriverEvent::Reconnecting { attempt, delay } => json!({
            "event": "signaling", "state": "reconnecting",
            "attempt": attempt, "delay_ms": delay.as_millis() as u64,
        }),
        DriverEvent::SignedOut => json!({"event": "signaling", "state": "signed_out"}),
        DriverEvent::Closed => json!({"event": "signaling", "state": "closed"}),
        DriverEvent::PresenceSnapshot(contacts) => {
            let mut lines = vec![json!({"event": "contacts", "count": contacts.len()})];
            lines.extend(contacts.iter().map(|c| {
                json!({
                    "event": "contact", "user_id": c.user.id, "display_name": c.user.display_name,
                    "role": c.user.role.as_str(), "online": c.online,
                })
            }));
            return lines;
        }
        DriverEvent::PresenceChanged { user_id, online } => {
            json!({"event": "presence", "user_id": user_id, "online": online})
        }
        DriverEvent::Call(CallEvent::StateChanged(state)) => state_line(state),
        DriverEvent::Call(CallEvent::SignalingChanged(signaling)) => {
            let state = match signaling {
                CallSignaling::Available => "available",
                CallSignaling::Interrupted => "interrupted",
                CallSignaling::Detached => "detached",
            };
            json!({"event": "call_signaling", "state": state})
        }
        DriverEvent::Call(CallEvent::AutoRejected { call_id, caller }) => json!({
            "event": "auto_rejected", "call_id": call_id,
            "caller_id": caller.id, "caller_name": caller.display_name,
        }),
        // Printed by the runner, with what the sinks saw.
        DriverEvent::MediaStats { .. } => return Vec::new(),
        other => json!({"event": "other", "debug": format!("{other:?}")}),
    };
    vec![line]
}

fn state_line(state: &CallState) -> Value {
    let call_id = state.call_id();
    match state {
        CallState::Idle => json!({"event": "call", "state": "idle"}),
        CallState::OutgoingRinging { .. } => {
            json!({"event": "call", "state": "outgoing_ringing", "call_id": call_id})
        }
        CallState::IncomingRinging { .. } => {
            json!({"event": "call", "state": "incoming_ringing", "call_id": call_id})
        }
        CallState::Connecting { role, .. } => {
            let role = role.map(|role| match role {
                MediaRole::Offerer => "offerer",
                MediaRole::Answerer => "answerer",
            });
            json!({"event": "call", "state": "connecting", "call_id": call_id, "role": role})
        }
        CallState::Connected { .. } => {
            json!({"event": "call", "state": "connected", "call_id": call_id})
        }
        CallState::Reconnecting { .. } => {
            json!({"event": "call", "state": "reconnecting", "call_id": call_id})
        }
        CallState::Ended { reason, .. } => {
            let (by, error) = match reason {
                CallEndReason::Server { by, .. } => (*by, None),
                CallEndReason::InviteRefused(code) | CallEndReason::AcceptRefused(code) => {
                    (None, Some(code.as_str()))
                }
                _ => (None, None),
            };
            json!({
                "event": "ended", "call_id": call_id, "reason": reason.as_str(),
                "local": reason.is_local(), "by": by, "error": error,
            })
        }
    }
}
