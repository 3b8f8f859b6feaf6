//! Driving `clinicall-headless`: a call between two headless clients (one
//! answers, one calls), their JSON lines parsed into [`Event`]s as they
//! arrive, and the human-readable lines `cargo xtask run` prints for them.
//!
//! Each client's stdout is read on its own thread and forwarded over one
//! channel, so the caller sees both sides' events in arrival order and can
//! act on them (print, sample CPU) while the call runs. Each client's
//! stderr (its logs) goes to a file.

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the answering client may take to sign in and connect before
/// the caller is started anyway.
const CALLEE_CONNECT_LIMIT: Duration = Duration::from_secs(30);
/// Extra time beyond the clients' own `--timeout` before they are killed.
const KILL_MARGIN: Duration = Duration::from_secs(20);

/// One side of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Places the call(s) (`--call-name`).
    Caller,
    /// Answers them (`--answer`).
    Callee,
}

/// How to start one headless client.
#[derive(Clone, Debug)]
pub struct ClientSpec {
    /// Shown in front of its lines, and names its log file.
    pub label: &'static str,
    pub email: String,
    pub password: String,
    /// Test pattern size, WIDTH x HEIGHT.
    pub video_size: (u32, u32),
    pub fps: u32,
    /// Mode and the rest: `--answer`, `--call-name NAME --hang-up-after S`,
    /// `--calls N`... (`--server`, `--email`, `--bind 127.0.0.1`,
    /// `--video-size`, `--fps` and `--timeout` are added).
    pub args: Vec<String>,
}

/// A call (or a series of `--calls`) between two headless clients.
pub struct CallRun<'a> {
    pub headless: &'a Path,
    pub server_url: String,
    pub caller: ClientSpec,
    pub callee: ClientSpec,
    /// Names this run's files in `log_dir`.
    pub name: &'a str,
    /// Where the clients' logs (stderr, `NAME-LABEL.log`) and raw output
    /// (stdout, `NAME-LABEL.jsonl`) go.
    pub log_dir: &'a Path,
    /// The clients' `--timeout`, in seconds.
    pub timeout_s: u64,
    /// Set (by a signal handler) to stop both clients early.
    pub stop: Option<&'a AtomicBool>,
}

/// What one line of a client's stdout says.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// `{"event":"signaling","state":"connected",...}`.
    SignalingConnected,
    /// `{"event":"call","state":"connected",...}`.
    CallConnected,
    /// `{"event":"ended",...}`: the reason.
    Ended(String),
    Stats(Stats),
    MediaSummary(MediaSummary),
    Resources(Resources),
    /// `{"event":"exit","code":...,"message":...}`.
    Exit {
        code: i64,
        message: String,
    },
    /// Any other JSON line.
    Other(Value),
    /// A line that is not JSON.
    Text(String),
}

/// The figures of a `stats` line that we use.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    pub elapsed_ms: u64,
    pub rtt_ms: Option<f64>,
    pub sent_frame_rate: f64,
    pub sent_video_kbps: f64,
    pub sent_audio_kbps: f64,
    pub frames_decoded: u64,
    pub received_frame_rate: f64,
    pub received_width: u32,
    pub received_height: u32,
    pub packets_lost: u64,
    /// Capture-to-decode latency of the last stamped frame.
    pub last_latency_ms: Option<f64>,
    /// Dominant frequency of the last full second of received audio.
    pub audio_hz: Option<f64>,
}

/// A `media_summary` line: what one side received during one call.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MediaSummary {
    pub frames_decoded: u64,
    pub stamped_frames: u64,
    pub first_counter: Option<u64>,
    pub last_counter: Option<u64>,
    pub counter_regressions: u64,
    pub width: u32,
    pub height: u32,
    /// From accepting the call to the first decoded remote frame.
    pub setup_ms: Option<f64>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub latency_max_ms: Option<f64>,
    pub audio_seconds: f64,
    /// Dominant frequency of each received second (`None`: no clear tone).
    pub audio_frequencies_hz: Vec<Option<f64>>,
}

/// A `resources` line: the client process after a call was released.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub open_fds: u64,
    pub threads: u64,
    pub tasks: u64,
    pub rss_kb: u64,
}

