//! The audio API on real devices: a private PulseAudio null sink
//! (`tests/harness/pulse.rs`, shared with the end-to-end tests) reached
//! through cpal's ALSA default device.
//!
//! cpal and ALSA read their configuration from the environment, which
//! this process cannot set for itself without `unsafe`; so this test
//! binary runs without libtest (`harness = false`) and re-executes itself
//! as a child with the sound server's environment and a scenario name.
//! The child uses the devices and prints JSON lines; the parent plays
//! into and records from the sink and checks both.

#[path = "../../tests/harness/pulse.rs"]
#[allow(dead_code)] // the end-to-end tests use the rest
mod pulse;

use clinicall_devices::audio::{
    AudioError, Microphone, input_devices, measure, output_devices, play_test_tone,
};
use clinicall_media::{AudioSource, ToneSource, dominant_frequency, write_wav};
use pulse::{Pulse, RATE};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const CHILD_FLAG: &str = "--child";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == CHILD_FLAG) {
        child(&args[i + 1]);
        return;
    }
    // libtest's flags (--list, filters) mean nothing here; `cargo test
    // --list` must still not start a sound server.
    if args.iter().any(|a| a == "--list") {
        println!("real_devices: test");
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let started = Instant::now();
        device_lists_and_the_test_tone().await;
        println!("ok: device lists and the test tone");
        microphone_level_by_name().await;
        println!("ok: microphone level, opened by name");
        microphone_errors_when_the_sound_server_dies().await;
        println!("ok: a dead sound server ends next_frame with an error");
        println!("real_devices: all passed in {:?}", started.elapsed());
    });
}

// ---- parent side ----

