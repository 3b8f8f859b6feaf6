//! The appointments engine between real clients and a real server (real
//! HTTP and WebSockets, real SQLCipher caches in temporary directories):
//! bookings reach the other party by push, the workflow runs through the
//! client, a client that was away catches up by cursor, the schedule and
//! past visits read with the server stopped, and refusals are clear.

mod common;

use clinicall_client_core::appointments::{
    AppointmentError, AppointmentEvent, AppointmentSync, AppointmentSyncConfig, AppointmentsClient,
    AppointmentsHandle,
};
use clinicall_client_core::cache::{AccountCache, CacheConfig, KeySource, MemoryKeySource};
use clinicall_client_core::call::CallConfig;
use clinicall_client_core::chat::{ChatSync, ChatSyncConfig};
use clinicall_client_core::driver::{CallDriver, CallHandle, SignalingOnlyMedia};
use clinicall_client_core::signaling::{RestError, SignalingClient};
use clinicall_protocol::appointments::{
    Appointment, Mode, NewAppointment, ProfileDetails, RatingBody, RescheduleBody, ScheduleBlock,
    Status, Weekday,
};
use clinicall_protocol::rest::Account;
use clinicall_protocol::{AppointmentId, ErrorCode, UserId};
use common::{PROMPT, TestServer};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

const SLOT_MS: i64 = 30 * 60 * 1000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Slot starts on the 30-minute grid from two days ahead: the `n`th of
/// them. The grid is fixed once per test, so a test running across a
/// half hour does not hand out a slot twice.
fn slots() -> impl Fn(i64) -> i64 {
    let base = (now_ms() / SLOT_MS) * SLOT_MS + 2 * DAY_MS;
    move |n| base + n * SLOT_MS
}

/// One signed-in app: its cache, the appointments and chat engines, and
/// the call driver feeding both, as the desktop app wires them.
struct AppClient {
    account: Account,
    appointments: AppointmentsHandle,
    events: mpsc::Receiver<AppointmentEvent>,
    chat: clinicall_client_core::chat::ChatHandle,
    calls: CallHandle,
    signaling: SignalingClient,
}

/// Where a client's cache lives across restarts of the client.
struct Device {
    dir: tempfile::TempDir,
    keys: Arc<MemoryKeySource>,
}

impl Device {
    fn new() -> Self {
        Device {
            dir: tempfile::tempdir().unwrap(),
            keys: Arc::new(MemoryKeySource::empty()),
        }
    }

    fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("account")
    }

    async fn open(&self, me: UserId) -> AccountCache {
        let keys: Arc<dyn KeySource> = self.keys.clone();
        AccountCache::open(CacheConfig::new(self.cache_dir(), me), keys)
            .await
            .unwrap()
    }
}

impl AppClient {
    async fn start(server: &TestServer, account: &Account, device: &Device) -> AppClient {
        let cache = Arc::new(device.open(account.id).await);
        let auth = server.sign_in(account).await;
        let (signaling, stream) =
            SignalingClient::start(server.client_config(), auth.clone()).unwrap();
        let (appointments, appointment_feed, events) = AppointmentSync::start(
            AppointmentsClient::new(auth).unwrap(),
            Arc::clone(&cache),
            AppointmentSyncConfig {
                retry_after: Duration::from_millis(200),
            },
        );
        let (chat, chat_feed, mut chat_events) =
            ChatSync::start(signaling.clone(), cache, ChatSyncConfig::default());
        let (calls, mut driver_events) = CallDriver::start_with_feeds(
            signaling.clone(),
            stream,
            SignalingOnlyMedia,
            CallConfig::default(),
            vec![chat_feed, appointment_feed],
        );
        // Neither calls nor chat are under test; keep their streams moving.
        tokio::spawn(async move { while driver_events.recv().await.is_some() {} });
        tokio::spawn(async move { while chat_events.recv().await.is_some() {} });
        AppClient {
            account: account.clone(),
            appointments,
            events,
            chat,
            calls,
            signaling,
        }
    }

    /// Started and caught up with the server.
    async fn synced(server: &TestServer, account: &Account, device: &Device) -> AppClient {
        let mut client = AppClient::start(server, account, device).await;
        client
            .event(|e| matches!(e, AppointmentEvent::Synced { .. }))
            .await;
        client
    }