/// Parses one stdout line of `clinicall-headless`.
pub fn parse_line(line: &str) -> Event {
    let Ok(v) = serde_json::from_str::<Value>(line) else {
        return Event::Text(line.to_owned());
    };
    let f = |v: &Value| v.as_f64();
    let u = |v: &Value| v.as_u64().unwrap_or(0);
    match (v["event"].as_str(), v["state"].as_str()) {
        (Some("signaling"), Some("connected")) => Event::SignalingConnected,
        (Some("call"), Some("connected")) => Event::CallConnected,
        (Some("ended"), _) => Event::Ended(v["reason"].as_str().unwrap_or("").to_owned()),
        (Some("stats"), _) => {
            let (out, inb, rec) = (&v["outbound"], &v["inbound"], &v["received"]);
            Event::Stats(Stats {
                elapsed_ms: u(&v["elapsed_ms"]),
                rtt_ms: f(&v["rtt_ms"]),
                sent_frame_rate: f(&out["frame_rate"]).unwrap_or(0.0),
                sent_video_kbps: f(&out["video_kbps"]).unwrap_or(0.0),
                sent_audio_kbps: f(&out["audio_kbps"]).unwrap_or(0.0),
                frames_decoded: u(&inb["frames_decoded"]),
                received_frame_rate: f(&inb["frame_rate"]).unwrap_or(0.0),
                received_width: u(&inb["frame_width"]) as u32,
                received_height: u(&inb["frame_height"]) as u32,
                packets_lost: u(&inb["packets_lost"]),
                last_latency_ms: f(&rec["last_latency_ms"]),
                audio_hz: f(&rec["audio_hz"]),
            })
        }
        (Some("media_summary"), _) => {
            let lat = &v["latency_ms"];
            Event::MediaSummary(MediaSummary {
                frames_decoded: u(&v["frames_decoded"]),
                stamped_frames: u(&v["stamped_frames"]),
                first_counter: v["first_counter"].as_u64(),
                last_counter: v["last_counter"].as_u64(),
                counter_regressions: u(&v["counter_regressions"]),
                width: u(&v["width"]) as u32,
                height: u(&v["height"]) as u32,
                setup_ms: f(&v["setup_ms"]),
                latency_p50_ms: f(&lat["p50"]),
                latency_p95_ms: f(&lat["p95"]),
                latency_max_ms: f(&lat["max"]),
                audio_seconds: f(&v["audio_seconds"]).unwrap_or(0.0),
                audio_frequencies_hz: v["audio_frequencies_hz"]
                    .as_array()
                    .map(|a| a.iter().map(Value::as_f64).collect())
                    .unwrap_or_default(),
            })
        }
        (Some("resources"), _) => Event::Resources(Resources {
            open_fds: u(&v["open_fds"]),
            threads: u(&v["threads"]),
            tasks: u(&v["tasks"]),
            rss_kb: u(&v["rss_kb"]),
        }),
        (Some("exit"), _) => Event::Exit {
            code: v["code"].as_i64().unwrap_or(-1),
            message: v["message"].as_str().unwrap_or("").to_owned(),
        },
        _ => Event::Other(v),
    }
}

/// One `stats` line for people, e.g.
/// `[doctor] 3 s  rtt 0.4 ms  sending 640x480 30.0 fps 480 kbit/s  receiving 640x480 29.9 fps  latency 6 ms  audio 440 Hz`.
/// The sending size is the configured one (the stats do not carry it);
/// kbit/s is the video bitrate (audio adds about 30).
pub fn human_stats(label: &str, sending: (u32, u32), s: &Stats) -> String {
    let rtt = s
        .rtt_ms
        .map_or("rtt -".to_owned(), |ms| format!("rtt {ms:.1} ms"));
    let latency = s
        .last_latency_ms
        .map_or("latency -".to_owned(), |ms| format!("latency {ms:.0} ms"));
    let audio = s
        .audio_hz
        .map_or("audio -".to_owned(), |hz| format!("audio {hz:.0} Hz"));
    let lost = if s.packets_lost > 0 {
        format!("  lost {} packets", s.packets_lost)
    } else {
        String::new()
    };
    format!(
        "[{label}] {} s  {rtt}  sending {}x{} {:.1} fps {:.0} kbit/s  receiving {}x{} {:.1} fps  {latency}  {audio}{lost}",
        (s.elapsed_ms as f64 / 1000.0).round(),
        sending.0,
        sending.1,
        s.sent_frame_rate,
        s.sent_video_kbps,
        s.received_width,
        s.received_height,
        s.received_frame_rate,
    )
}

