//! A private PulseAudio sound server with one null sink: real, clocked
//! audio devices on a machine with no sound hardware.
//!
//! The daemon runs in user space under a temporary directory (socket,
//! runtime and state files, configuration) and touches nothing of the
//! user's: `-n` skips the system's default.pa, and every path it or a
//! client would use is pointed into the directory. It loads
//! `module-native-protocol-unix` on our socket and `module-null-sink`,
//! whose `.monitor` source is the default source: what is played into the
//! sink can be recorded back from it.
//!
//! Device code runs in child processes (the headless client) given
//! [`Pulse::env`]: `PULSE_SERVER` for libpulse, and an ALSA configuration
//! (`ALSA_CONFIG_PATH`: the system's alsa.conf, then ours) whose
//! `pcm.!default`/`ctl.!default` are `type pulse`, so cpal's ALSA default
//! device is the sound server. Children, because this process cannot set
//! its own environment without `unsafe` (edition 2024), and because it
//! keeps ALSA's process-wide configuration out of the test runner.
//!
//! Two quirks from shared/PLATFORM.md are handled at start: capture from an
//! idle null sink's monitor only begins ~2 s after a stream starts, so a
//! silent low-latency playback stream keeps the sink running for the
//! whole test, and `start` waits 2.5 s once for it to settle (after that a
//! capture starts in ~25 ms).
//!
//! Everything is killed when the `Pulse` is dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

/// The null sink's name; its monitor is `clinicall.monitor`.
pub const SINK: &str = "clinicall";
/// The rate the sink runs at and recordings are made at.
pub const RATE: u32 = 48_000;

/// The system's top-level ALSA configuration, which ours is appended to.
const SYSTEM_ALSA_CONF: &str = "/usr/share/alsa/alsa.conf";
/// How long the keep-alive stream needs before captures start promptly.
const WARM_UP: Duration = Duration::from_millis(2500);

/// A running PulseAudio with a null sink. Stopped when dropped.
pub struct Pulse {
    daemon: Child,
    _keep_alive: Child,
    dir: tempfile::TempDir,
}

