//! A visit through the waiting room with real parts: a real server on
//! loopback (real SQLite file), real SQLCipher caches, the appointments
//! engine and the call driver as the desktop app wires them, and real
//! WebRTC calls (VP8 test pattern and Opus tone over loopback).
//!
//! The patient waits, the doctor's device hears it, nothing rings and no
//! media flows while they only wait, a stranger cannot get in, the doctor
//! admits, the patient's call rings with the appointment, media flows both
//! ways, and after the hang-up both parties' quality reports are in the
//! visit record. And a patient whose connection drops for longer than the
//! server's resume grace is back in the room once reconnected, until they
//! leave.

mod common;

use clinicall_client_core::appointments::{
    AppointmentEvent, AppointmentSync, AppointmentSyncConfig, AppointmentsClient,
    AppointmentsHandle, QualityReporter, ReportRetry, RoomWaiting,
};
use clinicall_client_core::cache::{AccountCache, CacheConfig, KeySource, MemoryKeySource};
use clinicall_client_core::call::{CallConfig, CallDirection, CallEvent, CallState};
use clinicall_client_core::driver::{CallDriver, CallHandle, DriverEvent, MediaEngine};
use clinicall_client_core::media::{MediaControl, MediaIo, MediaSettings, WebRtcEngine};
use clinicall_client_core::signaling::{RestError, SignalingClient};
use clinicall_media::{
    AudioSink, AudioSource, MediaError, TestPattern, ToneSource, VideoFrameRef, VideoSink,
    VideoSource,
};
use clinicall_protocol::appointments::{Appointment, Mode, NewAppointment};
use clinicall_protocol::rest::Account;
use clinicall_protocol::{AppointmentId, CallId, ErrorCode, UserId};
use common::{PROMPT, TestServer};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long "nothing happens" is watched for.
const QUIET: Duration = Duration::from_millis(600);
/// Calls with real media take longer to set up than a signaling reply.
const MEDIA: Duration = Duration::from_secs(20);

const SLOT_MS: i64 = 30 * 60 * 1000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// What a party received: decoded video frames and audio chunks.
#[derive(Debug, Default)]
struct Received {
    frames: AtomicU64,
    audio: AtomicU64,
}

impl Received {
    fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }
    fn audio(&self) -> u64 {
        self.audio.load(Ordering::Relaxed)
    }
}

/// Test-pattern video and a tone out; counters in.
struct TestMedia {
    received: Arc<Received>,
}

impl MediaIo for TestMedia {
    fn open_video_source(&self, _: CallId) -> Result<Option<Box<dyn VideoSource>>, MediaError> {
        Ok(Some(Box::new(TestPattern::new(320, 240, 15))))
    }
    fn open_audio_source(&self, _: CallId) -> Result<Option<Box<dyn AudioSource>>, MediaError> {
        Ok(Some(Box::new(ToneSource::new(440.0, 0.3))))
    }
    fn video_sink(&self, _: CallId) -> Box<dyn VideoSink> {
        let received = self.received.clone();
        Box::new(move |_: &VideoFrameRef<'_>| {
            received.frames.fetch_add(1, Ordering::Relaxed);
        })
    }
    fn audio_sink(&self, _: CallId) -> Box<dyn AudioSink> {
        let received = self.received.clone();
        Box::new(move |_: &[i16]| {
            received.audio.fetch_add(1, Ordering::Relaxed);
        })
    }
}

/// One signed-in app: cache, appointments engine with its waiting room,
/// the call driver feeding it, and a quality reporter watching the
/// driver's events, as the desktop wires them.
struct App {
    account: Account,
    appointments: AppointmentsHandle,
    events: mpsc::Receiver<AppointmentEvent>,
    calls: CallHandle,
    driver: mpsc::Receiver<DriverEvent>,
    reporter: QualityReporter,
    reports: Vec<JoinHandle<Result<(), RestError>>>,
    signaling: SignalingClient,
    received: Arc<Received>,
    media: Option<MediaControl>,
    _dir: tempfile::TempDir,
}

