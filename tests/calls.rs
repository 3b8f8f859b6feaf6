//! End to end: a real signaling server and two real `clinicall-headless`
//! processes in real WebRTC calls over loopback, with real VP8 video and
//! Opus audio. What each side decoded is read back from the stamped test
//! pattern (frame counters, size) and the tone (its frequency).

mod harness;

use harness::{ONE_AT_A_TIME, Server, assert_received, ended, events, summary};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_calls_patient_and_both_decode_the_others_video_and_tone() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::start().await;
    let (doctor, patient) = server.pair().await;
    let patient_id = patient.id.to_string();

    // Different sizes and tones each way, so each side's checks can only
    // pass on what the other sent.
    let callee = server.spawn(
        &patient,
        &["--answer", "--video-size", "320x240", "--tone-hz", "660"],
    );
    callee
        .wait_for(LIMIT, |l| {
            l["event"] == "signaling" && l["state"] == "connected"
        })
        .await;
    let caller = server.spawn(
        &doctor,
        &[
            "--call",
            &patient_id,
            "--hang-up-after",
            "7",
            "--video-size",
            "640x480",
            "--tone-hz",
            "440",
        ],
    );

    let (caller_code, caller_lines) = caller.finish(LIMIT).await;
    let (callee_code, callee_lines) = callee.finish(LIMIT).await;
    assert_eq!(caller_code, 0, "{caller_lines:#?}");
    assert_eq!(callee_code, 0, "{callee_lines:#?}");
    assert_eq!(ended(&caller_lines)["reason"], "local_hang_up");
    assert_eq!(ended(&callee_lines)["reason"], "hung_up");

    // The doctor saw the patient's 320x240 and heard 660 Hz; the patient
    // saw the doctor's 640x480 and heard 440 Hz; at least 5 s each.
    assert_received(summary(&caller_lines), 320, 240, 5, 660.0);
    assert_received(summary(&callee_lines), 640, 480, 5, 440.0);

    // Stats came every second with the figures the UI shows.
    let stats = events(&caller_lines, "stats");
    assert!(stats.len() >= 5, "{caller_lines:#?}");
    let last = stats.last().unwrap();
    assert!(
        last["rtt_ms"].as_f64().is_some_and(|rtt| rtt < 50.0),
        "{last:#}"
    );
    assert!(
        last["inbound"]["frame_rate"].as_f64().unwrap() > 20.0,
        "{last:#}"
    );
    assert!(
        last["outbound"]["video_kbps"].as_f64().unwrap() > 50.0,
        "{last:#}"
    );
    assert!(
        last["inbound"]["audio_kbps"].as_f64().unwrap() > 10.0,
        "{last:#}"
    );
    assert_eq!(last["inbound"]["packets_lost"], 0, "{last:#}");
}