impl Pulse {
    /// Starts the daemon and the keep-alive stream and waits until capture
    /// is prompt. Fails (never skips) when PulseAudio is not installed.
    pub async fn start() -> Pulse {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["run", "state", "home"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        let socket = dir.path().join("run/native");
        let script = dir.path().join("server.pa");
        std::fs::write(
            &script,
            format!(
                "load-module module-native-protocol-unix socket={} auth-anonymous=1 auth-cookie-enabled=0\n\
                 load-module module-null-sink sink_name={SINK} rate={RATE} channels=2\n\
                 set-default-sink {SINK}\n\
                 set-default-source {SINK}.monitor\n",
                socket.display()
            ),
        )
        .unwrap();
        write_client_files(dir.path(), &format!("unix:{}", socket.display()));
        let log = std::fs::File::create(dir.path().join("pulseaudio.log")).unwrap();
        let daemon = Command::new("pulseaudio")
            // No default.pa and no daemon.conf of the system's: only ours.
            .args(["-n", "--file", &script.display().to_string()])
            .args(["--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no"])
            .args(["--disallow-exit", "--log-target=stderr"])
            .envs(Self::client_env(dir.path()))
            // Where the daemon itself keeps state: all inside the dir.
            .env("HOME", dir.path().join("home"))
            .env("XDG_CONFIG_HOME", dir.path().join("home"))
            .env("XDG_RUNTIME_DIR", dir.path().join("run"))
            .env_remove("PULSE_SERVER")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    panic!(
                        "the audio tests need PulseAudio, which is not installed: install the \
                         Debian packages `pulseaudio pulseaudio-utils libasound2-plugins` \
                         (or `cargo xtask setup`)"
                    )
                }
                panic!("cannot start pulseaudio: {e}")
            });
        let mut daemon = daemon;
        wait_until_it_answers(&mut daemon, dir.path()).await;
        let keep_alive = client_command(dir.path(), "pacat")
            .args(["--playback", "--raw", "--latency-msec=10", "--volume=0"])
            .args(["--format=s16le", "--channels=2", &format!("--rate={RATE}")])
            .args(["--device", SINK, "/dev/zero"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("pacat starts");
        tokio::time::sleep(WARM_UP).await;
        Pulse {
            daemon,
            _keep_alive: keep_alive,
            dir,
        }
    }

    /// The environment a child needs to use this server, through libpulse
    /// or through ALSA's default device.
    pub fn env(&self) -> Vec<(String, String)> {
        Self::client_env(self.dir.path())
    }

    fn client_env(dir: &Path) -> Vec<(String, String)> {
        let path = |name: &str| dir.join(name).display().to_string();
        vec![
            (
                "PULSE_SERVER".into(),
                std::fs::read_to_string(path("server")).unwrap_or_default(),
            ),
            // No autospawn (a missing server must stay missing), and a
            // cookie and runtime directory of our own: libpulse would
            // otherwise create them under the user's ~/.config/pulse.
            ("PULSE_CLIENTCONFIG".into(), path("client.conf")),
            ("PULSE_COOKIE".into(), path("cookie")),
            ("PULSE_RUNTIME_PATH".into(), path("run")),
            ("PULSE_STATE_PATH".into(), path("state")),
            // ALSA reads every file in this list: the system's alsa.conf
            // (plugins, card definitions), then our defaults.
            (
                "ALSA_CONFIG_PATH".into(),
                format!("{SYSTEM_ALSA_CONF}:{}", path("asound.conf")),
            ),
        ]
    }

    /// `program` with [`Pulse::env`].
    pub fn command(&self, program: &str) -> Command {
        client_command(self.dir.path(), program)
    }

    /// Records `duration` of the null sink's monitor (what is being played
    /// into it), as 48 kHz mono.
    pub async fn record(&self, duration: Duration) -> Vec<i16> {
        let mut parec = self
            .command("parec")
            .args([
                "--raw",
                "--format=s16le",
                "--channels=1",
                &format!("--rate={RATE}"),
            ])
            .args(["--latency-msec=20", "--device", &format!("{SINK}.monitor")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("parec starts");
        let mut stdout = parec.stdout.take().unwrap();
        let mut bytes = Vec::new();
        let wanted = (duration.as_secs_f64() * f64::from(RATE)) as usize * 2;
        let reading = async {
            let mut buf = [0u8; 8192];
            while bytes.len() < wanted {
                match stdout.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => bytes.extend_from_slice(&buf[..n]),
                }
            }
        };
        // Generous: a loaded machine may start the stream late.
        let _ = tokio::time::timeout(duration * 3 + Duration::from_secs(2), reading).await;
        let _ = parec.kill().await;
        bytes
            .chunks_exact(2)
            .take(wanted / 2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect()
    }

    /// Starts playing a WAV file into the null sink (killed when dropped).
    pub fn play(&self, wav: &Path) -> Child {
        self.command("paplay")
            .args(["--device", SINK])
            .arg(wav)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("paplay starts")
    }

    /// A file in the server's directory (for fixtures).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        log(self.dir.path())
    }

    /// Whether the daemon is still running (it should be, all test long).
    pub fn is_running(&mut self) -> bool {
        matches!(self.daemon.try_wait(), Ok(None))
    }
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("pulseaudio.log")).unwrap_or_default()
}

fn client_command(dir: &Path, program: &str) -> Command {
    let mut command = Command::new(program);
    command.envs(Pulse::client_env(dir));
    command
}

async fn wait_until_it_answers(daemon: &mut Child, dir: &Path) {
    for _ in 0..100 {
        if let Some(status) = daemon.try_wait().unwrap() {
            panic!("pulseaudio exited ({status}):\n{}", log(dir));
        }
        let info = client_command(dir, "pactl")
            .arg("info")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .expect("pactl runs (package pulseaudio-utils)");
        if info.success() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("pulseaudio did not answer in 5 s:\n{}", log(dir));
}

/// The files [`Pulse::env`] points clients at: the server address, the
/// client configuration and the ALSA configuration.
fn write_client_files(dir: &Path, server: &str) {
    std::fs::write(dir.join("server"), server).unwrap();
    std::fs::write(dir.join("client.conf"), "autospawn = no\n").unwrap();
    std::fs::write(
        dir.join("asound.conf"),
        "pcm.!default { type pulse }\nctl.!default { type pulse }\n",
    )
    .unwrap();
}

/// The environment of a machine whose sound server is not running: ALSA's
/// default is routed to PulseAudio as above, but nothing listens on the
/// socket. Files go in `dir`.
pub fn no_sound_server_env(dir: &Path) -> Vec<(String, String)> {
    for sub in ["run", "state"] {
        let _ = std::fs::create_dir(dir.join(sub));
    }
    write_client_files(
        dir,
        &format!("unix:{}", dir.join("run/nothing-here").display()),
    );
    Pulse::client_env(dir)
}
