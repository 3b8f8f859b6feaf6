//! Call signaling end to end over real sockets: every flow and every way a
//! call ends, relay authorization, the multi-device accept race, and
//! reconnects within and after the grace period.

mod common;

use clinicall_protocol::rest::CallRecord;
use clinicall_protocol::{
    CallId, ClientMessage, EndReason, ErrorCode, Resume, Role, ServerMessage, Signal,
};
use common::*;
use std::time::Duration;

fn offer(sdp: &str) -> Signal {
    Signal::Offer {
        sdp: sdp.into(),
        ice_restart: false,
    }
}

fn candidate(n: u32) -> Signal {
    Signal::Candidate {
        candidate: format!(
            "candidate:{n} 1 udp 2122260223 127.0.0.1 {} typ host",
            50000 + n
        ),
        sdp_mid: Some("0".into()),
        sdp_mline_index: Some(0),
        username_fragment: Some("abcd".into()),
    }
}

async fn received_signal(client: &mut Client) -> (CallId, clinicall_protocol::UserId, Signal) {
    client
        .recv_until(|m| match m {
            ServerMessage::Signal {
                call_id,
                from,
                signal,
            } => Some((*call_id, *from, signal.clone())),
            _ => None,
        })
        .await
}

async fn records(server: &TestServer, user: &TestUser) -> Vec<CallRecord> {
    // Records are written in the background; give them a moment.
    for _ in 0..50 {
        let records: Vec<CallRecord> = server
            .get("/api/v1/calls", Some(&user.token))
            .await
            .json()
            .await
            .unwrap();
        if records.iter().all(|r| r.ended_at.is_some()) && !records.is_empty() {
            return records;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server
        .get("/api/v1/calls", Some(&user.token))
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn doctor_calls_patient_they_negotiate_and_hang_up() {
    let server = TestServer::start().await;
    let (doctor, patient) = server.pair().await;
    let mut doc = server.connect(&doctor).await;
    let mut pat = server.connect(&patient).await;

    let ServerMessage::CallRinging { call_id, callee } = doc.invite(patient.id()).await else {
        panic!("expected ringing");
    };
    assert_eq!(callee.id, patient.id());
    let incoming = pat
        .recv_until(|m| match m {
            ServerMessage::CallIncoming {
                call_id,
                caller,
                ring_timeout_ms,
                ..
            } => Some((*call_id, caller.clone(), *ring_timeout_ms)),
            _ => None,
        })
        .await;
    assert_eq!(
        (incoming.0, incoming.1.id, incoming.2),
        (call_id, doctor.id(), 30_000)
    );

    pat.send(ClientMessage::Accept { call_id }).await;
    assert_eq!(pat.accepted().await, call_id);
    assert_eq!(doc.accepted().await, call_id);

    // Offer one way, answer and candidates the other, relayed verbatim.
    doc.send(ClientMessage::Signal {
        call_id,
        signal: offer("v=0 offer"),
    })
    .await;
    assert_eq!(
        received_signal(&mut pat).await,
        (call_id, doctor.id(), offer("v=0 offer"))
    );
    pat.send(ClientMessage::Signal {
        call_id,
        signal: Signal::Answer {
            sdp: "v=0 answer".into(),
        },
    })
    .await;
    assert_eq!(
        received_signal(&mut doc).await.2,
        Signal::Answer {
            sdp: "v=0 answer".into()
        }
    );
    for n in 0..5 {
        pat.send(ClientMessage::Signal {
            call_id,
            signal: candidate(n),
        })
        .await;
    }
    for n in 0..5 {
        assert_eq!(
            received_signal(&mut doc).await.2,
            candidate(n),
            "candidates keep their order"
        );
    }
    // An ICE restart is just another offer, marked.
    doc.send(ClientMessage::Signal {
        call_id,
        signal: Signal::Offer {
            sdp: "v=0 restart".into(),
            ice_restart: true,
        },
    })
    .await;
    assert!(received_signal(&mut pat).await.2.is_ice_restart());

    tokio::time::sleep(Duration::from_millis(50)).await;
    pat.send(ClientMessage::Hangup { call_id }).await;
    assert_eq!(
        pat.ended().await,
        (call_id, EndReason::HungUp, Some(patient.id()))
    );
    assert_eq!(
        doc.ended().await,
        (call_id, EndReason::HungUp, Some(patient.id()))
    );

    let recs = records(&server, &doctor).await;
    assert_eq!(recs.len(), 1);
    let rec = &recs[0];
    assert_eq!(
        (rec.id, rec.caller, rec.callee),
        (call_id, doctor.id(), patient.id())
    );
    assert_eq!(rec.end_reason, Some(EndReason::HungUp));
    assert_eq!(rec.ended_by, Some(patient.id()));
    assert!(rec.answered_at.is_some());
    assert!(rec.duration_ms.unwrap() >= 50, "{rec:?}");

    let metrics = server.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains("clinicall_calls_ended_total{reason=\"hung_up\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("clinicall_ice_restarts_total"),
        "{metrics}"
    );
}

#[tokio::test]
async fn callee_rejects() {
    let server = TestServer::start().await;
    let (doctor, patient) = server.pair().await;
    let mut doc = server.connect(&doctor).await;
    let mut pat = server.connect(&patient).await;
    let call_id = ringing_call(&mut pat, &mut doc, doctor.id()).await;
    doc.send(ClientMessage::Reject { call_id }).await;
    assert_eq!(
        pat.ended().await,
        (call_id, EndReason::Rejected, Some(doctor.id()))
    );
    assert_eq!(
        doc.ended().await,
        (call_id, EndReason::Rejected, Some(doctor.id()))
    );
    let rec = &records(&server, &patient).await[0];
    assert_eq!(
        (rec.end_reason, rec.answered_at.as_deref(), rec.duration_ms),
        (Some(EndReason::Rejected), None, None)
    );
}

#[tokio::test]
async fn caller_cancels_and_late_accept_is_refused() {
    let server = TestServer::start().await;
    let (doctor, patient) = server.pair().await;
    let mut doc = server.connect(&doctor).await;
    let mut pat = server.connect(&patient).await;
    let call_id = ringing_call(&mut doc, &mut pat, patient.id()).await;
    doc.send(ClientMessage::Cancel { call_id }).await;
    assert_eq!(
        pat.ended().await,
        (call_id, EndReason::Cancelled, Some(doctor.id()))
    );
    assert_eq!(doc.ended().await.1, EndReason::Cancelled);
    // The accept that crossed the cancel finds no call.
    pat.send(ClientMessage::Accept { call_id }).await;
    assert_eq!(pat.expect_error().await.0, ErrorCode::NotFound);
}

#[tokio::test]
async fn unanswered_call_times_out_for_both() {
    let server =
        TestServer::start_with(|c| c.calls.ring_timeout = Duration::from_millis(300)).await;
    let (doctor, patient) = server.pair().await;
    let mut doc = server.connect(&doctor).await;
    let mut pat = server.connect(&patient).await;
    let call_id = ringing_call(&mut doc, &mut pat, patient.id()).await;
    assert_eq!(doc.ended().await, (call_id, EndReason::Timeout, None));
    assert_eq!(pat.ended().await, (call_id, EndReason::Timeout, None));
    assert_eq!(
        records(&server, &doctor).await[0].end_reason,
        Some(EndReason::Timeout)
    );
}

#[tokio::test]
async fn busy_callee_auto_rejects_a_second_caller() {
    let server = TestServer::start().await;
    let (doctor, patient) = server.pair().await;
    let other = server.user(Role::Patient, "Other").await;
    server.relate(&doctor, &other).await;
    let mut doc = server.connect(&doctor).await;
    let mut pat = server.connect(&patient).await;
    let mut oth = server.connect(&other).await;
    let first = active_call(&mut pat, &mut doc, doctor.id()).await;

    let ServerMessage::CallEnded {
        call_id, reason, ..
    } = oth.invite(doctor.id()).await
    else {
        panic!()
    };
    assert_eq!(reason, EndReason::Busy);
    assert_ne!(call_id, first);
    // The busy doctor is not disturbed, and the first call goes on.
    doc.send(ClientMessage::Signal {
        call_id: first,
        signal: offer("still here"),
    })
    .await;
    assert_eq!(received_signal(&mut pat).await.2, offer("still here"));

    // A caller already in a call cannot start another.
    pat.send(ClientMessage::Invite {
        callee: doctor.id(),
        appointment_id: None,
    })
    .await;
    assert_eq!(pat.expect_error().await.0, ErrorCode::AlreadyInCall);
}

#[tokio::test]
async fn callee_with_no_device_online_is_unavailable() {
    let server = TestServer::start().await;
    let (doctor, patient) = server.pair().await;
    let mut pat = server.connect(&patient).await;
    let ServerMessage::CallEnded { reason, .. } = pat.invite(doctor.id()).await else {
        panic!()
    };
    assert_eq!(reason, EndReason::Unavailable);
}

#[tokio::test]
async fn only_contacts_can_be_called() {
    let server = TestServer::start_with(|c| c.presence.patients_see_all_doctors = false).await;
    let stranger_doctor = server.user(Role::Doctor, "Stranger").await;
    let patient = server.user(Role::Patient, "Pat").await;
    let other_patient = server.user(Role::Patient, "Other").await;
    let _doc = server.connect(&stranger_doctor).await;
    let _oth = server.connect(&other_patient).await;
    let mut pat = server.connect(&patient).await;
    for callee in [stranger_doctor.id(), other_patient.id(), patient.id()] {
        pat.send(ClientMessage::Invite {
            callee,
            appointment_id: None,
        })
        .await;
        let (code, _, _) = pat.expect_error().await;
        assert!(
            matches!(code, ErrorCode::NotFound | ErrorCode::Forbidden),
            "{code:?}"
        );
    }
}

#[tokio::test]
async fn signals_reach_only_the_other_accepted_device() {
    let server = TestServer::start().await;
    let (doctor, patient) = server.pair().await;
    let outsider = server.user(Role::Patient, "Outsider").await;
    let mut doc = server.connect(&doctor).await;
    let mut pat = server.connect(&patient).await;
    let mut pat_phone = server.connect(&patient).await;
    let mut out = server.connect(&outsider).await;

    // Before accept: nothing is relayed.
    let ServerMessage::CallRinging { call_id, .. } = doc.invite(patient.id()).await else {
        panic!()
    };
    doc.send(ClientMessage::Signal {
        call_id,
        signal: offer("early"),
    })
    .await;
    assert_eq!(
        doc.expect_error().await,
        (ErrorCode::WrongCallState, Some(call_id), None)
    );

    assert_eq!(pat.incoming().await, call_id);
    assert_eq!(pat_phone.incoming().await, call_id);
    pat.send(ClientMessage::Accept { call_id }).await;
    assert_eq!(doc.accepted().await, call_id);
    assert_eq!(pat_phone.ended().await.1, EndReason::AnsweredElsewhere);

    // A stranger cannot inject into or end the call, nor learn it exists.
    out.send(ClientMessage::Signal {
        call_id,
        signal: offer("evil"),
    })
    .await;
    assert_eq!(out.expect_error().await.0, ErrorCode::NotFound);
    out.send(ClientMessage::Hangup { call_id }).await;
    assert_eq!(out.expect_error().await.0, ErrorCode::NotFound);
    // The callee's other device is the right user but not in the call.
    pat_phone
        .send(ClientMessage::Signal {
            call_id,
            signal: offer("phone"),
        })
        .await;
    assert_eq!(pat_phone.expect_error().await.0, ErrorCode::NotAParty);
    pat_phone.send(ClientMessage::Hangup { call_id }).await;
    assert_eq!(pat_phone.expect_error().await.0, ErrorCode::NotAParty);

    doc.send(ClientMessage::Signal {
        call_id,
        signal: offer("real"),
    })
    .await;
    assert_eq!(received_signal(&mut pat).await.2, offer("real"));
    pat_phone.expect_silence(Duration::from_millis(200)).await;

    // After the end, every call message is refused.
    doc.send(ClientMessage::Hangup { call_id }).await;
    assert_eq!(pat.ended().await.1, EndReason::HungUp);
    doc.ended().await;
    for msg in [
        ClientMessage::Signal {
            call_id,
            signal: offer("late"),
        },
        ClientMessage::Hangup { call_id },
        ClientMessage::Accept { call_id },
    ] {
        pat.send(msg).await;
        assert_eq!(pat.expect_error().await.0, ErrorCode::NotFound);
    }
}

#[tokio::test]
async fn simultaneous_accepts_on_two_devices_have_one_winner() {
    let server = TestServer::start().await;
    let (doctor, patient) = server.pair().await;
    let mut pat = server.connect(&patient).await;
    let mut desk = server.connect(&doctor).await;
    let mut laptop = server.connect(&doctor).await;
    let call_id = ringing_call(&mut pat, &mut desk, doctor.id()).await;
    assert_eq!(laptop.incoming().await, call_id);
    tokio::join!(
        desk.send(ClientMessage::Accept { call_id }),
        laptop.send(ClientMessage::Accept { call_id })
    );
    assert_eq!(pat.accepted().await, call_id);

    async fn outcome(device: &mut Client) -> &'static str {
        device
            .recv_until(|m| match m {
                ServerMessage::CallAccepted { .. } => Some("won"),
                ServerMessage::CallEnded {
                    reason: EndReason::AnsweredElsewhere,
                    ..
                } => Some("lost"),
                _ => None,
            })
            .await
    }
    let mut outcomes = [outcome(&mut desk).await, outcome(&mut laptop).await];
    outcomes.sort();
    assert_eq!(outcomes, ["lost", "won"]);
    pat.expect_silence(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_device_that_comes_online_while_ringing_rings_too() {
    let server = TestServer::start().await;
    let (doctor, patient) = server.pair().await;
    let mut desk = server.connect(&doctor).await;
    let mut pat = server.connect(&patient).await;
    let call_id = ringing_call(&mut pat, &mut desk, doctor.id()).await;
    let mut laptop = server.connect(&doctor).await;
    assert_eq!(laptop.incoming().await, call_id);
    // Rejecting on one device stops the other ringing.
    laptop.send(ClientMessage::Reject { call_id }).await;
    assert_eq!(desk.ended().await.1, EndReason::RejectedElsewhere);
    assert_eq!(laptop.ended().await.1, EndReason::Rejected);
    assert_eq!(pat.ended().await.1, EndReason::Rejected);
}

#[tokio::test]
async fn reconnect_within_grace_keeps_the_call_and_replays_missed_signals() {
    let server = TestServer::start_with(|c| c.presence.resume_grace = Duration::from_secs(3)).await;
    let (doctor, patient) = server.pair().await;
    let mut doc = server.connect(&doctor).await;
    let mut pat = server.connect(&patient).await;
    let call_id = active_call(&mut doc, &mut pat, patient.id()).await;

    let (session, last_seq) = pat.drop_abruptly();
    // Sent while the patient is away.
    tokio::time::sleep(Duration::from_millis(100)).await;
    doc.send(ClientMessage::Signal {
        call_id,
        signal: candidate(1),
    })
    .await;
    doc.send(ClientMessage::Signal {
        call_id,
        signal: candidate(2),
    })
    .await;

    let mut pat = Client::connect(
        server.addr,
        &patient.token,
        Some(Resume {
            session_id: session,
            last_seq,
        }),
    )
    .await;
    assert!(pat.resumed());
    assert_eq!(pat.session, session);
    pat.last_seq = last_seq;
    // The missed candidates arrive in order (replayed, or live if the
    // server handled them after the resume), and, since presence is never
    // replayed, a fresh snapshot comes too.
    let (mut signals, mut snapshot) = (Vec::new(), None);
    while signals.len() < 2 || snapshot.is_none() {
        let env = pat.recv().await;
        match env.msg {
            ServerMessage::Signal { signal, .. } => signals.push(signal),
            ServerMessage::PresenceSnapshot { contacts, .. } => {
                snapshot = Some((env.seq, contacts))
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(signals, vec![candidate(1), candidate(2)]);
    let (seq, contacts) = snapshot.unwrap();
    assert_eq!(seq, 0);
    assert!(
        contacts
            .iter()
            .any(|c| c.user.id == doctor.id() && c.online)
    );
    // Both directions still work, and the doctor never saw the blip.
    pat.send(ClientMessage::Signal {
        call_id,
        signal: candidate(3),
    })
    .await;
    assert_eq!(received_signal(&mut doc).await.2, candidate(3));
    pat.send(ClientMessage::Hangup { call_id }).await;
    assert_eq!(
        doc.ended().await,
        (call_id, EndReason::HungUp, Some(patient.id()))
    );
}

#[tokio::test]
async fn reconnect_after_grace_finds_the_call_ended() {
    let server =
        TestServer::start_with(|c| c.presence.resume_grace = Duration::from_millis(300)).await;
    let (doctor, patient) = server.pair().await;
    let mut doc = server.connect(&doctor).await;
    let mut pat = server.connect(&patient).await;
    let call_id = active_call(&mut doc, &mut pat, patient.id()).await;

    let (session, last_seq) = pat.drop_abruptly();
    assert_eq!(
        doc.ended().await,
        (call_id, EndReason::ConnectionLost, None)
    );
    let offline = doc
        .recv_until(|m| match m {
            ServerMessage::Presence { user_id, online } => Some((*user_id, *online)),
            _ => None,
        })
        .await;
    assert_eq!(offline, (patient.id(), false));

    let pat = Client::connect(
        server.addr,
        &patient.token,
        Some(Resume {
            session_id: session,
            last_seq,
        }),
    )
    .await;
    assert!(!pat.resumed(), "the session is gone; a new one starts");
    assert_ne!(pat.session, session);
    assert_eq!(
        records(&server, &doctor).await[0].end_reason,
        Some(EndReason::ConnectionLost)
    );
}

#[tokio::test]
async fn caller_losing_connection_while_ringing_ends_the_call_for_the_callee() {
    let server =
        TestServer::start_with(|c| c.presence.resume_grace = Duration::from_millis(300)).await;
    let (doctor, patient) = server.pair().await;
    let mut doc = server.connect(&doctor).await;
    let mut pat = server.connect(&patient).await;
    let call_id = ringing_call(&mut doc, &mut pat, patient.id()).await;
    doc.drop_abruptly();
    assert_eq!(
        pat.ended().await,
        (call_id, EndReason::ConnectionLost, None)
    );
}

#[tokio::test]
async fn presence_follows_devices() {
    let server =
        TestServer::start_with(|c| c.presence.resume_grace = Duration::from_millis(200)).await;
    let (doctor, patient) = server.pair().await;
    let mut doc = server.connect(&doctor).await;
    assert_eq!(doc.contacts.len(), 1);
    assert!(!doc.contacts[0].online);

    let pat = server.connect(&patient).await;
    assert!(
        pat.contacts
            .iter()
            .any(|c| c.user.id == doctor.id() && c.online)
    );
    let presence = |m: &ServerMessage| match m {
        ServerMessage::Presence { user_id, online } => Some((*user_id, *online)),
        _ => None,
    };
    assert_eq!(doc.recv_until(presence).await, (patient.id(), true));

    // A second device changes nothing; losing one of two changes nothing.
    let pat_phone = server.connect(&patient).await;
    pat.close().await;
    doc.expect_silence(Duration::from_millis(500)).await;
    // Losing the last one is announced once its grace ends.
    pat_phone.close().await;
    assert_eq!(doc.recv_until(presence).await, (patient.id(), false));
}

#[tokio::test]
async fn patients_see_every_doctor_by_default_and_new_relations_appear_live() {
    let server = TestServer::start().await;
    let doctor = server.user(Role::Doctor, "Doc").await;
    let patient = server.user(Role::Patient, "Pat").await;
    let mut doc = server.connect(&doctor).await;
    let pat = server.connect(&patient).await;
    assert!(
        pat.contacts
            .iter()
            .any(|c| c.user.id == doctor.id() && c.online)
    );
    assert!(doc.contacts.is_empty(), "not the doctor's patient yet");

    server.relate(&doctor, &patient).await;
    let presence = doc
        .recv_until(|m| match m {
            ServerMessage::Presence { user_id, online } => Some((*user_id, *online)),
            _ => None,
        })
        .await;
    assert_eq!(presence, (patient.id(), true));
}

#[tokio::test]
async fn call_records_are_private_to_their_parties() {
    let server = TestServer::start().await;
    let (doctor, patient) = server.pair().await;
    let outsider = server.user(Role::Patient, "Outsider").await;
    let mut doc = server.connect(&doctor).await;
    let mut pat = server.connect(&patient).await;
    let call_id = active_call(&mut doc, &mut pat, patient.id()).await;
    doc.send(ClientMessage::Hangup { call_id }).await;
    pat.ended().await;
    assert_eq!(records(&server, &patient).await.len(), 1);
    let theirs: Vec<CallRecord> = server
        .get("/api/v1/calls", Some(&outsider.token))
        .await
        .json()
        .await
        .unwrap();
    assert!(theirs.is_empty());
    let admin = server.admin_token().await;
    let all: Vec<CallRecord> = server
        .get("/api/v1/calls", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
}

#[tokio::test]
async fn ending_actions_echo_their_req_and_answered_calls_cannot_be_rejected() {
    let server = TestServer::start().await;
    let (doctor, patient) = server.pair().await;
    let mut doc = server.connect(&doctor).await;
    let mut pat = server.connect(&patient).await;
    let call_id = active_call(&mut doc, &mut pat, patient.id()).await;
    pat.send(ClientMessage::Reject { call_id }).await;
    assert_eq!(pat.expect_error().await.0, ErrorCode::WrongCallState);
    doc.send(ClientMessage::Cancel { call_id }).await;
    assert_eq!(doc.expect_error().await.0, ErrorCode::WrongCallState);

    doc.send_env(clinicall_protocol::ClientEnvelope::with_req(
        "bye-1",
        ClientMessage::Hangup { call_id },
    ))
    .await;
    let env = loop {
        let env = doc.recv().await;
        if matches!(env.msg, ServerMessage::CallEnded { .. }) {
            break env;
        }
    };
    assert_eq!(env.req.as_deref(), Some("bye-1"));
    let env = loop {
        let env = pat.recv().await;
        if matches!(env.msg, ServerMessage::CallEnded { .. }) {
            break env;
        }
    };
    assert_eq!(
        env.req, None,
        "the other side's message carries no req of ours"
    );
}

#[tokio::test]
async fn a_late_device_rings_only_for_the_time_left() {
    let server = TestServer::start_with(|c| c.calls.ring_timeout = Duration::from_secs(10)).await;
    let (doctor, patient) = server.pair().await;
    let _desk = server.connect(&doctor).await;
    let mut pat = server.connect(&patient).await;
    pat.invite(doctor.id()).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut laptop = server.connect(&doctor).await;
    let left = laptop
        .recv_until(|m| match m {
            ServerMessage::CallIncoming {
                ring_timeout_ms, ..
            } => Some(*ring_timeout_ms),
            _ => None,
        })
        .await;
    assert!((5_000..=9_600).contains(&left), "{left}");
}

#[tokio::test]
async fn a_new_doctor_appears_to_online_patients_at_once() {
    let server = TestServer::start().await;
    let patient = server.user(Role::Patient, "Pat").await;
    let mut pat = server.connect(&patient).await;
    let doctor = server.user(Role::Doctor, "New Doc").await;
    let seen = pat
        .recv_until(|m| match m {
            ServerMessage::Presence { user_id, online } => Some((*user_id, *online)),
            _ => None,
        })
        .await;
    assert_eq!(seen, (doctor.id(), false));
    let _doc = server.connect(&doctor).await;
    let seen = pat
        .recv_until(|m| match m {
            ServerMessage::Presence { user_id, online } => Some((*user_id, *online)),
            _ => None,
        })
        .await;
    assert_eq!(seen, (doctor.id(), true));
    // And they can be called right away.
    assert!(matches!(
        pat.invite(doctor.id()).await,
        ServerMessage::CallRinging { .. }
    ));
}

#[tokio::test]
async fn restart_records_calls_cut_by_shutdown_and_keeps_accounts() {
    let mut server = TestServer::start().await;
    let (doctor, patient) = server.pair().await;
    let mut doc = server.connect(&doctor).await;
    let mut pat = server.connect(&patient).await;
    let call_id = active_call(&mut doc, &mut pat, patient.id()).await;
    server.restart().await;
    // The same database: the login and the record survived.
    let recs: Vec<CallRecord> = server
        .get("/api/v1/calls", Some(&doctor.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(
        (recs[0].id, recs[0].end_reason),
        (call_id, Some(EndReason::ServerShutdown))
    );
    assert!(recs[0].answered_at.is_some());
}

#[tokio::test]
async fn a_long_contact_list_arrives_in_small_pages() {
    let server = TestServer::start().await;
    let state = server.server.as_ref().unwrap().state().clone();
    let mut doctors = Vec::new();
    use clinicall_protocol::SNAPSHOT_PAGE;
    for i in 0..(2 * SNAPSHOT_PAGE + 7) {
        let account = clinicall_protocol::rest::Account {
            id: clinicall_protocol::UserId::random(),
            email: format!("doc{i}@test.clinicall"),
            display_name: format!("Doctor {i:03}"),
            role: Role::Doctor,
        };
        state
            .store
            .create_user(account.clone(), "unused".into(), 0)
            .await
            .unwrap();
        let summary = clinicall_protocol::UserSummary {
            id: account.id,
            display_name: account.display_name,
            role: Role::Doctor,
        };
        state.signaling.run(|hub, _| {
            hub.doctor_added(summary);
            Vec::new()
        });
        doctors.push(account.id);
    }
    let patient = server.user(Role::Patient, "Pat").await;
    let mut ws = open_ws(server.addr, Some(&patient.token)).await;
    let text =
        serde_json::to_string(&clinicall_protocol::ClientEnvelope::new(hello(None))).unwrap();
    futures_util::SinkExt::send(
        &mut ws,
        tokio_tungstenite::tungstenite::Message::Text(text.into()),
    )
    .await
    .unwrap();
    assert!(matches!(
        next_frame(&mut ws).await.unwrap().msg,
        ServerMessage::Welcome { .. }
    ));
    let mut pages = Vec::new();
    loop {
        let ServerMessage::PresenceSnapshot { contacts, more } =
            next_frame(&mut ws).await.unwrap().msg
        else {
            panic!("expected a snapshot page");
        };
        pages.push(contacts);
        if !more {
            break;
        }
    }
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![SNAPSHOT_PAGE, SNAPSHOT_PAGE, 7]
    );
    let mut seen: Vec<_> = pages.concat().into_iter().map(|c| c.user.id).collect();
    seen.sort();
    doctors.sort();
    assert_eq!(seen, doctors);
}

#[tokio::test]
async fn a_clean_close_ends_the_call_and_presence_at_once() {
    // A long grace: only the clean close can explain a prompt end.
    let server =
        TestServer::start_with(|c| c.presence.resume_grace = Duration::from_secs(60)).await;
    let (doctor, patient) = server.pair().await;
    let mut doc = server.connect(&doctor).await;
    let mut pat = server.connect(&patient).await;
    let call_id = active_call(&mut doc, &mut pat, patient.id()).await;
    pat.close().await;
    assert_eq!(
        doc.ended().await,
        (call_id, EndReason::HungUp, Some(patient.id()))
    );
    let offline = doc
        .recv_until(|m| match m {
            ServerMessage::Presence { user_id, online } => Some((*user_id, *online)),
            _ => None,
        })
        .await;
    assert_eq!(offline, (patient.id(), false));
}