    /// Books the slot at `start_ms` through the engine's handle.
    async fn book(&self, doctor: UserId, start_ms: i64) -> Result<Appointment, AppointmentError> {
        self.appointments
            .act(self.rest().book(&booking(doctor, start_ms)))
            .await
    }

    fn cache(&self) -> &Arc<AccountCache> {
        self.appointments.cache()
    }

    fn rest(&self) -> &AppointmentsClient {
        self.appointments.rest()
    }

    /// Waits for an event matching `pick`.
    async fn event(&mut self, mut pick: impl FnMut(&AppointmentEvent) -> bool) -> AppointmentEvent {
        tokio::time::timeout(PROMPT, async {
            loop {
                let event = self.events.recv().await.expect("appointment events open");
                if pick(&event) {
                    return event;
                }
            }
        })
        .await
        .expect("appointment event in time")
    }

    /// Waits until the cache says `id` changed (by push or sync) and
    /// returns the cached appointment.
    async fn changed(&mut self, id: AppointmentId) -> Appointment {
        self.event(|e| matches!(e, AppointmentEvent::Changed { ids } if ids.contains(&id)))
            .await;
        self.cache().appointment(id).await.unwrap().expect("cached")
    }

    /// Stops everything and closes the cache, so the device can start a
    /// client again.
    async fn stop(self) {
        self.appointments.shutdown().await;
        self.chat.shutdown().await;
        self.calls.shutdown().await;
        self.signaling.shutdown().await;
        let cache = Arc::clone(self.appointments.cache());
        drop(self.appointments);
        drop(self.chat);
        let cache = Arc::try_unwrap(cache).expect("nothing else holds the cache");
        cache.close().await.unwrap();
    }
}

/// A doctor who sees patients around the clock, every 30 minutes, with
/// the profile written through the client.
async fn open_doctor(server: &TestServer, name: &str) -> Account {
    let doctor = server.doctor(name).await;
    let rest = AppointmentsClient::new(server.sign_in(&doctor).await).unwrap();
    let schedule = Weekday::ALL
        .into_iter()
        .map(|day| ScheduleBlock {
            day,
            start: "00:00".into(),
            end: "24:00".into(),
        })
        .collect();
    let details = ProfileDetails {
        specialization: "Cardiology".into(),
        qualification: "MD".into(),
        years_of_experience: 9,
        bio: "Hearts.".into(),
        time_zone: "UTC".into(),
        slot_minutes: 30,
        schedule,
    };
    let profile = rest.put_profile(doctor.id, &details).await.unwrap();
    assert_eq!(profile.details, details);
    doctor
}

fn booking(doctor: UserId, start_ms: i64) -> NewAppointment {
    NewAppointment {
        doctor_id: doctor,
        start_ms,
        mode: Mode::Video,
        reason: "Chest pain when running".into(),
    }
}

fn ids(list: &[Appointment]) -> Vec<AppointmentId> {
    list.iter().map(|a| a.id).collect()
}

/// A doctor and a patient, each with a synced app on their own device.
struct Parties {
    doctor: Account,
    doc: AppClient,
    pat: AppClient,
    /// The caches' directories, which must outlive the clients: bind it
    /// when destructuring (`..` would drop it at once).
    _devices: [Device; 2],
}

async fn parties(server: &TestServer, doctor_name: &str) -> Parties {
    let doctor = open_doctor(server, doctor_name).await;
    let patient = server.patient("Pat").await;
    let devices = [Device::new(), Device::new()];
    let doc = AppClient::synced(server, &doctor, &devices[0]).await;
    let pat = AppClient::synced(server, &patient, &devices[1]).await;
    Parties {
        doctor,
        doc,
        pat,
        _devices: devices,
    }
}

