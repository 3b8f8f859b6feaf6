//! End-to-end tests of appointments in the real desktop app under
//! WebDriver (see `desktop.rs` for the set-up): a patient finds a doctor,
//! books, waits and rates; a doctor confirms, admits, writes notes and
//! completes; a `clinicall://appointment/<id>` link opens that visit; and
//! with the server stopped the schedule and past visits read from the
//! app's cache. The other party is a real client in the test process,
//! over the real server's REST API and WebSocket.

mod desktop_support;
mod harness;

use clinicall_client_core::appointments::AppointmentsClient;
use clinicall_client_core::signaling::{
    AuthSession, ClientConfig, MemoryTokenStore, RestClient, SignalingClient, SignalingEvent,
};
use clinicall_protocol::appointments::{
    Appointment, Mode, NewAppointment, ProfileDetails, ScheduleBlock, Status, Weekday,
};
use clinicall_protocol::rest::Account;
use clinicall_protocol::{AppointmentId, ClientMessage, ServerMessage};
use desktop_support::{App, AppConfig};
use harness::{ONE_AT_A_TIME, Server};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

const PASSWORD: &str = clinicall_signaling_server::testing::PASSWORD;
const SLOT_MS: i64 = 30 * 60 * 1000;
const LONG: Duration = Duration::from_secs(30);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A signed-in party in the test process: REST, and a WebSocket whose
/// server messages are collected.
struct Party {
    account: Account,
    rest: AppointmentsClient,
    signaling: SignalingClient,
    pushes: mpsc::UnboundedReceiver<ServerMessage>,
}

impl Party {
    async fn sign_in(server: &Server, account: &Account) -> Party {
        let rest = RestClient::new(&server.base, false).unwrap();
        let auth = Arc::new(AuthSession::new(rest, Arc::new(MemoryTokenStore::new())));
        auth.login(&account.email, PASSWORD).await.unwrap();
        let (signaling, mut events) =
            SignalingClient::start(ClientConfig::new(server.base.clone()), auth.clone()).unwrap();
        let (tx, pushes) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if let SignalingEvent::Message(envelope) = event {
                    let _ = tx.send(envelope.msg);
                }
            }
        });
        Party {
            account: account.clone(),
            rest: AppointmentsClient::new(auth).unwrap(),
            signaling,
            pushes,
        }
    }

    /// The first server message `pick` accepts, within 30 s.
    async fn recv_until<T>(&mut self, pick: impl Fn(&ServerMessage) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + LONG;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.pushes.recv())
                .await
                .expect("the awaited message within 30 s")
                .expect("the signaling stream is open");
            if let Some(found) = pick(&msg) {
                return found;
            }
        }
    }

    async fn appointment(&self, id: AppointmentId) -> Appointment {
        self.rest.appointment(id).await.unwrap()
    }
}

/// A server with a doctor who has a profile open around the clock, a
/// patient in their care, and both signed in in the test process.
struct Clinic {
    server: Server,
    doctor: Party,
    patient: Party,
}

impl Clinic {
    async fn open() -> Clinic {
        let server = Server::start().await;
        let (doctor, patient) = server.pair().await;
        let doctor = Party::sign_in(&server, &doctor).await;
        let patient = Party::sign_in(&server, &patient).await;
        let details = ProfileDetails {
            specialization: "Cardiology".into(),
            qualification: "MD".into(),
            years_of_experience: 12,
            bio: "Hearts, mostly.".into(),
            time_zone: "UTC".into(),
            slot_minutes: 30,
            schedule: Weekday::ALL
                .into_iter()
                .map(|day| ScheduleBlock {
                    day,
                    start: "00:00".into(),
                    end: "24:00".into(),
                })
                .collect(),
        };
        doctor
            .rest
            .put_profile(doctor.account.id, &details)
            .await
            .unwrap();
        Clinic {
            server,
            doctor,
            patient,
        }
    }

    /// The start of the `n`th slot from an hour ahead (on the 30-minute
    /// grid), fixed per call so tests do not race the clock.
    fn slot(n: i64) -> i64 {
        (now_ms() / SLOT_MS + 2 + n) * SLOT_MS
    }

    /// The patient books slot `n` (by REST, as from another device).
    async fn book(&self, n: i64, reason: &str) -> Appointment {
        self.patient
            .rest
            .book(&NewAppointment {
                doctor_id: self.doctor.account.id,
                start_ms: Self::slot(n),
                mode: Mode::Video,
                reason: reason.into(),
            })
            .await
            .unwrap()
    }