impl App {
    /// Started with real WebRTC media (`real_media`) or signaling only, and
    /// connected.
    async fn start(server: &TestServer, account: &Account, real_media: bool) -> App {
        let dir = tempfile::tempdir().unwrap();
        let keys: Arc<dyn KeySource> = Arc::new(MemoryKeySource::empty());
        let cache = Arc::new(
            AccountCache::open(
                CacheConfig::new(dir.path().join("account"), account.id),
                keys,
            )
            .await
            .unwrap(),
        );
        let auth = server.sign_in(account).await;
        let (signaling, stream) =
            SignalingClient::start(server.client_config(), auth.clone()).unwrap();
        let rest = AppointmentsClient::new(auth).unwrap();
        let (appointments, feed, events) = AppointmentSync::start_with_room(
            rest.clone(),
            signaling.clone(),
            cache,
            AppointmentSyncConfig {
                retry_after: Duration::from_millis(200),
            },
        );
        let received = Arc::new(Received::default());
        let (engine, media): (Box<dyn MediaEngine>, _) = if real_media {
            let settings = MediaSettings {
                bind: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
                stats_interval: Duration::from_millis(250),
                ..MediaSettings::default()
            };
            let io = Arc::new(TestMedia {
                received: received.clone(),
            });
            let (engine, control) = WebRtcEngine::new(settings, io);
            (Box::new(engine), Some(control))
        } else {
            (
                Box::new(clinicall_client_core::driver::SignalingOnlyMedia),
                None,
            )
        };
        let (calls, driver) = CallDriver::start_with_feeds(
            signaling.clone(),
            stream,
            engine,
            CallConfig::default(),
            vec![feed],
        );
        let reporter = QualityReporter::with_retry(
            rest,
            ReportRetry {
                attempts: 4,
                first_delay: Duration::from_millis(100),
            },
        );
        let mut app = App {
            account: account.clone(),
            appointments,
            events,
            calls,
            driver,
            reporter,
            reports: Vec::new(),
            signaling,
            received,
            media,
            _dir: dir,
        };
        app.driver_until(PROMPT, |e| {
            matches!(e, DriverEvent::Connected { .. }).then_some(())
        })
        .await;
        app
    }

    fn id(&self) -> UserId {
        self.account.id
    }

    /// Reads driver events (each also goes to the quality reporter) until
    /// `pick` matches one, within `within`.
    async fn driver_until<T>(
        &mut self,
        within: Duration,
        mut pick: impl FnMut(&DriverEvent) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let event = tokio::time::timeout_at(deadline, self.driver.recv())
                .await
                .unwrap_or_else(|_| panic!("{}: driver event in time", self.account.display_name))
                .expect("driver events open");
            if let Some(report) = self.reporter.observe(&event) {
                self.reports.push(report);
            }
            if let Some(found) = pick(&event) {
                return found;
            }
        }
    }

    /// The next call state.
    async fn state(&mut self, within: Duration) -> CallState {
        self.driver_until(within, |e| match e {
            DriverEvent::Call(CallEvent::StateChanged(state)) => Some(state.clone()),
            _ => None,
        })
        .await
    }

    /// Reads driver events for `QUIET` and returns the call states seen.
    async fn states_while_quiet(&mut self) -> Vec<CallState> {
        let until = tokio::time::Instant::now() + QUIET;
        let mut states = Vec::new();
        while let Ok(Some(event)) = tokio::time::timeout_at(until, self.driver.recv()).await {
            if let Some(report) = self.reporter.observe(&event) {
                self.reports.push(report);
            }
            if let DriverEvent::Call(CallEvent::StateChanged(state)) = event {
                states.push(state);
            }
        }
        states
    }

    /// The next waiting-room news.
    async fn room(&mut self) -> RoomWaiting {
        tokio::time::timeout(PROMPT, async {
            loop {
                let event = self.events.recv().await.expect("appointment events open");
                if let AppointmentEvent::RoomWaiting {
                    appointment_id,
                    patient,
                    waiting,
                } = event
                {
                    return RoomWaiting {
                        appointment_id,
                        patient,
                        waiting,
                    };
                }
            }
        })
        .await
        .expect("room_waiting news in time")
    }

    /// Fails on any waiting-room news within `QUIET`.
    async fn no_room_news(&mut self) {
        let until = tokio::time::Instant::now() + QUIET;
        while let Ok(Some(event)) = tokio::time::timeout_at(until, self.events.recv()).await {
            assert!(
                !matches!(event, AppointmentEvent::RoomWaiting { .. }),
                "{}: unexpected {event:?}",
                self.account.display_name
            );
        }
    }

    /// Waits until media statistics of `call_id` have been reported
    /// `count` times (so the quality summary has samples).
    async fn stats(&mut self, call_id: CallId, count: usize) {
        for _ in 0..count {
            self.driver_until(MEDIA, |e| match e {
                DriverEvent::MediaStats { call_id: id, .. } if *id == call_id => Some(()),
                _ => None,
            })
            .await;
        }
    }

    async fn stop(self) {
        self.appointments.shutdown().await;
        self.calls.shutdown().await;
        self.signaling.shutdown().await;
        if let Some(media) = &self.media {
            media.wait_released().await;
        }
    }
}

