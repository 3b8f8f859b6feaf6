//! End to end with real sound devices: the headless clients open cpal's
//! ALSA default device, routed to a private PulseAudio null sink
//! (`harness/pulse.rs`), in real calls. What a speaker played is recorded
//! back from the sink's monitor; what a microphone heard is played into
//! the sink. Under CPU load the sound server occasionally underruns, so
//! checks ask for most of the audio to be right, not all of it.

mod harness;

use clinicall_media::{AudioSource, ToneSource, dominant_frequency, write_wav};
use harness::pulse::{Pulse, RATE, no_sound_server_env};
use harness::{Client, ONE_AT_A_TIME, Server, ended, events, summary};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// Fraction of `window`-sample stretches of `pcm` whose dominant frequency
/// is within 3 Hz of `hz`.
fn share_on_tone(pcm: &[i16], hz: f32, window: usize) -> f64 {
    let windows: Vec<&[i16]> = pcm.chunks_exact(window).collect();
    let on = windows
        .iter()
        .filter(|w| dominant_frequency(w, RATE).is_some_and(|f| (f - hz).abs() < 3.0))
        .count();
    on as f64 / windows.len().max(1) as f64
}

/// Waits until the callee is signed in, then starts the caller.
async fn call(callee: &Client, caller: impl FnOnce() -> Client) -> Client {
    callee
        .wait_for(LIMIT, |l| {
            l["event"] == "signaling" && l["state"] == "connected"
        })
        .await;
    caller()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn received_audio_plays_on_the_speaker() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut pulse = Pulse::start().await;
    let server = Server::start().await;
    let (doctor, patient) = server.pair().await;
    let patient_id = patient.id.to_string();
    let env = pulse.env();

    // The patient plays what it receives on the default speaker: the null
    // sink. The doctor asks for a speaker that does not exist: it is told
    // so, with the devices there are, and its call goes on (and nothing of
    // it reaches the sink).
    let callee = server.spawn_with_env(
        &patient,
        &[
            "--answer",
            "--speaker",
            "--video-size",
            "320x240",
            "--tone-hz",
            "440",
        ],
        &env,
    );
    let caller = call(&callee, || {
        server.spawn_with_env(
            &doctor,
            &[
                "--call",
                &patient_id,
                "--hang-up-after",
                "8",
                "--video-size",
                "320x240",
                "--tone-hz",
                "660",
                "--speaker",
                "--audio-output",
                "Nonexistent Speaker",
            ],
            &env,
        )
    })
    .await;

    let opened = callee
        .wait_for(LIMIT, |l| {
            l["event"] == "audio_device" && l["direction"] == "output"
        })
        .await;
    assert_eq!(opened["id"], "default", "{opened:#}");
    assert_eq!(opened["sample_rate"], 48_000, "{opened:#}");
    // Let playback settle, then record what reaches the sink.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let recorded = pulse.record(Duration::from_secs(4)).await;
    assert!(
        recorded.len() >= RATE as usize * 3,
        "recorded {}",
        recorded.len()
    );
    let (caller_code, caller_lines) = caller.finish(LIMIT).await;
    let (callee_code, callee_lines) = callee.finish(LIMIT).await;
    assert_eq!(caller_code, 0, "{caller_lines:#?}");
    assert_eq!(callee_code, 0, "{callee_lines:#?}");
    assert!(pulse.is_running(), "{}", pulse.log());
    assert!(
        events(&callee_lines, "warning").is_empty(),
        "{callee_lines:#?}"
    );

    // The patient still measured what it played, and says how playing went.
    let callee_summary = summary(&callee_lines);
    // What reached the sink.
    let found = dominant_frequency(&recorded, RATE);
    assert!(
        found.is_some_and(|f| (f - 660.0).abs() < 3.0),
        "heard {found:?}; the patient: {callee_summary:#}"
    );
    let share = share_on_tone(&recorded, 660.0, RATE as usize / 2);
    assert!(
        share >= 0.75,
        "only {share} of the half-seconds were 660 Hz; the patient: {callee_summary:#}"
    );

    let heard = callee_summary["audio_frequencies_hz"].as_array().unwrap();
    let on_tone = heard
        .iter()
        .filter(|f| f.as_f64().is_some_and(|f| (f - 660.0).abs() < 5.0))
        .count();
    assert!(
        on_tone >= 5 && on_tone + 2 >= heard.len(),
        "{callee_summary:#}"
    );
    let played = &callee_summary["speaker"];
    assert!(
        played["played_seconds"].as_f64().unwrap() >= 5.0,
        "{callee_summary:#}"
    );
    // A few short gaps are normal under load; most of the call played.
    assert!(
        played["silent_seconds"].as_f64().unwrap()
            < played["played_seconds"].as_f64().unwrap() / 4.0,
        "{callee_summary:#}"
    );

    // The doctor's missing speaker: one warning a patient can read, naming
    // the devices there are; its call was unaffected.
    let warnings = events(&caller_lines, "warning");
    assert_eq!(warnings.len(), 1, "{caller_lines:#?}");
    let warning = warnings[0];
    assert_eq!(warning["device"], "speaker");
    assert_eq!(
        warning["message"],
        "No speaker named \"Nonexistent Speaker\" was found. Check that it is plugged in, or choose another speaker."
    );
    let available: Vec<&str> = warning["available"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["id"].as_str())
        .collect();
    assert!(
        available.contains(&"default") && available.contains(&"pulse"),
        "{warning:#}"
    );
    assert!(summary(&caller_lines)["speaker"].is_null());
    assert_eq!(ended(&caller_lines)["reason"], "local_hang_up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_microphone_sends_what_it_hears() {
    let _one = ONE_AT_A_TIME.lock().await;
    let pulse = Pulse::start().await;
    let server = Server::start().await;
    let (doctor, patient) = server.pair().await;
    let patient_id = patient.id.to_string();

    // 30 s of 550 Hz, longer than the call, played into the sink: the
    // microphone (the default source, the sink's monitor) hears it.
    let wav = pulse.path("550hz.wav");
    let mut tone = ToneSource::new(550.0, 0.4).unpaced();
    let pcm: Vec<i16> = (0..1500)
        .flat_map(|_| tone.next_frame().unwrap().samples)
        .collect();
    write_wav(&wav, RATE, 1, &pcm).unwrap();
    let _player = pulse.play(&wav);

    // The patient only measures; it sends its own 440 Hz tone.
    let callee = server.spawn(&patient, &["--answer", "--video-size", "320x240"]);
    let caller = call(&callee, || {
        server.spawn_with_env(
            &doctor,
            &[
                "--call",
                &patient_id,
                "--hang-up-after",
                "8",
                "--video-size",
                "320x240",
                "--audio",
                "microphone",
            ],
            &pulse.env(),
        )
    })
    .await;
    let (caller_code, caller_lines) = caller.finish(LIMIT).await;
    let (callee_code, callee_lines) = callee.finish(LIMIT).await;
    assert_eq!(caller_code, 0, "{caller_lines:#?}");
    assert_eq!(callee_code, 0, "{callee_lines:#?}");

    let opened = events(&caller_lines, "audio_device");
    assert_eq!(opened.len(), 1, "{caller_lines:#?}");
    assert_eq!(opened[0]["direction"], "input");
    assert!(
        events(&caller_lines, "warning").is_empty(),
        "{caller_lines:#?}"
    );

    // The patient heard 550 Hz for most of the call.
    let callee_summary = summary(&callee_lines);
    let heard: Vec<f64> = callee_summary["audio_frequencies_hz"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_f64().unwrap_or(0.0))
        .collect();
    let on_tone = heard.iter().filter(|f| (*f - 550.0).abs() < 5.0).count();
    assert!(on_tone >= 5, "{callee_summary:#}");
    assert!(
        on_tone as f64 >= 0.75 * heard.len() as f64,
        "{callee_summary:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_sound_server_the_call_goes_on_with_a_warning() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    // ALSA's default goes to PulseAudio, but no server is running.
    let env = no_sound_server_env(dir.path());
    let server = Server::start().await;
    let (doctor, patient) = server.pair().await;
    let patient_id = patient.id.to_string();

    let callee = server.spawn_with_env(
        &patient,
        &["--answer", "--speaker", "--video-size", "320x240"],
        &env,
    );
    let caller = call(&callee, || {
        server.spawn_with_env(
            &doctor,
            &[
                "--call",
                &patient_id,
                "--hang-up-after",
                "5",
                "--video-size",
                "320x240",
                "--audio",
                "microphone",
                "--speaker",
            ],
            &env,
        )
    })
    .await;
    let (caller_code, caller_lines) = caller.finish(LIMIT).await;
    let (callee_code, callee_lines) = callee.finish(LIMIT).await;
    assert_eq!(caller_code, 0, "{caller_lines:#?}");
    assert_eq!(callee_code, 0, "{callee_lines:#?}");
    assert_eq!(ended(&caller_lines)["reason"], "local_hang_up");

    // The doctor was told, once per device, in words for a person.
    let warnings = events(&caller_lines, "warning");
    let devices: Vec<&str> = warnings
        .iter()
        .filter_map(|w| w["device"].as_str())
        .collect();
    assert_eq!(devices.len(), 2, "{warnings:#?}");
    assert!(
        devices.contains(&"microphone") && devices.contains(&"speaker"),
        "{warnings:#?}"
    );
    for warning in &warnings {
        let message = warning["message"].as_str().unwrap();
        assert!(message.starts_with("Your "), "{warning:#}");
        assert!(
            !message.contains("ALSA") && !message.contains("snd_"),
            "{warning:#}"
        );
        assert!(
            !warning["detail"].as_str().unwrap().is_empty(),
            "{warning:#}"
        );
    }
    assert!(events(&caller_lines, "audio_device").is_empty());

    // Video flowed both ways all the same; the patient heard no audio
    // (the doctor had no microphone), the doctor heard the patient's tone.
    for lines in [&caller_lines, &callee_lines] {
        let s = summary(lines);
        assert!(s["stamped_frames"].as_u64().unwrap() >= 90, "{s:#}");
        assert_eq!(s["counter_regressions"], 0, "{s:#}");
    }
    assert_eq!(summary(&callee_lines)["audio_seconds"], 0.0);
    let caller_heard = summary(&caller_lines)["audio_frequencies_hz"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        caller_heard
            .iter()
            .filter(|f| f.as_f64().is_some_and(|f| (f - 440.0).abs() < 5.0))
            .count()
            >= 3,
        "{caller_heard:?}"
    );
}