    async fn scheduled(&self, n: i64, reason: &str) -> Appointment {
        let booked = self.book(n, reason).await;
        self.doctor
            .rest
            .confirm(booked.id, Some("See you then".into()))
            .await
            .unwrap()
    }

    async fn app(&self, account: &Account, args: &[&str]) -> App {
        let mut config = AppConfig::for_server(&self.server.base);
        config.args = args.iter().map(|a| a.to_string()).collect();
        let app = App::launch(config).await;
        app.sign_in(&account.email, PASSWORD, false).await;
        app.find("#open-appointments").await;
        app
    }
}

/// The appointment detail on screen, once it shows `id`.
async fn detail_shows(app: &App, id: AppointmentId) {
    app.find(&format!(
        "#appointment-detail[data-appointment-id=\"{id}\"]"
    ))
    .await;
}

/// The appointment the detail screen shows, once it shows one.
async fn shown_appointment(app: &App) -> AppointmentId {
    app.find("#appointment-detail").await;
    app.eval("return document.querySelector('#appointment-detail').dataset.appointmentId")
        .await
        .as_str()
        .expect("the detail names its appointment")
        .parse()
        .expect("an appointment id")
}

/// Waits until the appointment list item of `id` has `status`.
async fn listed_with_status(app: &App, id: AppointmentId, status: &str) {
    app.wait_true(
        LONG,
        &format!(
            "return document.querySelector('li.appointment-item[data-appointment-id=\"{id}\"]')?.dataset.status === '{status}'"
        ),
    )
    .await;
}