/// One `media_summary` for people.
pub fn human_summary(label: &str, m: &MediaSummary) -> String {
    let ms = |x: Option<f64>| x.map_or("-".to_owned(), |v| format!("{v:.1}"));
    let counters = match (m.first_counter, m.last_counter) {
        (Some(a), Some(b)) => format!("frames {a}..{b}"),
        _ => "no stamped frames".to_owned(),
    };
    let tone = median_frequency(&m.audio_frequencies_hz)
        .map_or("no tone".to_owned(), |hz| format!("{hz:.0} Hz"));
    format!(
        "[{label}] received {} frames {}x{} ({counters}, {} out of order), first frame {} ms after accepting, \
         latency p50 {} / p95 {} / max {} ms, audio {:.1} s at {tone}",
        m.frames_decoded,
        m.width,
        m.height,
        m.counter_regressions,
        ms(m.setup_ms),
        ms(m.latency_p50_ms),
        ms(m.latency_p95_ms),
        ms(m.latency_max_ms),
        m.audio_seconds,
    )
}

/// The median of the seconds that had a clear tone.
pub fn median_frequency(per_second: &[Option<f64>]) -> Option<f64> {
    let mut hz: Vec<f64> = per_second.iter().flatten().copied().collect();
    hz.sort_by(f64::total_cmp);
    hz.get(hz.len() / 2).copied()
}

/// What the caller of [`CallRun::run`] sees while the call runs.
pub trait Observer {
    /// One parsed line from `side`.
    fn on_event(&mut self, side: Side, label: &str, event: &Event, pids: Pids);
    /// Called about every 100 ms.
    fn on_tick(&mut self, _pids: Pids) {}
}

/// The clients' process ids (the caller starts after the callee is
/// connected).
#[derive(Clone, Copy, Debug)]
pub struct Pids {
    pub caller: Option<u32>,
    pub callee: u32,
}

/// How one client ended.
#[derive(Debug)]
pub struct SideResult {
    pub label: &'static str,
    pub status: Option<ExitStatus>,
    /// The message of its `exit` line.
    pub exit_message: Option<String>,
    pub summaries: Vec<MediaSummary>,
    /// Each `resources` line with the number of calls that had ended
    /// before it (0: the baseline printed after signing in).
    pub resources: Vec<(u32, Resources)>,
    pub stats: Vec<Stats>,
    pub calls_ended: u32,
    pub log: PathBuf,
}

impl SideResult {
    fn new(label: &'static str, log: PathBuf) -> Self {
        Self {
            label,
            status: None,
            exit_message: None,
            summaries: Vec::new(),
            resources: Vec::new(),
            stats: Vec::new(),
            calls_ended: 0,
            log,
        }
    }

    /// Exited with code 0.
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// "exit code 0 (call connected, then hung_up)" and the like.
    pub fn describe(&self) -> String {
        let status = match self.status {
            Some(s) => match s.code() {
                Some(code) => format!("exit code {code}"),
                None => format!("{s}"),
            },
            None => "did not exit".to_owned(),
        };
        match &self.exit_message {
            Some(m) => format!("{status} ({m})"),
            None => format!("{status} (no exit line)"),
        }
    }
}

/// Both sides of a [`CallRun`].
#[derive(Debug)]
pub struct CallResult {
    pub caller: SideResult,
    pub callee: SideResult,
    /// Stopped early through [`CallRun::stop`].
    pub interrupted: bool,
}

impl CallResult {
    pub fn ok(&self) -> bool {
        !self.interrupted && self.caller.ok() && self.callee.ok()
    }
}

