//! End to end through a real TURN server: coturn on loopback, with the
//! short-lived TURN REST credentials the signaling server hands out in
//! every welcome. Relay-only clients can reach each other only through
//! it (and keep doing so across new sockets); clients that may go direct
//! still gather from it without harm; relay-only without a TURN server
//! fails rather than going direct.

mod harness;

use clinicall_signaling_server::config::IceServerEntry;
use harness::{ONE_AT_A_TIME, Server, Turn, assert_received, ended, events, summary};
use serde_json::Value;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// The `local_candidate_type` of a side's last stats line.
fn selected_type(lines: &[Value]) -> Value {
    let stats = events(lines, "stats");
    let last = stats
        .last()
        .unwrap_or_else(|| panic!("no stats: {lines:#?}"));
    last["local_candidate_type"].clone()
}

fn connected(lines: &[Value]) -> bool {
    lines
        .iter()
        .any(|l| l["event"] == "call" && l["state"] == "connected")
}

/// Runs one call, the doctor calling and hanging up after `seconds`, both
/// sides with `extra` options; returns (doctor's lines, patient's lines).
async fn call(server: &Server, seconds: u64, extra: &[&str]) -> (Vec<Value>, Vec<Value>) {
    let (doctor, patient) = server.pair().await;
    let patient_id = patient.id.to_string();
    let mut callee_args = vec!["--answer", "--video-size", "320x240", "--tone-hz", "660"];
    callee_args.extend_from_slice(extra);
    let callee = server.spawn(&patient, &callee_args);
    callee
        .wait_for(LIMIT, |l| {
            l["event"] == "signaling" && l["state"] == "connected"
        })
        .await;
    let seconds = seconds.to_string();
    let mut caller_args = vec![
        "--call",
        &patient_id,
        "--hang-up-after",
        &seconds,
        "--video-size",
        "320x240",
        "--tone-hz",
        "440",
    ];
    caller_args.extend_from_slice(extra);
    let caller = server.spawn(&doctor, &caller_args);
    let (caller_code, caller_lines) = caller.finish(LIMIT).await;
    let (callee_code, callee_lines) = callee.finish(LIMIT).await;
    assert_eq!(caller_code, 0, "{caller_lines:#?}");
    assert_eq!(callee_code, 0, "{callee_lines:#?}");
    assert_eq!(ended(&caller_lines)["reason"], "local_hang_up");
    assert_eq!(ended(&callee_lines)["reason"], "hung_up");
    (caller_lines, callee_lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_calls_carry_media_both_ways_through_coturn() {
    let _one = ONE_AT_A_TIME.lock().await;
    let turn = Turn::start().await;
    let server = Server::start_with(|c| {
        c.ice.turn_secret = Some(turn.secret.clone());
        c.ice.turn_urls = vec![turn.turn_url()];
    })
    .await;

    let (caller_lines, callee_lines) = call(&server, 5, &["--relay-only"]).await;

    // Each side decoded the other's video (counters going up) and tone.
    assert!(connected(&caller_lines) && connected(&callee_lines));
    assert_received(summary(&caller_lines), 320, 240, 4, 660.0);
    assert_received(summary(&callee_lines), 320, 240, 4, 440.0);
    // Both sent from their relayed address: there was no other.
    assert_eq!(selected_type(&caller_lines), "relay", "{caller_lines:#?}");
    assert_eq!(selected_type(&callee_lines), "relay", "{callee_lines:#?}");
    for lines in [&caller_lines, &callee_lines] {
        eprintln!(
            "relay-only call: setup_ms {} (media_summary), rtt_ms {}",
            summary(lines)["setup_ms"],
            events(lines, "stats").last().unwrap()["rtt_ms"]
        );
    }

    // And coturn agrees: two allocations, each of which moved the call's
    // media (over 100 kB each way), released at hang-up rather than left
    // to expire. (The usage line comes when an allocation ends.)
    let usage = turn.wait_for_log(LOG_LIMIT, 2, is_usage).await;
    let busy = usage
        .iter()
        .filter(|line| field(line, "rb=") > 100_000 && field(line, "sb=") > 100_000)
        .count();
    assert_eq!((usage.len(), busy), (2, 2), "{}", turn.log());
    assert_eq!(released(&turn), 2, "{}", turn.log());
}

/// How long coturn may take to log an allocation's end (it deletes one a
/// second or so after its release).
const LOG_LIMIT: Duration = Duration::from_secs(5);

/// coturn's line for an allocation that ended, with its traffic:
/// `session …: usage: realm=<…>, username=<…>, rp=…, rb=…, sp=…, sb=…`
/// (packets and bytes received and sent; "peer usage" lines count the
/// relayed side again).
fn is_usage(line: &str) -> bool {
    line.contains(": usage:")
}

/// STUN Binding requests coturn answered (the harness's readiness probe
/// among them).
fn binding_requests(turn: &Turn) -> usize {
    turn.log()
        .lines()
        .filter(|l| l.contains("incoming packet BINDING processed, success"))
        .count()
}

/// Allocations the clients released (a Refresh with lifetime 0).
fn released(turn: &Turn) -> usize {
    turn.log()
        .lines()
        .filter(|l| l.contains(": refreshed,") && l.ends_with("lifetime=0"))
        .count()
}

/// A `name=123` figure in a coturn log line.
fn field(line: &str, name: &str) -> u64 {
    line.split(name)
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stun_and_turn_in_the_welcome_leave_a_direct_call_direct() {
    let _one = ONE_AT_A_TIME.lock().await;
    let turn = Turn::start().await;
    let server = Server::start_with(|c| {
        // coturn answers STUN too. On loopback the server-reflexive
        // address is the host one (skipped as a duplicate); the relay
        // candidates are gathered and offered but lose to the host pair.
        c.ice.servers = vec![IceServerEntry {
            urls: vec![turn.stun_url()],
            username: None,
            credential: None,
        }];
        c.ice.turn_secret = Some(turn.secret.clone());
        c.ice.turn_urls = vec![turn.turn_url()];
    })
    .await;

    let asked_before = binding_requests(&turn);
    let (caller_lines, callee_lines) = call(&server, 3, &[]).await;

    // Both asked coturn for their server-reflexive address (from their one
    // media socket each), and the call went on as if it were not there.
    assert!(
        binding_requests(&turn) >= asked_before + 2,
        "{}",
        turn.log()
    );
    assert_received(summary(&caller_lines), 320, 240, 2, 660.0);
    assert_received(summary(&callee_lines), 320, 240, 2, 440.0);
    assert_eq!(selected_type(&caller_lines), "host", "{caller_lines:#?}");
    assert_eq!(selected_type(&callee_lines), "host", "{callee_lines:#?}");
    // Each side allocated a relay (so gathering ran), and released it.
    let usage = turn.wait_for_log(LOG_LIMIT, 2, is_usage).await;
    assert_eq!(usage.len(), 2, "{}", turn.log());
    assert_eq!(released(&turn), 2, "{}", turn.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_only_call_survives_new_sockets_with_a_new_allocation() {
    let _one = ONE_AT_A_TIME.lock().await;
    let turn = Turn::start().await;
    let server = Server::start_with(|c| {
        c.ice.turn_secret = Some(turn.secret.clone());
        c.ice.turn_urls = vec![turn.turn_url()];
    })
    .await;
    let (doctor, patient) = server.pair().await;
    let patient_id = patient.id.to_string();
    let relay_only = ["--relay-only", "--video-size", "320x240"];

    // 2 s into the call the answerer's sockets close: its allocation goes
    // with them (released), it allocates again from the new socket, and
    // the ICE restart pairs the new relay candidate.
    let mut args = vec!["--answer", "--rebind-after", "2"];
    args.extend_from_slice(&relay_only);
    let callee = server.spawn(&patient, &args);
    callee
        .wait_for(LIMIT, |l| {
            l["event"] == "signaling" && l["state"] == "connected"
        })
        .await;
    let mut args = vec!["--call", &patient_id, "--hang-up-after", "12"];
    args.extend_from_slice(&relay_only);
    let caller = server.spawn(&doctor, &args);
    callee
        .wait_for(Duration::from_secs(20), |l| l["event"] == "rebind")
        .await;
    let broke_at = callee.lines().len();

    let (caller_code, caller_lines) = caller.finish(LIMIT).await;
    let (callee_code, callee_lines) = callee.finish(LIMIT).await;
    assert_eq!(caller_code, 0, "{caller_lines:#?}");
    assert_eq!(callee_code, 0, "{callee_lines:#?}");
    for lines in [&caller_lines, &callee_lines] {
        let states: Vec<&str> = events(lines, "call")
            .iter()
            .filter_map(|l| l["state"].as_str())
            .collect();
        let reconnecting = states.iter().position(|s| *s == "reconnecting");
        let reconnecting = reconnecting.unwrap_or_else(|| panic!("{states:?}"));
        assert!(states[reconnecting..].contains(&"connected"), "{states:?}");
        assert_eq!(selected_type(lines), "relay", "{lines:#?}");
    }
    // Frames came again after the break, far past it.
    let after = harness::received_counters(&callee_lines[broke_at..]);
    let before = harness::received_counters(&callee_lines[..broke_at]);
    assert!(
        after.last().unwrap_or(&0) > &(before.last().copied().unwrap_or(0) + 90),
        "before {before:?} after {after:?}"
    );
    // Three allocations in all, every one released.
    let usage = turn.wait_for_log(LOG_LIMIT, 3, is_usage).await;
    assert_eq!(usage.len(), 3, "{}", turn.log());
    assert_eq!(released(&turn), 3, "{}", turn.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_without_a_turn_server_fails_the_call_at_once() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::start().await;
    let (doctor, patient) = server.pair().await;
    let patient_id = patient.id.to_string();
    let callee = server.spawn(&patient, &["--answer"]);
    callee
        .wait_for(LIMIT, |l| {
            l["event"] == "signaling" && l["state"] == "connected"
        })
        .await;
    // The welcome names no TURN server: the media session refuses to
    // start (rather than fall back to a direct path), so the call ends.
    let caller = server.spawn(&doctor, &["--call", &patient_id, "--relay-only"]);
    let (caller_code, caller_lines) = caller.finish(LIMIT).await;
    let (_, callee_lines) = callee.finish(LIMIT).await;
    assert_eq!(caller_code, 1, "{caller_lines:#?}");
    assert_eq!(ended(&caller_lines)["reason"], "local_media_failed");
    assert_eq!(ended(&callee_lines)["reason"], "hung_up");
    assert!(!connected(&caller_lines) && !connected(&callee_lines));
}