/// A doctor who sees patients around the clock, every 30 minutes (the
/// demo doctor's profile), written through the client.
async fn open_doctor(server: &TestServer, name: &str) -> Account {
    let doctor = server.doctor(name).await;
    let rest = AppointmentsClient::new(server.sign_in(&doctor).await).unwrap();
    let details = clinicall_signaling_server::demo::demo_doctor_profile();
    rest.put_profile(doctor.id, &details).await.unwrap();
    doctor
}

/// The patient books the slot two days ahead and the doctor confirms:
/// a scheduled visit.
async fn scheduled_visit(server: &TestServer, doctor: &Account, patient: &Account) -> Appointment {
    let start_ms = (now_ms() / SLOT_MS) * SLOT_MS + 2 * DAY_MS;
    let as_patient = AppointmentsClient::new(server.sign_in(patient).await).unwrap();
    let booked = as_patient
        .book(&NewAppointment {
            doctor_id: doctor.id,
            start_ms,
            mode: Mode::Video,
            reason: "A rash that will not go away".into(),
        })
        .await
        .unwrap();
    let as_doctor = AppointmentsClient::new(server.sign_in(doctor).await).unwrap();
    as_doctor.confirm(booked.id, None).await.unwrap()
}

/// `room_waiting` news as `(appointment, patient, waiting)`.
fn waiting(
    appointment_id: AppointmentId,
    patient: &App,
    waiting: bool,
) -> (AppointmentId, UserId, bool) {
    (appointment_id, patient.id(), waiting)
}

fn news(r: &RoomWaiting) -> (AppointmentId, UserId, bool) {
    (r.appointment_id, r.patient.id, r.waiting)
}