/// A running client; killed if dropped before it exits.
struct Running {
    child: Child,
    done: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

enum Message {
    Line(Side, String),
    Eof(Side),
}

impl CallRun<'_> {
    fn spawn(&self, side: Side, tx: &mpsc::Sender<Message>) -> Result<(Running, PathBuf)> {
        let spec = match side {
            Side::Caller => &self.caller,
            Side::Callee => &self.callee,
        };
        let log = self
            .log_dir
            .join(format!("{}-{}.log", self.name, spec.label));
        let raw_path = self
            .log_dir
            .join(format!("{}-{}.jsonl", self.name, spec.label));
        let mut raw =
            File::create(&raw_path).with_context(|| format!("creating {}", raw_path.display()))?;
        let mut cmd = Command::new(self.headless);
        cmd.args(["--server", &self.server_url, "--email", &spec.email])
            .args(["--bind", "127.0.0.1"])
            .args([
                "--video-size",
                &format!("{}x{}", spec.video_size.0, spec.video_size.1),
            ])
            .args(["--fps", &spec.fps.to_string()])
            .args(["--timeout", &self.timeout_s.to_string()])
            .args(&spec.args)
            .env("CLINICALL_PASSWORD", &spec.password)
            // Plain logs: they go to a file.
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&log).with_context(|| format!("creating {}", log.display()))?);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", self.headless.display()))?;
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(raw, "{line}");
                if tx.send(Message::Line(side, line)).is_err() {
                    return;
                }
            }
            let _ = tx.send(Message::Eof(side));
        });
        Ok((Running { child, done: false }, log))
    }

    /// Starts the callee, waits until it is connected to the server,
    /// starts the caller, and follows both until they exit (or
    /// [`CallRun::stop`] is set, or they overrun their timeout).
    pub fn run(&self, observer: &mut dyn Observer) -> Result<CallResult> {
        let (tx, rx) = mpsc::channel();
        let (mut callee, callee_log) = self.spawn(Side::Callee, &tx)?;
        let mut caller: Option<Running> = None;
        let mut results = CallResult {
            caller: SideResult::new(self.caller.label, PathBuf::new()),
            callee: SideResult::new(self.callee.label, callee_log),
            interrupted: false,
        };
        let started = Instant::now();
        let kill_at = started + Duration::from_secs(self.timeout_s) + KILL_MARGIN;
        let (mut caller_eof, mut callee_eof) = (false, false);
        let mut callee_connected = false;
        loop {
            let stopping = self.stop.is_some_and(|s| s.load(Ordering::SeqCst));
            if stopping || Instant::now() > kill_at {
                if !stopping {
                    eprintln!("xtask: the headless clients overran their timeout; killing them");
                }
                results.interrupted = true;
                break;
            }
            // The callee must be online before the caller looks for it.
            let start_caller = caller.is_none()
                && (callee_connected || callee_eof || started.elapsed() > CALLEE_CONNECT_LIMIT);
            if start_caller {
                if callee_eof {
                    // The callee is gone; calling it would only time out.
                    caller_eof = true;
                } else {
                    let (running, log) = self.spawn(Side::Caller, &tx)?;
                    caller = Some(running);
                    results.caller.log = log;
                }
            }
            let pids = Pids {
                caller: caller.as_ref().map(|c| c.child.id()),
                callee: callee.child.id(),
            };
            if caller_eof && callee_eof {
                break;
            }
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(Message::Line(side, line)) => {
                    let event = parse_line(&line);
                    let result = match side {
                        Side::Caller => &mut results.caller,
                        Side::Callee => &mut results.callee,
                    };
                    match &event {
                        Event::SignalingConnected if side == Side::Callee => {
                            callee_connected = true;
                        }
                        Event::Stats(s) => result.stats.push(s.clone()),
                        Event::MediaSummary(m) => result.summaries.push(m.clone()),
                        Event::Ended(_) => result.calls_ended += 1,
                        Event::Resources(r) => result.resources.push((result.calls_ended, *r)),
                        Event::Exit { message, .. } => {
                            result.exit_message = Some(message.clone());
                        }
                        _ => {}
                    }
                    observer.on_event(side, result.label, &event, pids);
                }
                Ok(Message::Eof(Side::Caller)) => caller_eof = true,
                Ok(Message::Eof(Side::Callee)) => callee_eof = true,
                Err(mpsc::RecvTimeoutError::Timeout) => observer.on_tick(pids),
                Err(mpsc::RecvTimeoutError::Disconnected) => bail!("lost the clients' output"),
            }
        }
        for (running, result) in [
            (caller.as_mut(), &mut results.caller),
            (Some(&mut callee), &mut results.callee),
        ] {
            let Some(running) = running else { continue };
            if results.interrupted {
                let _ = running.child.kill();
            }
            result.status = running.child.wait().ok();
            running.done = true;
        }
        Ok(results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATS: &str = r#"{"event":"stats","call_id":"c1","elapsed_ms":3012,"rtt_ms":0.42,"outbound":{"video_kbps":480.3,"audio_kbps":32.0,"frames_sent":90,"frame_rate":30.0,"keyframes_sent":1,"keyframe_requests_received":0},"inbound":{"video_kbps":470.0,"audio_kbps":31.0,"video_jitter_ms":0.5,"audio_jitter_ms":0.2,"packets_lost":0,"frames_decoded":88,"frame_rate":29.9,"frame_width":640,"frame_height":480,"keyframe_requests_sent":0,"audio_frames_decoded":140},"received":{"frames_decoded":88,"last_counter":91,"width":640,"height":480,"last_latency_ms":6.24,"audio_hz":440.1}}"#;

    const SUMMARY: &str = r#"{"event":"media_summary","call_id":"c1","frames_decoded":236,"stamped_frames":236,"first_counter":3,"last_counter":238,"counter_regressions":0,"width":640,"height":480,"setup_ms":181.25,"latency_ms":{"p50":6.1,"p95":9.0,"max":15.2},"audio_seconds":7.9,"audio_frequencies_hz":[440.0,null,441.0,439.0]}"#;

    #[test]
    fn parses_stats_lines() {
        let Event::Stats(s) = parse_line(STATS) else {
            panic!("not stats");
        };
        assert_eq!(s.elapsed_ms, 3012);
        assert_eq!(s.rtt_ms, Some(0.42));
        assert_eq!(s.sent_frame_rate, 30.0);
        assert_eq!(s.received_frame_rate, 29.9);
        assert_eq!((s.received_width, s.received_height), (640, 480));
        assert_eq!(s.frames_decoded, 88);
        assert_eq!(s.last_latency_ms, Some(6.24));
        assert_eq!(s.audio_hz, Some(440.1));
    }

    #[test]
    fn parses_summaries_resources_and_the_rest() {
        let Event::MediaSummary(m) = parse_line(SUMMARY) else {
            panic!("not a summary");
        };
        assert_eq!(m.frames_decoded, 236);
        assert_eq!((m.first_counter, m.last_counter), (Some(3), Some(238)));
        assert_eq!(m.setup_ms, Some(181.25));
        assert_eq!(m.latency_p95_ms, Some(9.0));
        assert_eq!(m.audio_frequencies_hz[1], None);
        assert_eq!(median_frequency(&m.audio_frequencies_hz), Some(440.0));

        assert_eq!(
            parse_line(
                r#"{"event":"resources","open_fds":12,"threads":9,"tasks":4,"rss_kb":20480}"#
            ),
            Event::Resources(Resources {
                open_fds: 12,
                threads: 9,
                tasks: 4,
                rss_kb: 20480
            })
        );
        assert_eq!(
            parse_line(r#"{"event":"exit","code":3,"message":"timed out"}"#),
            Event::Exit {
                code: 3,
                message: "timed out".into()
            }
        );
        assert_eq!(
            parse_line(r#"{"event":"signaling","state":"connected","user_id":"u"}"#),
            Event::SignalingConnected
        );
        assert_eq!(
            parse_line(r#"{"event":"call","state":"connected","call_id":"c"}"#),
            Event::CallConnected
        );
        assert_eq!(
            parse_line(r#"{"event":"ended","reason":"hung_up"}"#),
            Event::Ended("hung_up".into())
        );
        assert!(matches!(
            parse_line(r#"{"event":"call","state":"connecting"}"#),
            Event::Other(_)
        ));
        assert_eq!(parse_line("oops"), Event::Text("oops".into()));
    }

    #[test]
    fn a_missing_summary_field_is_none_not_zero() {
        let Event::MediaSummary(m) = parse_line(
            r#"{"event":"media_summary","frames_decoded":0,"setup_ms":null,"latency_ms":{"p50":null}}"#,
        ) else {
            panic!("not a summary");
        };
        assert_eq!(m.setup_ms, None);
        assert_eq!(m.latency_p50_ms, None);
        assert_eq!(m.first_counter, None);
        assert!(m.audio_frequencies_hz.is_empty());
        assert_eq!(median_frequency(&m.audio_frequencies_hz), None);
    }

    #[test]
    fn stats_read_well() {
        let Event::Stats(s) = parse_line(STATS) else {
            panic!()
        };
        assert_eq!(
            human_stats("doctor", (640, 480), &s),
            "[doctor] 3 s  rtt 0.4 ms  sending 640x480 30.0 fps 480 kbit/s  \
             receiving 640x480 29.9 fps  latency 6 ms  audio 440 Hz"
        );
        // Before anything arrives: dashes, not zeros; losses only when there are some.
        let early = Stats {
            packets_lost: 2,
            ..Stats::default()
        };
        assert_eq!(
            human_stats("patient", (1280, 720), &early),
            "[patient] 0 s  rtt -  sending 1280x720 0.0 fps 0 kbit/s  \
             receiving 0x0 0.0 fps  latency -  audio -  lost 2 packets"
        );
    }

    #[test]
    fn summaries_read_well() {
        let Event::MediaSummary(m) = parse_line(SUMMARY) else {
            panic!()
        };
        assert_eq!(
            human_summary("patient", &m),
            "[patient] received 236 frames 640x480 (frames 3..238, 0 out of order), \
             first frame 181.2 ms after accepting, latency p50 6.1 / p95 9.0 / max 15.2 ms, \
             audio 7.9 s at 440 Hz"
        );
        let none = human_summary("doctor", &MediaSummary::default());
        assert!(none.contains("no stamped frames"), "{none}");
        assert!(none.contains("first frame - ms"), "{none}");
        assert!(none.contains("no tone"), "{none}");
    }
}