/// This binary again, as `scenario`, with the sound server's environment.
fn spawn_child(
    pulse_env: &[(String, String)],
    scenario: &str,
) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([CHILD_FLAG, scenario])
        .envs(pulse_env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// The child's next JSON line (within 20 s).
async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> Value {
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("the child answers in time")
        .unwrap()
        .expect("the child printed a line");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

async fn finish(mut child: Child) {
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("the child exits in time")
        .unwrap();
    assert!(status.success(), "child failed: {status}");
}

async fn device_lists_and_the_test_tone() {
    let pulse = Pulse::start().await;
    let (child, mut lines) = spawn_child(&pulse.env(), "lists-and-tone");
    let lists = next_line(&mut lines).await;
    for direction in ["inputs", "outputs"] {
        let devices = lists[direction].as_array().unwrap();
        // The default comes first and is marked; PulseAudio's own PCM is
        // listed too.
        assert_eq!(devices[0]["id"], "default", "{lists:#}");
        assert_eq!(devices[0]["is_default"], true, "{lists:#}");
        assert_eq!(
            devices.iter().filter(|d| d["is_default"] == true).count(),
            1
        );
        assert!(devices.iter().any(|d| d["id"] == "pulse"), "{lists:#}");
    }
    // The child starts a 2 s tone at 880 Hz; a second of it is recorded.
    assert_eq!(next_line(&mut lines).await["event"], "tone");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let recorded = pulse.record(Duration::from_secs(1)).await;
    let found = dominant_frequency(&recorded, RATE);
    assert!(
        found.is_some_and(|f| (f - 880.0).abs() < 3.0),
        "heard {found:?}"
    );
    let played = next_line(&mut lines).await;
    assert_eq!(played["event"], "tone_done", "{played:#}");
    assert_eq!(played["sample_rate"], 48_000, "{played:#}");
    finish(child).await;
}

async fn microphone_level_by_name() {
    let pulse = Pulse::start().await;
    // 20 s of 550 Hz at 0.25 of full scale: RMS -15 dBFS.
    let wav = pulse.path("550hz.wav");
    let mut tone = ToneSource::new(550.0, 0.25).unpaced();
    let pcm: Vec<i16> = (0..1000)
        .flat_map(|_| tone.next_frame().unwrap().samples)
        .collect();
    write_wav(&wav, RATE, 1, &pcm).unwrap();
    let _player = pulse.play(&wav);
    let (child, mut lines) = spawn_child(&pulse.env(), "level-pulse");
    let level = next_line(&mut lines).await;
    assert_eq!(level["id"], "pulse", "{level:#}");
    let rms = level["rms_dbfs"].as_f64().unwrap();
    let peak = level["peak_dbfs"].as_f64().unwrap();
    // Relative: the sound server's volume and an underrun or two may move
    // it a little; silence would be -100.
    assert!((-21.0..=-12.0).contains(&rms), "{level:#}");
    assert!(peak > rms + 2.0 && peak <= 0.0, "{level:#}");
    let hz = level["hz"].as_f64().unwrap();
    assert!((hz - 550.0).abs() < 3.0, "{level:#}");
    finish(child).await;
}

async fn microphone_errors_when_the_sound_server_dies() {
    let pulse = Pulse::start().await;
    let (child, mut lines) = spawn_child(&pulse.env(), "read-until-error");
    assert_eq!(next_line(&mut lines).await["event"], "reading");
    drop(pulse); // kills the daemon
    let ended = next_line(&mut lines).await;
    assert_eq!(ended["event"], "error", "{ended:#}");
    // Not a hang: the frame timeout (2 s) at most, plus slack for load.
    let waited = ended["waited_ms"].as_f64().unwrap();
    assert!(waited < 4_000.0, "{ended:#}");
    assert_eq!(
        ended["message"],
        "Your microphone stopped working. It may have been unplugged; check it and try again, or choose another microphone.",
        "{ended:#}"
    );
    let closed = next_line(&mut lines).await;
    assert_eq!(closed["event"], "closed", "{closed:#}");
    assert!(closed["ms"].as_f64().unwrap() < 2_500.0, "{closed:#}");
    finish(child).await;
}

// ---- child side: the devices, as the app would use them ----

fn child(scenario: &str) {
    let say = |line: Value| println!("{line}");
    match scenario {
        "lists-and-tone" => {
            let describe = |devices: Vec<clinicall_devices::audio::AudioDevice>| -> Vec<Value> {
                devices
                    .iter()
                    .map(|d| json!({"id": d.id, "name": d.name, "is_default": d.is_default}))
                    .collect()
            };
            say(json!({
                "inputs": describe(input_devices().unwrap()),
                "outputs": describe(output_devices().unwrap()),
            }));
            say(json!({"event": "tone"}));
            let opened = play_test_tone(None, 880.0, Duration::from_secs(2)).unwrap();
            say(json!({"event": "tone_done", "sample_rate": opened.sample_rate}));
        }
        "level-pulse" => {
            let mut microphone = Microphone::open(Some("pulse")).unwrap();
            // Skip the first half second (the stream settling), then measure one.
            measure(&mut microphone, 25).unwrap();
            let (level, pcm) = measure(&mut microphone, 25).unwrap();
            say(json!({
                "id": microphone.device().device.id, "rms_dbfs": level.rms_dbfs,
                "peak_dbfs": level.peak_dbfs, "hz": dominant_frequency(&pcm, RATE),
            }));
        }
        "read-until-error" => {
            let mut microphone = Microphone::open(None).unwrap();
            microphone.read_frame().unwrap();
            say(json!({"event": "reading"}));
            let mut last = Instant::now();
            let error: AudioError = loop {
                match microphone.read_frame() {
                    Ok(_) => last = Instant::now(),
                    Err(e) => break e,
                }
            };
            say(json!({
                "event": "error", "message": error.to_string(), "detail": error.detail(),
                "waited_ms": last.elapsed().as_secs_f64() * 1000.0,
            }));
            // Closing must not hang either, whatever state the dead
            // server left the backend in.
            let closing = Instant::now();
            drop(microphone);
            say(json!({"event": "closed", "ms": closing.elapsed().as_secs_f64() * 1000.0}));
        }
        other => panic!("no scenario {other:?}"),
    }
}
