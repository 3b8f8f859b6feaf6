//! End to end: a call survives its signaling server going away, and
//! recovers its media path after a network change, between two real
//! `clinicall-headless` processes.

mod harness;

use harness::{ONE_AT_A_TIME, Server, ended, events, received_counters, summary};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_flows_while_the_server_is_down_and_the_call_hangs_up_after_it_returns() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut server = Server::start().await;
    let (doctor, patient) = server.pair().await;
    let patient_id = patient.id.to_string();
    let small = ["--video-size", "320x240"];

    let callee = server.spawn(&patient, &["--answer", small[0], small[1]]);
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
            "16",
            small[0],
            small[1],
        ],
    );
    caller.connected().await;
    callee.connected().await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let before = [caller.lines().len(), callee.lines().len()];
    server.stop().await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    // While the server was down both kept decoding new frames, second
    // after second.
    for (client, from) in [(&caller, before[0]), (&callee, before[1])] {
        let during = client.lines()[from..].to_vec();
        assert!(
            during
                .iter()
                .any(|l| l["event"] == "signaling" && l["state"] == "disconnected"),
            "{during:#?}"
        );
        let counters = received_counters(&during);
        assert!(counters.len() >= 4, "{during:#?}");
        assert!(counters.windows(2).all(|w| w[1] > w[0]), "{counters:?}");
        assert!(counters.last().unwrap() - counters[0] >= 90, "{counters:?}");
    }

    server.restart().await;
    // Both come back (to a new session: the server forgot the call).
    for client in [&caller, &callee] {
        client
            .wait_for(Duration::from_secs(20), |l| {
                l["event"] == "signaling" && l["state"] == "connected" && l["resumed"] == false
            })
            .await;
    }
    let back = caller.lines().len();

    // The doctor hangs up on schedule; the server no longer knows the
    // call, so the patient learns it over the media path.
    let (caller_code, caller_lines) = caller.finish(LIMIT).await;
    let (callee_code, callee_lines) = callee.finish(LIMIT).await;
    assert_eq!(caller_code, 0, "{caller_lines:#?}");
    assert_eq!(callee_code, 0, "{callee_lines:#?}");
    assert_eq!(ended(&caller_lines)["reason"], "local_hang_up");
    let callee_end = ended(&callee_lines);
    assert_eq!(callee_end["reason"], "hung_up", "{callee_lines:#?}");
    assert_eq!(callee_end["local"], false);
    // Not the server's `call_ended` (which names who hung up): the BYE.
    assert!(callee_end["by"].is_null(), "{callee_end:#}");
    // Media went on after the server came back too.
    let after = received_counters(&caller_lines[back..]);
    assert!(after.len() >= 2, "{caller_lines:#?}");
    // One call, never interrupted: every frame counter went up.
    for lines in [&caller_lines, &callee_lines] {
        let s = summary(lines);
        assert_eq!(s["counter_regressions"], 0, "{s:#}");
        assert!(s["stamped_frames"].as_u64().unwrap() >= 30 * 14, "{s:#}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_answerers_sockets_restarts_ice_and_media_resumes() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::start().await;
    let (doctor, patient) = server.pair().await;
    let patient_id = patient.id.to_string();
    let small = ["--video-size", "320x240"];

    // The answerer's sockets close 2 s into the call and new ones (new
    // ports) take their place: the old path is gone for good.
    let callee = server.spawn(
        &patient,
        &["--answer", "--rebind-after", "2", small[0], small[1]],
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
            "15",
            small[0],
            small[1],
        ],
    );
    caller.connected().await;
    let restarts_before = server.metric("clinicall_ice_restarts_total").await;

    // Both notice the path broke, then that it is back.
    for client in [&caller, &callee] {
        client
            .wait_for(Duration::from_secs(20), |l| {
                l["event"] == "call" && l["state"] == "reconnecting"
            })
            .await;
    }
    let broke_at = callee.lines().len();

    let (caller_code, caller_lines) = caller.finish(LIMIT).await;
    let (callee_code, callee_lines) = callee.finish(LIMIT).await;
    assert_eq!(caller_code, 0, "{caller_lines:#?}");
    assert_eq!(callee_code, 0, "{callee_lines:#?}");
    assert!(
        events(&callee_lines, "rebind").len() == 1,
        "{callee_lines:#?}"
    );

    // The offerer restarted ICE through the server...
    assert!(
        server.metric("clinicall_ice_restarts_total").await > restarts_before,
        "no ICE restart was signalled"
    );
    // ...the call connected again on both sides...
    for lines in [&caller_lines, &callee_lines] {
        let states: Vec<&str> = events(lines, "call")
            .iter()
            .filter_map(|l| l["state"].as_str())
            .collect();
        let reconnecting = states.iter().position(|s| *s == "reconnecting").unwrap();
        assert!(states[reconnecting..].contains(&"connected"), "{states:?}");
    }
    // ...and frames decoded again, with counters far past the break.
    let after = received_counters(&callee_lines[broke_at..]);
    assert!(after.len() >= 3, "{callee_lines:#?}");
    let before = received_counters(&callee_lines[..broke_at]);
    assert!(
        after.last().unwrap() > &(before.last().copied().unwrap_or(0) + 90),
        "before {before:?} after {after:?}"
    );
}