#[tokio::test]
async fn a_booking_reaches_the_doctor_by_push_and_the_workflow_runs_through_the_client() {
    let server = TestServer::start().await;
    let slot = slots();
    let Parties {
        doctor,
        mut doc,
        mut pat,
        _devices,
    } = parties(&server, "Dr. Heart").await;

    // Both are caught up: from here on only a push can bring the booking.
    let start = slot(1);
    let booked = pat.book(doctor.id, start).await.unwrap();
    assert_eq!(booked.status, Status::Pending);
    assert_eq!(
        pat.cache().appointment(booked.id).await.unwrap(),
        Some(booked.clone()),
        "the patient's own booking is cached at once"
    );
    let at_doctor = doc.changed(booked.id).await;
    assert_eq!(
        at_doctor, booked,
        "the doctor's cache holds the same record"
    );
    let upcoming = doc.cache().upcoming_appointments(now_ms()).await.unwrap();
    assert_eq!(ids(&upcoming), vec![booked.id]);

    // Confirm with a comment: the patient hears it.
    let confirmed = doc
        .appointments
        .act(doc.rest().confirm(booked.id, Some("Bring your ECG".into())))
        .await
        .unwrap();
    assert_eq!(confirmed.status, Status::Scheduled);
    // The patient's own booking may still be news in its event queue;
    // wait until its cache holds the confirmation.
    let mut at_patient = pat.cache().appointment(booked.id).await.unwrap().unwrap();
    while at_patient.status != Status::Scheduled {
        at_patient = pat.changed(booked.id).await;
    }
    assert_eq!(at_patient.change, confirmed.change);
    assert_eq!(at_patient.doctor_comment.as_deref(), Some("Bring your ECG"));

    // Draft notes, then complete with final notes.
    doc.appointments
        .act(doc.rest().write_notes(booked.id, "Draft: murmur?".into()))
        .await
        .unwrap();
    let completed = doc
        .appointments
        .act(
            doc.rest()
                .complete(booked.id, Some("Benign murmur.".into())),
        )
        .await
        .unwrap();
    assert_eq!(completed.status, Status::Completed);
    // The draft and the completion come as two pushes; wait until the
    // patient's cache holds the completion.
    let mut seen = pat.cache().appointment(booked.id).await.unwrap().unwrap();
    while seen.status != Status::Completed {
        seen = pat.changed(booked.id).await;
    }
    assert_eq!(seen.change, completed.change);

    // Notes are locked now: writing is refused with the server's code.
    let refused = doc
        .appointments
        .act(doc.rest().write_notes(booked.id, "Changed my mind".into()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::NotesLocked), "{refused}");
    doc.appointments
        .act(
            doc.rest()
                .amend_notes(booked.id, "Addendum: recheck in 6 months.".into()),
        )
        .await
        .unwrap();

    // The patient reads the notes (kept for offline) and rates the visit;
    // the doctor's cache gets the rating by push.
    let notes = pat.appointments.notes(booked.id).await.unwrap();
    assert!(notes.locked);
    assert_eq!(notes.text.as_deref(), Some("Benign murmur."));
    assert_eq!(notes.amendments.len(), 1);
    assert_eq!(pat.cache().notes(booked.id).await.unwrap(), Some(notes));
    let rating = RatingBody {
        rating: 5,
        review: Some("Thorough".into()),
    };
    pat.appointments
        .act(pat.rest().rate(booked.id, &rating))
        .await
        .unwrap();
    let mut rated = doc.cache().appointment(booked.id).await.unwrap().unwrap();
    while rated.rating.is_none() {
        rated = doc.changed(booked.id).await;
    }
    assert_eq!(rated.rating, Some(5));

    for client in [&pat, &doc] {
        let cache = client.cache();
        assert!(
            cache
                .upcoming_appointments(now_ms())
                .await
                .unwrap()
                .is_empty()
        );
        let past = cache.past_appointments(now_ms()).await.unwrap();
        assert_eq!(
            ids(&past),
            vec![booked.id],
            "{}",
            client.account.display_name
        );
    }
    pat.stop().await;
    doc.stop().await;
}

#[tokio::test]
async fn a_reschedule_stores_both_appointments_on_both_sides() {
    let server = TestServer::start().await;
    let slot = slots();
    let Parties {
        doctor,
        doc,
        mut pat,
        _devices,
    } = parties(&server, "Dr. Move").await;
    let booked = pat.book(doctor.id, slot(1)).await.unwrap();
    doc.appointments
        .act(doc.rest().confirm(booked.id, None))
        .await
        .unwrap();

    let body = RescheduleBody {
        start_ms: slot(5),
        comment: Some("Clinic closed that day".into()),
    };
    let moved = doc.appointments.reschedule(booked.id, &body).await.unwrap();
    assert_eq!(moved.old.status, Status::Rescheduled);
    assert_eq!(moved.old.rescheduled_to, Some(moved.new.id));
    for a in [&moved.old, &moved.new] {
        assert_eq!(
            doc.cache().appointment(a.id).await.unwrap().as_ref(),
            Some(a)
        );
    }
    let new = pat.changed(moved.new.id).await;
    assert_eq!(new.start_ms, slot(5));
    let mut old = pat.cache().appointment(booked.id).await.unwrap().unwrap();
    while old.status != Status::Rescheduled {
        old = pat.changed(booked.id).await;
    }
    let now = now_ms();
    let upcoming = pat.cache().upcoming_appointments(now).await.unwrap();
    assert_eq!(ids(&upcoming), vec![moved.new.id]);
    let past = pat.cache().past_appointments(now).await.unwrap();
    assert_eq!(ids(&past), vec![booked.id]);
    pat.stop().await;
    doc.stop().await;
}