/// Asserts a side saw no media at all.
fn assert_no_media(lines: &[serde_json::Value]) {
    assert!(events(lines, "stats").is_empty(), "{lines:#?}");
    assert!(
        events(lines, "media_summary")
            .iter()
            .all(|s| s["frames_decoded"] == 0),
        "{lines:#?}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l["event"] == "call" && l["state"] == "connected"),
        "{lines:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_cancel_and_timeout_end_with_the_right_reason_and_no_media() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::start_with(|c| c.calls.ring_timeout = Duration::from_secs(2)).await;
    let (doctor, patient) = server.pair().await;
    let patient_id = patient.id.to_string();

    // (callee's --incoming, caller's extra options, caller's reason, callee's reason)
    let cases: [(&str, &[&str], &str, &str); 3] = [
        ("reject", &[], "rejected", "local_reject"),
        (
            "ignore",
            &["--cancel-after", "1"],
            "local_cancel",
            "cancelled",
        ),
        ("ignore", &[], "timeout", "timeout"),
    ];
    for (incoming, caller_options, caller_reason, callee_reason) in cases {
        let callee = server.spawn(&patient, &["--answer", "--incoming", incoming]);
        callee
            .wait_for(LIMIT, |l| {
                l["event"] == "signaling" && l["state"] == "connected"
            })
            .await;
        let mut args = vec!["--call", &patient_id];
        args.extend_from_slice(caller_options);
        let caller = server.spawn(&doctor, &args);
        let (_, caller_lines) = caller.finish(LIMIT).await;
        let (callee_code, callee_lines) = callee.finish(LIMIT).await;
        assert_eq!(
            ended(&caller_lines)["reason"],
            caller_reason,
            "{caller_lines:#?}"
        );
        assert_eq!(
            ended(&callee_lines)["reason"],
            callee_reason,
            "{callee_lines:#?}"
        );
        // The callee did as it was told, so it reports success.
        assert_eq!(callee_code, 0, "{callee_lines:#?}");
        assert_no_media(&caller_lines);
        assert_no_media(&callee_lines);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calling_a_patient_already_in_a_call_is_busy_and_leaves_that_call_alone() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::start().await;
    let first_doctor = server.doctor("Dr. Ada").await;
    let second_doctor = server.doctor("Dr. Grace").await;
    let patient = server.patient_of(&[&first_doctor, &second_doctor]).await;
    let patient_id = patient.id.to_string();
    let small = ["--video-size", "320x240"];

    let callee = server.spawn(&patient, &["--answer", small[0], small[1]]);
    callee
        .wait_for(LIMIT, |l| {
            l["event"] == "signaling" && l["state"] == "connected"
        })
        .await;
    let first = server.spawn(
        &first_doctor,
        &[
            "--call",
            &patient_id,
            "--hang-up-after",
            "4",
            small[0],
            small[1],
        ],
    );
    first.connected().await;

    let second = server.spawn(&second_doctor, &["--call", &patient_id]);
    let (second_code, second_lines) = second.finish(LIMIT).await;
    assert_eq!(second_code, 1, "{second_lines:#?}");
    assert_eq!(ended(&second_lines)["reason"], "busy", "{second_lines:#?}");
    assert_no_media(&second_lines);

    // The call in progress went on and ended normally; the patient's
    // device never rang for the second one.
    let (first_code, first_lines) = first.finish(LIMIT).await;
    let (callee_code, callee_lines) = callee.finish(LIMIT).await;
    assert_eq!(first_code, 0, "{first_lines:#?}");
    assert_eq!(callee_code, 0, "{callee_lines:#?}");
    assert_eq!(ended(&callee_lines)["reason"], "hung_up");
    assert_eq!(
        events(&callee_lines, "call")
            .iter()
            .filter(|l| l["state"] == "incoming_ringing")
            .count(),
        1,
        "{callee_lines:#?}"
    );
    assert_received(summary(&callee_lines), 320, 240, 3, 440.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_calls_in_a_row_release_every_socket_task_and_thread() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::start().await;
    let (doctor, patient) = server.pair().await;
    let patient_id = patient.id.to_string();
    let small = ["--video-size", "320x240"];

    let callee = server.spawn(&patient, &["--answer", "--calls", "20", small[0], small[1]]);
    callee
        .wait_for(LIMIT, |l| {
            l["event"] == "signaling" && l["state"] == "connected"
        })
        .await;
    let caller = server.spawn(
        &doctor,
        &[
            "--call",
            &patient_id,
            "--calls",
            "20",
            "--hang-up-after",
            "1",
            small[0],
            small[1],
        ],
    );
    let (caller_code, caller_lines) = caller.finish(Duration::from_secs(180)).await;
    let (callee_code, callee_lines) = callee.finish(LIMIT).await;
    assert_eq!(caller_code, 0, "{caller_lines:#?}");
    assert_eq!(callee_code, 0, "{callee_lines:#?}");

    for lines in [&caller_lines, &callee_lines] {
        // Every call carried video.
        let summaries = events(lines, "media_summary");
        assert_eq!(summaries.len(), 20, "{lines:#?}");
        assert!(
            summaries
                .iter()
                .all(|s| s["stamped_frames"].as_u64().unwrap() >= 15),
            "{summaries:#?}"
        );
        // `resources` comes once before any call and after each call's
        // media is released: the last must equal the first.
        let resources = events(lines, "resources");
        assert_eq!(resources.len(), 21, "{lines:#?}");
        let (before, after) = (resources[0], resources[20]);
        for what in ["open_fds", "threads", "tasks"] {
            assert_eq!(before[what], after[what], "{what}: {resources:#?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_media_is_sent_from_y4m_and_wav_files() {
    use clinicall_media::{TestPattern, VideoSource, write_wav, write_y4m};
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    // A Y4M of the stamped pattern (so the receiver can count its frames)
    // long enough not to loop during the call, and a stereo 44.1 kHz WAV of
    // 1 kHz (converted to 48 kHz mono on the way).
    let video = dir.path().join("consultation.y4m");
    let mut pattern = TestPattern::new(352, 288, 30).unpaced();
    let frames: Vec<_> = (0..30 * 6).map(|_| pattern.next_frame().unwrap()).collect();
    write_y4m(&video, 30, &frames).unwrap();
    let audio = dir.path().join("voice.wav");
    let samples: Vec<i16> = (0..44_100 * 2)
        .flat_map(|i| {
            let t = i as f64 / 44_100.0;
            let v = (8_000.0 * (2.0 * std::f64::consts::PI * 1_000.0 * t).sin()) as i16;
            [v, v]
        })
        .collect();
    write_wav(&audio, 44_100, 2, &samples).unwrap();

    let server = Server::start().await;
    let (doctor, patient) = server.pair().await;
    let patient_id = patient.id.to_string();
    let callee = server.spawn(&patient, &["--answer", "--video-size", "320x240"]);
    callee
        .wait_for(LIMIT, |l| {
            l["event"] == "signaling" && l["state"] == "connected"
        })
        .await;
    let caller = server.spawn(
        &doctor,
        &[
            "--call",
            &patient_id,
            "--hang-up-after",
            "4",
            "--video",
            video.to_str().unwrap(),
            "--audio",
            audio.to_str().unwrap(),
        ],
    );
    let (caller_code, caller_lines) = caller.finish(LIMIT).await;
    let (callee_code, callee_lines) = callee.finish(LIMIT).await;
    assert_eq!(caller_code, 0, "{caller_lines:#?}");
    assert_eq!(callee_code, 0, "{callee_lines:#?}");
    // The patient saw the file's frames in order at its size, and heard it.
    assert_received(summary(&callee_lines), 352, 288, 3, 1_000.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_media_file_is_refused_before_signing_in() {
    let server = Server::start().await;
    let (doctor, patient) = server.pair().await;
    let patient_id = patient.id.to_string();
    let caller = server.spawn(
        &doctor,
        &["--call", &patient_id, "--video", "/nonexistent/clip.y4m"],
    );
    let (code, lines) = caller.finish(LIMIT).await;
    assert_eq!(code, 1, "{lines:#?}");
    let exit = lines.last().unwrap();
    assert!(
        exit["message"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/clip.y4m"),
        "{exit:#}"
    );
    assert!(events(&lines, "signaling").is_empty(), "{lines:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_hangs_up_the_call_before_the_client_exits() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::start().await;
    let (doctor, patient) = server.pair().await;
    let patient_id = patient.id.to_string();
    let small = ["--video-size", "320x240"];
    let callee = server.spawn(&patient, &["--answer", small[0], small[1]]);
    callee
        .wait_for(LIMIT, |l| {
            l["event"] == "signaling" && l["state"] == "connected"
        })
        .await;
    let caller = server.spawn(&doctor, &["--call", &patient_id, small[0], small[1]]);
    caller.connected().await;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &caller.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let (caller_code, caller_lines) = caller.finish(LIMIT).await;
    let (_, callee_lines) = callee.finish(LIMIT).await;
    assert_eq!(caller_code, 5, "{caller_lines:#?}");
    assert_eq!(ended(&caller_lines)["reason"], "local_hang_up");
    // Through the server, at once: not a media timeout.
    let end = ended(&callee_lines);
    assert_eq!(end["reason"], "hung_up", "{callee_lines:#?}");
    assert_eq!(end["by"], doctor.id.to_string(), "{end:#}");
}