#[tokio::test]
async fn a_visit_through_the_waiting_room_with_real_media_and_both_quality_reports() {
    let server = TestServer::start().await;
    let doctor = open_doctor(&server, "Dr. Grey").await;
    let patient = server.patient("Pat").await;
    let stranger = server.patient("Stranger").await;
    let a = scheduled_visit(&server, &doctor, &patient).await;

    let mut doc = App::start(&server, &doctor, true).await;
    let mut pat = App::start(&server, &patient, true).await;
    let other = App::start(&server, &stranger, false).await;

    // The patient waits; the doctor's device hears it.
    let joined = pat.appointments.join_room(a.id).await.unwrap();
    assert_eq!(news(&joined), waiting(a.id, &pat, true));
    assert_eq!(news(&pat.room().await), waiting(a.id, &pat, true));
    assert_eq!(pat.appointments.waiting_rooms(), vec![a.id]);
    assert_eq!(news(&doc.room().await), waiting(a.id, &pat, true));
    let looked = doc.appointments.who_waits(a.id).await.unwrap();
    assert_eq!(news(&looked), waiting(a.id, &pat, true));

    // A stranger cannot get in, nor look in: not_found, as for no room.
    for result in [
        other.appointments.join_room(a.id).await,
        other.appointments.who_waits(a.id).await,
        other.appointments.join_room(AppointmentId::random()).await,
    ] {
        assert_eq!(result.unwrap_err().code(), Some(ErrorCode::NotFound));
    }
    assert!(other.appointments.waiting_rooms().is_empty());
    // Nor may anyone label a call with the visit but its doctor: the
    // patient's own call for it is refused.
    pat.calls
        .dial(doctor.id, Some(a.id.to_string()))
        .await
        .unwrap();
    assert_eq!(
        pat.state(PROMPT).await,
        CallState::OutgoingRinging { call_id: None }
    );
    let refused = pat.state(PROMPT).await;
    assert!(
        matches!(&refused, CallState::Ended { call_id: None, reason }
            if *reason == clinicall_client_core::call::CallEndReason::InviteRefused(ErrorCode::Forbidden)),
        "{refused:?}"
    );

    // Waiting is not a call: nothing rings, no media session, no frames.
    assert_eq!(doc.states_while_quiet().await, vec![]);
    assert_eq!(pat.states_while_quiet().await, vec![]);
    for app in [&doc, &pat] {
        assert_eq!(app.media.as_ref().unwrap().live_sessions(), 0);
        assert_eq!((app.received.frames(), app.received.audio()), (0, 0));
    }
    assert_eq!(pat.appointments.waiting_rooms(), vec![a.id]);

    // The doctor admits: the patient's call rings, labelled with the
    // visit, which ends the wait on both sides.
    doc.calls.admit(a.id, pat.id()).await.unwrap();
    assert_eq!(
        doc.state(PROMPT).await,
        CallState::OutgoingRinging { call_id: None }
    );
    let call_id = match pat.state(PROMPT).await {
        CallState::IncomingRinging { call_id } => call_id,
        other => panic!("expected the patient's call to ring, got {other:?}"),
    };
    let details = pat
        .driver_until(PROMPT, |e| match e {
            DriverEvent::CallDetails(info) => Some(info.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        (details.direction, details.peer_id, details.appointment_id),
        (CallDirection::Incoming, doctor.id, Some(a.id.to_string()))
    );
    assert_eq!(news(&pat.room().await), waiting(a.id, &pat, false));
    assert!(pat.appointments.waiting_rooms().is_empty());
    assert_eq!(news(&doc.room().await), waiting(a.id, &pat, false));
    assert_eq!(
        doc.state(PROMPT).await,
        CallState::OutgoingRinging {
            call_id: Some(call_id)
        }
    );

    // Accepted: media flows both ways.
    pat.calls.accept().await.unwrap();
    for app in [&mut doc, &mut pat] {
        app.driver_until(MEDIA, |e| match e {
            DriverEvent::Call(CallEvent::StateChanged(CallState::Connected { call_id: id }))
                if *id == call_id =>
            {
                Some(())
            }
            _ => None,
        })
        .await;
    }
    for app in [&mut doc, &mut pat] {
        // At 4 stats a second, this also lets frames and audio arrive.
        app.stats(call_id, 6).await;
    }
    for app in [&doc, &pat] {
        let (frames, audio) = (app.received.frames(), app.received.audio());
        assert!(
            frames >= 5 && audio >= 25,
            "{} received {frames} frames and {audio} audio chunks",
            app.account.display_name
        );
    }

    // The doctor hangs up; each side posts its report once.
    doc.calls.hang_up().await.unwrap();
    for app in [&mut doc, &mut pat] {
        let ended = app
            .driver_until(PROMPT, |e| match e {
                DriverEvent::Call(CallEvent::StateChanged(CallState::Ended {
                    call_id, ..
                })) => Some(*call_id),
                _ => None,
            })
            .await;
        assert_eq!(ended, Some(call_id));
    }
    for app in [&mut doc, &mut pat] {
        // Events after the end (late stats) start nothing more.
        let _ = app.states_while_quiet().await;
        assert_eq!(app.reports.len(), 1, "{}", app.account.display_name);
        let report = app.reports.pop().unwrap();
        tokio::time::timeout(PROMPT, report)
            .await
            .expect("report posted in time")
            .unwrap()
            .expect("report accepted");
    }

    // The visit record: the call, answered and ended, with both reports.
    let visits = pat.appointments.visits(a.id).await.unwrap();
    assert_eq!(visits.len(), 1, "{visits:?}");
    let visit = &visits[0];
    assert_eq!(
        (
            visit.call.id,
            visit.call.caller,
            visit.call.callee,
            visit.call.appointment_id.clone()
        ),
        (call_id, doctor.id, patient.id, Some(a.id.to_string()))
    );
    assert!(visit.call.answered_at.is_some() && visit.call.ended_at.is_some());
    assert!(visit.call.duration_ms.is_some_and(|ms| ms > 0), "{visit:?}");
    let mut reporters: Vec<UserId> = visit.quality.iter().map(|q| q.user).collect();
    reporters.sort();
    let mut both = vec![doctor.id, patient.id];
    both.sort();
    assert_eq!(reporters, both);
    for q in &visit.quality {
        // Loopback: media arrived at a real bitrate with next to no loss.
        assert!(q.summary.avg_bitrate_kbps > 20, "{q:?}");
        assert!(q.summary.packet_loss_permille <= 50, "{q:?}");
    }

    for app in [doc, pat, other] {
        app.stop().await;
    }
}

#[tokio::test]
async fn a_waiting_patient_whose_session_is_lost_waits_again_after_reconnecting_until_they_leave() {
    let server = TestServer::start_with(|c| {
        c.presence.resume_grace = Duration::from_millis(300);
    })
    .await;
    let doctor = open_doctor(&server, "Dr. Grey").await;
    let patient = server.patient("Pat").await;
    let a = scheduled_visit(&server, &doctor, &patient).await;
    let mut doc = App::start(&server, &doctor, false).await;
    let mut pat = App::start(&server, &patient, false).await;

    pat.appointments.join_room(a.id).await.unwrap();
    assert_eq!(news(&doc.room().await), waiting(a.id, &pat, true));
    assert_eq!(news(&pat.room().await), waiting(a.id, &pat, true));

    // Away past the resume grace: the server forgets the session and its
    // waiting (the doctor hears it), the client comes back with a new
    // session and waits again (the doctor hears that too).
    pat.signaling
        .drop_connection_for_test(Duration::from_millis(1500))
        .await;
    assert_eq!(news(&doc.room().await), waiting(a.id, &pat, false));
    let resumed = pat
        .driver_until(PROMPT, |e| match e {
            DriverEvent::Connected { resumed, .. } => Some(*resumed),
            _ => None,
        })
        .await;
    assert!(!resumed, "the session outlived its grace");
    assert_eq!(news(&doc.room().await), waiting(a.id, &pat, true));
    assert_eq!(news(&pat.room().await), waiting(a.id, &pat, true));
    assert_eq!(pat.appointments.waiting_rooms(), vec![a.id]);
    let looked = doc.appointments.who_waits(a.id).await.unwrap();
    assert!(looked.waiting);

    // Once they leave, a new session does not bring them back.
    let left = pat.appointments.leave_room(a.id).await.unwrap();
    assert!(!left.waiting);
    assert_eq!(news(&doc.room().await), waiting(a.id, &pat, false));
    assert!(pat.appointments.waiting_rooms().is_empty());
    pat.signaling
        .drop_connection_for_test(Duration::from_millis(1500))
        .await;
    let resumed = pat
        .driver_until(PROMPT, |e| match e {
            DriverEvent::Connected { resumed, .. } => Some(*resumed),
            _ => None,
        })
        .await;
    assert!(!resumed);
    doc.no_room_news().await;
    let looked = doc.appointments.who_waits(a.id).await.unwrap();
    assert!(!looked.waiting);

    doc.stop().await;
    pat.stop().await;
}