#[tokio::test]
async fn a_client_that_was_away_catches_up_by_cursor_in_pages() {
    let server = TestServer::start().await;
    let slot = slots();
    let doctor = open_doctor(&server, "Dr. Away").await;
    let patient = server.patient("Pat").await;
    let device = Device::new();
    let pat = AppClient::synced(&server, &patient, &device).await;
    let first = pat.book(doctor.id, slot(0)).await.unwrap();
    let cursor_before = pat.cache().appointment_cursor().await.unwrap();
    pat.stop().await;

    // While the app is closed: the doctor confirms the first booking, and
    // the patient books more than one sync page (100) from another device.
    let doctor_rest = AppointmentsClient::new(server.sign_in(&doctor).await).unwrap();
    doctor_rest.confirm(first.id, None).await.unwrap();
    let other_device = AppointmentsClient::new(server.sign_in(&patient).await).unwrap();
    let mut booked_away = Vec::new();
    for n in 1..=105 {
        let a = other_device
            .book(&booking(doctor.id, slot(n)))
            .await
            .unwrap();
        booked_away.push(a.id);
    }

    let mut pat = AppClient::start(&server, &patient, &device).await;
    let AppointmentEvent::Synced { cursor } = pat
        .event(|e| matches!(e, AppointmentEvent::Synced { .. }))
        .await
    else {
        unreachable!()
    };
    assert!(cursor > cursor_before, "{cursor} > {cursor_before}");
    assert_eq!(pat.cache().appointment_cursor().await.unwrap(), cursor);
    let confirmed = pat.cache().appointment(first.id).await.unwrap().unwrap();
    assert_eq!(confirmed.status, Status::Scheduled);
    let upcoming = pat.cache().upcoming_appointments(now_ms()).await.unwrap();
    assert_eq!(upcoming.len(), 106, "every booking made while away");
    assert_eq!(upcoming[0].id, first.id, "soonest first");
    assert!(upcoming.windows(2).all(|w| w[0].start_ms < w[1].start_ms));
    for id in &booked_away {
        assert!(pat.cache().appointment(*id).await.unwrap().is_some());
    }
    // The doctor's profile came with the sync, for the doctor's page.
    let profile = pat
        .cache()
        .doctor(doctor.id)
        .await
        .unwrap()
        .expect("profile");
    assert_eq!(profile.details.specialization, "Cardiology");
    pat.stop().await;
}

#[tokio::test]
async fn with_the_server_stopped_the_schedule_and_past_visits_read_from_the_cache() {
    let mut server = TestServer::start().await;
    let slot = slots();
    let doctor = open_doctor(&server, "Dr. Offline").await;
    let patient = server.patient("Pat").await;
    let device = Device::new();
    let mut pat = AppClient::synced(&server, &patient, &device).await;
    let doctor_rest = AppointmentsClient::new(server.sign_in(&doctor).await).unwrap();

    let later = pat.book(doctor.id, slot(4)).await.unwrap();
    let sooner = pat.book(doctor.id, slot(2)).await.unwrap();
    let done = pat.book(doctor.id, slot(3)).await.unwrap();
    doctor_rest.confirm(done.id, None).await.unwrap();
    doctor_rest
        .complete(done.id, Some("All clear.".into()))
        .await
        .unwrap();
    // Wait for the completion's push.
    let mut seen = pat.cache().appointment(done.id).await.unwrap().unwrap();
    while seen.status != Status::Completed {
        seen = pat.changed(done.id).await;
    }
    let notes = pat.appointments.notes(done.id).await.unwrap();
    let visits = pat.appointments.visits(done.id).await.unwrap();
    pat.appointments.doctor(doctor.id).await.unwrap();

    server.stop().await;
    let unreachable = pat.rest().appointment(done.id).await.unwrap_err();
    assert!(
        matches!(unreachable, RestError::Transport(_)),
        "the server is really gone: {unreachable}"
    );
    // Close the app and open it again with the server still down.
    pat.stop().await;
    let cache = device.open(patient.id).await;
    let upcoming = cache.upcoming_appointments(now_ms()).await.unwrap();
    assert_eq!(ids(&upcoming), vec![sooner.id, later.id]);
    let past = cache.past_appointments(now_ms()).await.unwrap();
    assert_eq!(ids(&past), vec![done.id]);
    assert_eq!(past[0].status, Status::Completed);
    assert_eq!(cache.appointment(later.id).await.unwrap(), Some(later));
    assert_eq!(cache.notes(done.id).await.unwrap(), Some(notes));
    assert_eq!(cache.visits(done.id).await.unwrap(), Some(visits));
    let profile = cache.doctor(doctor.id).await.unwrap().expect("profile");
    assert_eq!(profile.display_name, "Dr. Offline");
    cache.close().await.unwrap();
}

