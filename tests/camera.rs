//! End to end: `--video camera` on a machine without a camera (no V4L2
//! devices at all here). The call must still connect and carry audio both
//! ways and the other side's video, with a `warning` line naming the
//! problem in words a patient understands: never a crash or a hang.

mod harness;

use harness::{ONE_AT_A_TIME, Server, assert_received, ended, events, summary};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_without_a_camera_connects_with_audio_and_a_clear_warning() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::start().await;
    let (doctor, patient) = server.pair().await;
    let patient_id = patient.id.to_string();

    let callee = server.spawn(
        &patient,
        &["--answer", "--video-size", "320x240", "--tone-hz", "660"],
    );
    callee
        .wait_for(LIMIT, |l| {
            l["event"] == "signaling" && l["state"] == "connected"
        })
        .await;
    // The camera this machine does not have, with every camera option.
    let caller = server.spawn(
        &doctor,
        &[
            "--call",
            &patient_id,
            "--hang-up-after",
            "5",
            "--video",
            "camera",
            "--camera",
            "0",
            "--camera-size",
            "1280x720",
            "--camera-fps",
            "15",
            "--tone-hz",
            "440",
        ],
    );

    let warning = caller.wait_for(LIMIT, |l| l["event"] == "warning").await;
    assert_eq!(warning["source"], "camera", "{warning:#}");
    assert_eq!(warning["code"], "no_camera", "{warning:#}");
    let message = warning["message"].as_str().unwrap();
    assert!(
        message.starts_with("No camera was found (camera 0)."),
        "{message}"
    );

    let (caller_code, caller_lines) = caller.finish(LIMIT).await;
    let (callee_code, callee_lines) = callee.finish(LIMIT).await;
    assert_eq!(caller_code, 0, "{caller_lines:#?}");
    assert_eq!(callee_code, 0, "{callee_lines:#?}");
    assert_eq!(ended(&caller_lines)["reason"], "local_hang_up");
    assert_eq!(ended(&callee_lines)["reason"], "hung_up");
    assert!(
        events(&caller_lines, "camera").is_empty(),
        "{caller_lines:#?}"
    );
    assert_eq!(
        events(&caller_lines, "warning").len(),
        1,
        "{caller_lines:#?}"
    );

    // The doctor still saw and heard the patient...
    assert_received(summary(&caller_lines), 320, 240, 3, 660.0);
    // ...and the patient heard the doctor, with no video from them.
    let heard = summary(&callee_lines);
    assert_eq!(heard["frames_decoded"], 0, "{heard:#}");
    let on_tone = heard["audio_frequencies_hz"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f.as_f64().is_some_and(|hz| (hz - 440.0).abs() < 5.0))
        .count();
    assert!(on_tone >= 3, "{heard:#}");
}