async fn text_contains(app: &App, css: &str, needle: &str) {
    let script = format!(
        "return (document.querySelector({css:?})?.textContent || '').includes({needle:?})",
        css = css,
        needle = needle
    );
    app.wait_true(LONG, &script).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_finds_a_doctor_books_is_confirmed_waits_to_be_admitted_and_rates() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut clinic = Clinic::open().await;
    let doctor_id = clinic.doctor.account.id;
    let patient = clinic.patient.account.clone();
    let app = clinic.app(&patient, &[]).await;

    // The directory finds the doctor by specialization.
    app.click("#open-directory").await;
    app.type_into("#directory-specialization", "cardiology")
        .await;
    app.click("#directory-search").await;
    let result = format!("li.doctor-result[data-doctor-id=\"{doctor_id}\"]");
    app.click(&format!("{result} button.open-doctor")).await;
    app.screenshot("appointments-01-doctor").await;

    // Someone else takes the first free slot the page shows: booking it
    // is refused clearly, and the next one works.
    let first: i64 = app
        .eval(
            "return Number(document.querySelector('button.slot:not([disabled])').dataset.startMs)",
        )
        .await
        .as_i64()
        .expect("a free slot on the doctor's page");
    let rival = clinic.server.patient_of(&[]).await;
    let rival = Party::sign_in(&clinic.server, &rival).await;
    rival
        .rest
        .book(&NewAppointment {
            doctor_id,
            start_ms: first,
            mode: Mode::Video,
            reason: "Me first".into(),
        })
        .await
        .unwrap();
    app.click(&format!("button.slot[data-start-ms=\"{first}\"]"))
        .await;
    app.type_into("#booking-reason", "Chest pain when climbing stairs")
        .await;
    app.click("#booking-submit").await;
    text_contains(&app, "body", "pick another").await;
    app.click("button.slot:not([disabled])").await;
    app.click("#booking-submit").await;

    // The new visit opens, pending; the doctor confirms elsewhere and the
    // app hears of it at once.
    let id = shown_appointment(&app).await;
    let booked = clinic.patient.appointment(id).await;
    assert_eq!(booked.status, Status::Pending);
    assert_eq!(booked.reason, "Chest pain when climbing stairs");
    assert_ne!(
        booked.start_ms, first,
        "the taken slot was not booked twice"
    );
    clinic
        .doctor
        .rest
        .confirm(id, Some("Bring your readings".into()))
        .await
        .unwrap();
    text_contains(&app, "#appointment-detail", "Bring your readings").await;
    app.screenshot("appointments-02-confirmed").await;

    // The patient waits; the doctor hears it, and no call rings before
    // the admit.
    app.click("#room-join").await;
    app.find("#room-waiting-notice").await;
    let waiting = clinic
        .doctor
        .recv_until(|m| match m {
            ServerMessage::RoomWaiting {
                appointment_id,
                waiting,
                ..
            } if *appointment_id == id => Some(*waiting),
            _ => None,
        })
        .await;
    assert!(waiting, "the doctor sees the patient waiting");
    assert!(!app.exists("#incoming-call").await);
    let ringing = clinic
        .doctor
        .signaling
        .request(ClientMessage::RoomAdmit { appointment_id: id })
        .await
        .unwrap();
    let ServerMessage::CallRinging { call_id, .. } = ringing.msg else {
        panic!("admit answered {:?}", ringing.msg);
    };
    app.find("#incoming-call").await;
    app.screenshot("appointments-03-admitted").await;
    app.click("#reject-call").await;
    clinic
        .doctor
        .recv_until(|m| match m {
            ServerMessage::CallEnded { call_id: c, .. } if *c == call_id => Some(()),
            _ => None,
        })
        .await;

    // Completed with notes: the patient reads them and rates once.
    clinic
        .doctor
        .rest
        .complete(id, Some("Stress test next month.".into()))
        .await
        .unwrap();
    app.click("#open-appointments").await;
    listed_with_status(&app, id, "completed").await;
    app.click(&format!(
        "li.appointment-item[data-appointment-id=\"{id}\"]"
    ))
    .await;
    detail_shows(&app, id).await;
    text_contains(&app, "#notes-text", "Stress test next month.").await;
    app.click("button.star[data-value=\"4\"]").await;
    app.type_into("#review", "Clear and kind").await;
    app.click("#rating-submit").await;
    app.find("#rating-given").await;
    let rated = clinic.doctor.appointment(id).await;
    assert_eq!(rated.rating, Some(4));
    assert_eq!(rated.review.as_deref(), Some("Clear and kind"));
    assert!(!app.exists("#rating-submit").await, "rated once");
    app.screenshot("appointments-04-rated").await;
    app.close().await;
    clinic.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doctor_confirms_a_request_admits_the_waiting_patient_and_completes_with_notes() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut clinic = Clinic::open().await;
    let booked = clinic.book(0, "Follow-up on blood pressure").await;
    let id = booked.id;
    let doctor = clinic.doctor.account.clone();
    let app = clinic.app(&doctor, &[]).await;

    // The request waits among the pending ones; confirming reaches the
    // patient by push.
    app.click("#open-appointments").await;
    let request = format!("#pending-requests [data-appointment-id=\"{id}\"]");
    app.find(&request).await;
    app.screenshot("appointments-05-requests").await;
    app.click(&format!("{request} button.confirm")).await;
    let status = clinic
        .patient
        .recv_until(|m| match m {
            // The booking's own push may come first.
            ServerMessage::AppointmentChanged { appointment }
                if appointment.id == id && appointment.status != Status::Pending =>
            {
                Some(appointment.status)
            }
            _ => None,
        })
        .await;
    assert_eq!(status, Status::Scheduled);

    // The patient waits (from their own device); the doctor admits from
    // the waiting room and the patient's call rings with the visit's id.
    let joined = clinic
        .patient
        .signaling
        .request(ClientMessage::RoomJoin { appointment_id: id })
        .await
        .unwrap();
    assert!(matches!(
        joined.msg,
        ServerMessage::RoomWaiting { waiting: true, .. }
    ));
    let waiting = format!("#waiting-room li.waiting-patient[data-appointment-id=\"{id}\"]");
    app.find(&waiting).await;
    app.screenshot("appointments-06-waiting").await;
    app.click(&format!("{waiting} button.admit")).await;
    let (call_id, label) = clinic
        .patient
        .recv_until(|m| match m {
            ServerMessage::CallIncoming {
                call_id,
                appointment_id,
                ..
            } => Some((*call_id, appointment_id.clone())),
            _ => None,
        })
        .await;
    assert_eq!(label, Some(id.to_string()));
    app.find("#outgoing-call").await;
    clinic
        .patient
        .signaling
        .send(ClientMessage::Reject { call_id })
        .await
        .unwrap();
    app.find("#call-ended").await;
    app.click("#dismiss-call").await;

    // Notes: a draft, then complete; final notes take amendments only.
    // The visit is an hour or so ahead: today, or tomorrow late at night.
    let item = format!("#day-appointments li[data-appointment-id=\"{id}\"]");
    if !app.exists(&item).await {
        app.click("#day-next").await;
    }
    app.click(&item).await;
    detail_shows(&app, id).await;
    app.type_into("#notes-editor", "BP 128/82. Continue current dose.")
        .await;
    app.click("#notes-save").await;
    app.wait_true(
        LONG,
        "return !document.querySelector('#notes-save')?.disabled",
    )
    .await;
    app.click("#appointment-complete").await;
    text_contains(&app, "#notes-text", "BP 128/82").await;
    assert!(!app.exists("#notes-editor").await, "final notes are locked");
    app.type_into("#amend-text", "Correction: 126/82.").await;
    app.click("#amend-save").await;
    text_contains(&app, "li.amendment", "Correction: 126/82.").await;
    app.screenshot("appointments-07-notes").await;

    let notes = clinic.patient.rest.notes(id).await.unwrap();
    assert_eq!(
        notes.text.as_deref(),
        Some("BP 128/82. Continue current dose.")
    );
    assert!(notes.locked);
    assert_eq!(notes.amendments.len(), 1);
    assert_eq!(notes.amendments[0].author, clinic.doctor.account.id);
    assert_eq!(
        clinic.patient.appointment(id).await.status,
        Status::Completed
    );
    app.close().await;
    clinic.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_appointment_link_opens_that_visit_at_launch_and_in_the_running_app() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut clinic = Clinic::open().await;
    let first = clinic.scheduled(0, "First visit").await;
    let second = clinic.scheduled(1, "Second visit").await;
    let patient = clinic.patient.account.clone();

    // Started by the link: the visit opens once signed in.
    let link = format!("clinicall://appointment/{}", second.id);
    let app = clinic.app(&patient, &[&link]).await;
    detail_shows(&app, second.id).await;
    text_contains(&app, "#appointment-detail", "Second visit").await;

    // A link opened while the app runs reaches it through the second
    // launch, which exits.
    let link = format!("clinicall://appointment/{}", first.id);
    let status = app
        .launch_again_with(&[&link], Duration::from_secs(20))
        .await
        .expect("the second launch exits");
    assert!(status.success());
    detail_shows(&app, first.id).await;
    text_contains(&app, "#appointment-detail", "First visit").await;
    app.close().await;
    clinic.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_server_stopped_the_schedule_and_past_visits_read_from_the_cache() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut clinic = Clinic::open().await;
    let upcoming = clinic.scheduled(2, "Upcoming check").await;
    let past = clinic.scheduled(0, "Past check").await;
    clinic
        .doctor
        .rest
        .complete(past.id, Some("All clear.".into()))
        .await
        .unwrap();
    let patient = clinic.patient.account.clone();
    let app = clinic.app(&patient, &[]).await;
    app.click("#open-appointments").await;
    listed_with_status(&app, upcoming.id, "scheduled").await;
    listed_with_status(&app, past.id, "completed").await;
    // Read once online, so the notes are on this computer.
    app.click(&format!(
        "li.appointment-item[data-appointment-id=\"{}\"]",
        past.id
    ))
    .await;
    text_contains(&app, "#notes-text", "All clear.").await;

    clinic.server.stop().await;
    app.find("#appointments-offline").await;
    app.click("#open-appointments").await;
    app.find(&format!(
        "#upcoming-appointments li[data-appointment-id=\"{}\"]",
        upcoming.id
    ))
    .await;
    app.click(&format!(
        "#past-appointments li[data-appointment-id=\"{}\"]",
        past.id
    ))
    .await;
    detail_shows(&app, past.id).await;
    app.find("#detail-offline").await;
    text_contains(&app, "#notes-text", "All clear.").await;
    text_contains(&app, "#appointment-detail", "Past check").await;
    app.screenshot("appointments-08-offline").await;
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doctor_moves_a_visit_to_another_free_time_and_both_sides_see_the_link() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut clinic = Clinic::open().await;
    let visit = clinic.scheduled(3, "Annual check").await;
    let doctor = clinic.doctor.account.clone();
    let link = format!("clinicall://appointment/{}", visit.id);
    let app = clinic.app(&doctor, &[&link]).await;
    detail_shows(&app, visit.id).await;

    // Pick a free time other than the visit's own, with a word for the
    // patient.
    app.click("#appointment-reschedule").await;
    let script = format!(
        "const b = [...document.querySelectorAll('#reschedule-panel button.slot:not([disabled])')]
           .find(b => Number(b.dataset.startMs) !== {});
         if (!b) return null;
         b.click();
         return Number(b.dataset.startMs);",
        visit.start_ms
    );
    app.find("#reschedule-panel button.slot").await;
    let picked = app
        .eval(&script)
        .await
        .as_i64()
        .expect("a free slot to move to");
    app.type_into("#reschedule-comment", "Clinic closed that hour")
        .await;
    app.click("#reschedule-submit").await;

    // The window opens the new visit, which points back to the old one.
    app.find("#rescheduled-from").await;
    let new_id = shown_appointment(&app).await;
    assert_ne!(new_id, visit.id);
    app.screenshot("appointments-09-rescheduled").await;

    // The patient's side agrees: the old visit is moved, the new one is at
    // the picked time and linked both ways.
    let old = clinic.patient.appointment(visit.id).await;
    assert_eq!(old.status, Status::Rescheduled);
    assert_eq!(old.rescheduled_to, Some(new_id));
    let new = clinic.patient.appointment(new_id).await;
    assert_eq!(new.start_ms, picked);
    assert_eq!(new.rescheduled_from, Some(visit.id));
    assert_eq!(new.reason, "Annual check");
    assert_eq!(
        new.doctor_comment.as_deref(),
        Some("Clinic closed that hour")
    );
    // The old visit's page says where it went.
    app.click("#rescheduled-from").await;
    detail_shows(&app, visit.id).await;
    app.find("#rescheduled-to").await;
    app.close().await;
    clinic.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_call_from_the_waiting_room_is_recorded_with_both_parties_quality() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut clinic = Clinic::open().await;
    let visit = clinic.scheduled(0, "Video follow-up").await;
    let patient = clinic.patient.account.clone();
    let doctor = clinic.doctor.account.clone();
    // The patient is a headless client with real media, waiting in the
    // visit's room and answering the call the admit brings.
    let headless = clinic
        .server
        .spawn(&patient, &["--wait-room", &visit.id.to_string()]);
    headless.signed_in().await;
    let link = format!("clinicall://appointment/{}", visit.id);
    let app = clinic.app(&doctor, &[&link]).await;
    detail_shows(&app, visit.id).await;

    // The visit page sees the patient waiting; admitting starts the call.
    app.click("#room-admit").await;
    app.find("#call-window").await;
    headless.connected().await;
    app.wait_true(
        LONG,
        "return Number(document.querySelector('#remote-video')?.dataset.frames || 0) > 30",
    )
    .await;
    app.click("#hang-up").await;
    app.find("#end-reason").await;
    let (code, lines) = headless.finish(LONG).await;
    assert_eq!(code, 0, "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l["event"] == "quality_report" && l["ok"] == true),
        "the headless patient reported: {lines:#?}"
    );

    // Both reports reach the visit record: the app's (the doctor's) and
    // the headless patient's.
    let deadline = tokio::time::Instant::now() + LONG;
    let record = loop {
        let visits = clinic.doctor.rest.visits(visit.id).await.unwrap();
        if visits.len() == 1 && visits[0].quality.len() == 2 {
            break visits.into_iter().next().unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "two reports on one call: {visits:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut reporters: Vec<_> = record.quality.iter().map(|q| q.user).collect();
    reporters.sort();
    let mut parties = vec![doctor.id, patient.id];
    parties.sort();
    assert_eq!(reporters, parties);
    assert!(record.call.duration_ms.unwrap() > 0);
    let mine = record.quality.iter().find(|q| q.user == doctor.id).unwrap();
    assert!(
        mine.summary.avg_bitrate_kbps > 0,
        "the app measured what it received: {mine:?}"
    );

    // The visit page lists the call with both parties' quality.
    app.click("#close-call").await;
    detail_shows(&app, visit.id).await;
    let call = format!(
        "#visit-records li.visit[data-call-id=\"{}\"]",
        record.call.id
    );
    text_contains(&app, &call, "Dr. Ada:").await;
    text_contains(&app, &call, &format!("{}:", patient.display_name)).await;
    app.screenshot("appointments-10-visit-record").await;
    app.close().await;
    clinic.server.stop().await;
}