#[tokio::test]
async fn a_taken_slot_is_refused_clearly_and_nothing_is_cached() {
    let server = TestServer::start().await;
    let slot = slots();
    let doctor = open_doctor(&server, "Dr. Busy").await;
    let first = server.patient("First").await;
    let second = server.patient("Second").await;
    let (first_device, second_device) = (Device::new(), Device::new());
    let one = AppClient::synced(&server, &first, &first_device).await;
    let two = AppClient::synced(&server, &second, &second_device).await;

    let start = slot(7);
    one.book(doctor.id, start).await.unwrap();
    let err = two.book(doctor.id, start).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::SlotTaken), "{err}");
    let AppointmentError::Rest(RestError::Api {
        status, message, ..
    }) = &err
    else {
        panic!("not a server refusal: {err:?}");
    };
    assert_eq!(*status, 409);
    assert!(!message.is_empty());
    assert!(err.to_string().contains("SlotTaken"), "{err}");
    assert!(
        two.cache()
            .upcoming_appointments(now_ms())
            .await
            .unwrap()
            .is_empty()
    );
    one.stop().await;
    two.stop().await;
}

/// An appointment as the server would send it, at change `change`.
fn record(id: AppointmentId, status: Status, change: u64) -> Appointment {
    let person = |name: &str, role| clinicall_protocol::UserSummary {
        id: UserId::random(),
        display_name: name.into(),
        role,
    };
    Appointment {
        id,
        doctor: person("Dr. Cache", clinicall_protocol::Role::Doctor),
        patient: person("Pat", clinicall_protocol::Role::Patient),
        start_ms: slots()(0),
        end_ms: slots()(1),
        mode: Mode::Chat,
        reason: "Follow-up".into(),
        status,
        doctor_comment: None,
        cancelled_by: None,
        rescheduled_from: None,
        rescheduled_to: None,
        notes_updated_at_ms: None,
        rating: None,
        review: None,
        created_at_ms: 0,
        updated_at_ms: 0,
        change,
    }
}

#[tokio::test]
async fn a_late_record_never_undoes_a_newer_one_and_the_cursor_never_goes_back() {
    let device = Device::new();
    let cache = device.open(UserId::random()).await;
    let id = AppointmentId::random();
    let newer = record(id, Status::Scheduled, 7);
    let changed = cache.apply_appointments(vec![newer.clone()]).await.unwrap();
    assert_eq!(changed, vec![id]);
    // A push of an older change, arriving late: ignored, and not reported.
    let changed = cache
        .apply_appointments(vec![record(id, Status::Pending, 5)])
        .await
        .unwrap();
    assert!(changed.is_empty());
    // The same change again (push, then the sync page): not a change.
    assert!(
        cache
            .apply_appointments(vec![newer.clone()])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(cache.appointment(id).await.unwrap(), Some(newer));

    let page = |cursor| clinicall_protocol::appointments::AppointmentChanges {
        appointments: vec![],
        cursor,
        more: false,
    };
    assert_eq!(cache.appointment_cursor().await.unwrap(), 0);
    cache.apply_appointment_changes(page(9)).await.unwrap();
    cache.apply_appointment_changes(page(4)).await.unwrap();
    assert_eq!(cache.appointment_cursor().await.unwrap(), 9);
    cache.close().await.unwrap();
}
