//! Directory and appointments end to end: a real server on loopback with a
//! real SQLite file, real HTTP requests and real WebSocket clients.

mod common;

use clinicall_protocol::appointments::{
    Appointment, AppointmentChanges, AuditAction, AuditEntry, DoctorPage, DoctorProfile, Mode,
    Notes, ProfileDetails, QualityLevel, Rescheduled, ScheduleBlock, Slot, Status, Visit, Weekday,
};
use clinicall_protocol::rest::ErrorBody;
use clinicall_protocol::{AppointmentId, ClientMessage, ErrorCode, Role, ServerMessage, UserId};
use common::{Client, TestServer, TestUser, error_code};
use serde_json::json;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SLOT_MS: i64 = 30 * 60 * 1000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const QUIET: Duration = Duration::from_millis(300);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Hands out distinct future slot starts on the 30-minute grid, from two
/// days ahead, so each booking of a test gets its own slot.
struct Slots(AtomicI64);

impl Slots {
    fn new() -> Self {
        Self(AtomicI64::new((now_ms() / SLOT_MS) * SLOT_MS + 2 * DAY_MS))
    }
    fn next(&self) -> i64 {
        self.0.fetch_add(SLOT_MS, Ordering::Relaxed)
    }
}

fn profile(specialization: &str, blocks: Vec<ScheduleBlock>) -> ProfileDetails {
    ProfileDetails {
        specialization: specialization.into(),
        qualification: "MBBS, MD".into(),
        years_of_experience: 12,
        bio: "Sees adults.".into(),
        time_zone: "UTC".into(),
        slot_minutes: 30,
        schedule: blocks,
    }
}

/// Every day, all day: every 30-minute boundary is a slot.
fn around_the_clock() -> Vec<ScheduleBlock> {
    Weekday::ALL
        .into_iter()
        .map(|day| ScheduleBlock {
            day,
            start: "00:00".into(),
            end: "24:00".into(),
        })
        .collect()
}

async fn put_profile(
    s: &TestServer,
    token: &str,
    doctor: UserId,
    details: &ProfileDetails,
) -> reqwest::Response {
    s.put(
        &format!("/api/v1/doctors/{doctor}/profile"),
        Some(token),
        details,
    )
    .await
}

/// A doctor whose every 30-minute slot is bookable.
async fn open_doctor(s: &TestServer, name: &str) -> TestUser {
    let doctor = s.user(Role::Doctor, name).await;
    let resp = put_profile(
        s,
        &doctor.token,
        doctor.id(),
        &profile("General practice", around_the_clock()),
    )
    .await;
    assert_eq!(resp.status(), 200);
    doctor
}

async fn post_booking(s: &TestServer, token: &str, body: serde_json::Value) -> reqwest::Response {
    s.post("/api/v1/appointments", Some(token), &body).await
}

async fn book(s: &TestServer, patient: &TestUser, doctor: UserId, start: i64) -> reqwest::Response {
    let body =
        json!({"doctor_id": doctor, "start_ms": start, "mode": "video", "reason": "a cough"});
    post_booking(s, &patient.token, body).await
}

async fn booked(s: &TestServer, patient: &TestUser, doctor: UserId, start: i64) -> Appointment {
    let resp = book(s, patient, doctor, start).await;
    assert_eq!(resp.status(), 201, "booking at {start}");
    resp.json().await.unwrap()
}

/// `POST /api/v1/appointments/{id}/{action}` with a JSON body.
async fn act(
    s: &TestServer,
    user: &TestUser,
    id: AppointmentId,
    action: &str,
    body: serde_json::Value,
) -> reqwest::Response {
    s.post(
        &format!("/api/v1/appointments/{id}/{action}"),
        Some(&user.token),
        &body,
    )
    .await
}

async fn ok(resp: reqwest::Response) -> Appointment {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn refused(resp: reqwest::Response, status: u16, code: ErrorCode) {
    let got = resp.status();
    let body: ErrorBody = resp.json().await.expect("JSON error body");
    assert_eq!(
        (got.as_u16(), body.error.code),
        (status, code),
        "{}",
        body.error.message
    );
}

/// One doctor with an open schedule, their patient, and fresh slots.
struct Clinic {
    s: TestServer,
    doctor: TestUser,
    patient: TestUser,
    slots: Slots,
}

impl Clinic {
    async fn new() -> Self {
        let s = TestServer::start().await;
        let doctor = open_doctor(&s, "Dr Grey").await;
        let patient = s.user(Role::Patient, "Pat").await;
        Self {
            s,
            doctor,
            patient,
            slots: Slots::new(),
        }
    }

    async fn pending(&self) -> Appointment {
        booked(&self.s, &self.patient, self.doctor.id(), self.slots.next()).await
    }

    async fn scheduled(&self) -> Appointment {
        let a = self.pending().await;
        ok(act(
            &self.s,
            &self.doctor,
            a.id,
            "confirm",
            json!({"comment": "See you"}),
        )
        .await)
        .await
    }

    async fn completed(&self) -> Appointment {
        let a = self.scheduled().await;
        ok(act(&self.s, &self.doctor, a.id, "complete", json!({})).await).await
    }

    async fn cancelled(&self) -> Appointment {
        let a = self.pending().await;
        ok(act(&self.s, &self.patient, a.id, "cancel", json!({})).await).await
    }

    async fn rescheduled(&self) -> Appointment {
        let a = self.scheduled().await;
        let resp = act(
            &self.s,
            &self.doctor,
            a.id,
            "reschedule",
            json!({"start_ms": self.slots.next()}),
        )
        .await;
        assert_eq!(resp.status(), 200);
        resp.json::<Rescheduled>().await.unwrap().old
    }

    async fn in_status(&self, status: Status) -> Appointment {
        let a = match status {
            Status::Pending => self.pending().await,
            Status::Scheduled => self.scheduled().await,
            Status::Completed => self.completed().await,
            Status::Cancelled => self.cancelled().await,
            Status::Rescheduled => self.rescheduled().await,
        };
        assert_eq!(a.status, status);
        a
    }
}

#[tokio::test]
async fn profiles_are_written_by_their_doctor_or_an_admin() {
    let s = TestServer::start().await;
    let doctor = s.user(Role::Doctor, "Dr Own").await;
    let other = s.user(Role::Doctor, "Dr Other").await;
    let patient = s.user(Role::Patient, "Pat").await;
    let admin = s.admin_token().await;
    let details = profile("Cardiology", around_the_clock());

    refused(
        put_profile(&s, &other.token, doctor.id(), &details).await,
        403,
        ErrorCode::Forbidden,
    )
    .await;
    refused(
        put_profile(&s, &patient.token, doctor.id(), &details).await,
        403,
        ErrorCode::Forbidden,
    )
    .await;
    let resp = put_profile(&s, &doctor.token, doctor.id(), &details).await;
    assert_eq!(resp.status(), 200);
    let mine: DoctorProfile = resp.json().await.unwrap();
    assert_eq!(mine.details, details);

    let mut by_admin = details.clone();
    by_admin.bio = "Edited by the admin.".into();
    by_admin.time_zone = "Europe/Berlin".into();
    assert_eq!(
        put_profile(&s, &admin, doctor.id(), &by_admin)
            .await
            .status(),
        200
    );
    let read: DoctorProfile = s
        .get(
            &format!("/api/v1/doctors/{}", doctor.id()),
            Some(&patient.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read.details, by_admin);
    assert!(read.updated_at_ms.is_some());

    // A patient has no profile to write.
    let resp = put_profile(&s, &admin, patient.id(), &details).await;
    refused(resp, 404, ErrorCode::NotFound).await;
    // Bad time zone, bad times, bad slot length: field errors.
    for (field, bad) in [
        ("time_zone", {
            let mut d = details.clone();
            d.time_zone = "Mars/Olympus".into();
            d
        }),
        ("schedule", {
            let mut d = details.clone();
            d.schedule[0].end = "25:00".into();
            d
        }),
        ("slot_minutes", {
            let mut d = details.clone();
            d.slot_minutes = 0;
            d
        }),
    ] {
        let resp = put_profile(&s, &doctor.token, doctor.id(), &bad).await;
        assert_eq!(resp.status(), 422, "{field}");
        let body: ErrorBody = resp.json().await.unwrap();
        assert_eq!(body.error.field.as_deref(), Some(field));
    }
    // Nobody signed out reads the directory.
    assert_eq!(s.get("/api/v1/doctors", None).await.status(), 401);
}

async fn search(s: &TestServer, token: &str, query: &str) -> DoctorPage {
    let resp = s
        .get(&format!("/api/v1/doctors?{query}"), Some(token))
        .await;
    assert_eq!(resp.status(), 200, "{query}");
    resp.json().await.unwrap()
}

fn names(page: &DoctorPage) -> Vec<&str> {
    page.doctors
        .iter()
        .map(|d| d.display_name.as_str())
        .collect()
}

#[tokio::test]
async fn the_directory_searches_by_name_specialization_and_free_slot_in_pages() {
    let s = TestServer::start().await;
    let patient = s.user(Role::Patient, "Pat").await;
    let slots = Slots::new();
    let start = slots.next();
    // Ada: cardiology, around the clock. Bea: cardiology, one slot only
    // (the hour of `start`, on its weekday). Cyd: dermatology, no schedule.
    let ada = s.user(Role::Doctor, "Ada Lovelace").await;
    let bea = s.user(Role::Doctor, "Bea 100%").await;
    let cyd = s.user(Role::Doctor, "Cyd Charisse").await;
    put_profile(
        &s,
        &ada.token,
        ada.id(),
        &profile("Cardiology", around_the_clock()),
    )
    .await;
    let start_dt = start / 1000;
    let weekday = Weekday::ALL[(((start_dt / 86_400) + 3) % 7) as usize]; // 1970-01-01 was a Thursday
    let minute_of_day = (start % DAY_MS) / 60_000;
    let hhmm = |m: i64| format!("{:02}:{:02}", m / 60, m % 60);
    let one_slot = vec![ScheduleBlock {
        day: weekday,
        start: hhmm(minute_of_day),
        end: hhmm(minute_of_day + 30),
    }];
    let resp = put_profile(&s, &bea.token, bea.id(), &profile("cardiology", one_slot)).await;
    assert_eq!(resp.status(), 200);
    put_profile(&s, &cyd.token, cyd.id(), &profile("Dermatology", vec![])).await;
    let t = &patient.token;

    let all = search(&s, t, "").await;
    assert_eq!(names(&all), ["Ada Lovelace", "Bea 100%", "Cyd Charisse"]);
    assert_eq!(names(&search(&s, t, "name=lov").await), ["Ada Lovelace"]);
    // `%` is a character, not a wildcard.
    assert_eq!(names(&search(&s, t, "name=100%25").await), ["Bea 100%"]);
    assert_eq!(
        names(&search(&s, t, "name=a%25c").await),
        Vec::<&str>::new()
    );
    assert_eq!(
        names(&search(&s, t, "specialization=CARDIOLOGY").await),
        ["Ada Lovelace", "Bea 100%"]
    );

    // Pages in a stable order.
    let first = search(&s, t, "limit=2").await;
    assert_eq!(names(&first), ["Ada Lovelace", "Bea 100%"]);
    assert_eq!(first.next_offset, Some(2));
    let second = search(&s, t, "limit=2&offset=2").await;
    assert_eq!(names(&second), ["Cyd Charisse"]);
    assert_eq!(second.next_offset, None);

    // Free slot in a window around `start`: Ada and Bea; once Bea's only
    // slot is booked, Ada alone. Cyd never.
    let window = format!("free_from={}&free_to={}", start - 60_000, start + 60_000);
    assert_eq!(
        names(&search(&s, t, &window).await),
        ["Ada Lovelace", "Bea 100%"]
    );
    let slots_of_bea: Vec<Slot> = s
        .get(
            &format!(
                "/api/v1/doctors/{}/slots?from={}&to={}",
                bea.id(),
                start - DAY_MS,
                start + DAY_MS
            ),
            Some(t),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        slots_of_bea,
        [Slot {
            start_ms: start,
            end_ms: start + SLOT_MS,
            free: true
        }]
    );
    booked(&s, &patient, bea.id(), start).await;
    assert_eq!(names(&search(&s, t, &window).await), ["Ada Lovelace"]);
    let paged = search(
        &s,
        t,
        &format!("{window}&specialization=cardiology&limit=1"),
    )
    .await;
    assert_eq!(
        (names(&paged), paged.next_offset),
        (vec!["Ada Lovelace"], None)
    );

    // Windows must be ordered and bounded.
    let resp = s
        .get(
            &format!("/api/v1/doctors?free_from={start}&free_to={start}"),
            Some(t),
        )
        .await;
    refused(resp, 422, ErrorCode::InvalidField).await;
    let resp = s
        .get(
            &format!("/api/v1/doctors?free_from=0&free_to={}", 400 * DAY_MS),
            Some(t),
        )
        .await;
    refused(resp, 422, ErrorCode::InvalidField).await;
}

#[tokio::test]
async fn fifty_patients_race_for_one_slot_and_exactly_one_wins() {
    let s = TestServer::start().await;
    let doctor = open_doctor(&s, "Dr Busy").await;
    let mut patients = Vec::new();
    for i in 0..50 {
        patients.push(s.user(Role::Patient, &format!("Patient {i}")).await);
    }
    let start = Slots::new().next();
    let attempts = patients.iter().map(|p| book(&s, p, doctor.id(), start));
    let replies = futures_util::future::join_all(attempts).await;
    let mut won = Vec::new();
    let mut codes = Vec::new();
    for resp in replies {
        if resp.status() == 201 {
            won.push(resp.json::<Appointment>().await.unwrap());
        } else {
            assert_eq!(resp.status(), 409);
            codes.push(error_code(resp).await);
        }
    }
    assert_eq!(won.len(), 1, "exactly one booking wins");
    assert_eq!(codes, vec![ErrorCode::SlotTaken; 49]);
    let slots: Vec<Slot> = s
        .get(
            &format!(
                "/api/v1/doctors/{}/slots?from={start}&to={}",
                doctor.id(),
                start + 1
            ),
            Some(&patients[0].token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(slots.len(), 1);
    assert!(!slots[0].free);

    // Cancelling frees the slot for the next patient.
    let winner = patients
        .iter()
        .find(|p| p.id() == won[0].patient.id)
        .unwrap();
    ok(act(&s, winner, won[0].id, "cancel", json!({})).await).await;
    let loser = patients.iter().find(|p| p.id() != winner.id()).unwrap();
    booked(&s, loser, doctor.id(), start).await;
}

#[tokio::test]
async fn bookings_in_the_past_off_the_schedule_or_by_others_are_refused() {
    let c = Clinic::new().await;
    let (s, doctor, patient) = (&c.s, &c.doctor, &c.patient);
    let future = c.slots.next();
    let past = (now_ms() / SLOT_MS) * SLOT_MS - DAY_MS;
    refused(
        book(s, patient, doctor.id(), past).await,
        422,
        ErrorCode::SlotInPast,
    )
    .await;
    refused(
        book(s, patient, doctor.id(), future + 7 * 60_000).await,
        422,
        ErrorCode::SlotNotOnSchedule,
    )
    .await;
    // A doctor without a schedule has no slots at all.
    let idle = s.user(Role::Doctor, "Dr Idle").await;
    refused(
        book(s, patient, idle.id(), future).await,
        422,
        ErrorCode::SlotNotOnSchedule,
    )
    .await;
    refused(
        book(s, patient, patient.id(), future).await,
        404,
        ErrorCode::NotFound,
    )
    .await;
    refused(
        book(s, doctor, doctor.id(), future).await,
        403,
        ErrorCode::Forbidden,
    )
    .await;
    let admin = s.admin_token().await;
    let resp = post_booking(
        s,
        &admin,
        json!({"doctor_id": doctor.id(), "start_ms": future, "mode": "chat", "reason": "x"}),
    )
    .await;
    refused(resp, 403, ErrorCode::Forbidden).await;
    let resp = post_booking(
        s,
        &patient.token,
        json!({"doctor_id": doctor.id(), "start_ms": future, "mode": "chat", "reason": "  "}),
    )
    .await;
    refused(resp, 422, ErrorCode::InvalidField).await;
    let resp = post_booking(
        s,
        &patient.token,
        json!({"doctor_id": doctor.id(), "start_ms": future, "mode": "fax", "reason": "x"}),
    )
    .await;
    refused(resp, 422, ErrorCode::InvalidMessage).await;

    // The good one, as booked.
    let a = booked(s, patient, doctor.id(), future).await;
    assert_eq!(
        (a.status, a.mode, a.start_ms, a.end_ms),
        (Status::Pending, Mode::Video, future, future + SLOT_MS)
    );
    assert_eq!((a.doctor.id, a.patient.id), (doctor.id(), patient.id()));
}

/// The allowed transitions (who, action, from) and where each leads; every
/// other combination is refused: 403 for an action that is not the party's,
/// 409 `invalid_transition` for one that is, from the wrong status.
const ALLOWED: &[(Role, &str, Status, Status)] = &[
    (Role::Doctor, "confirm", Status::Pending, Status::Scheduled),
    (Role::Doctor, "reject", Status::Pending, Status::Cancelled),
    (Role::Patient, "cancel", Status::Pending, Status::Cancelled),
    (
        Role::Patient,
        "cancel",
        Status::Scheduled,
        Status::Cancelled,
    ),
    (Role::Doctor, "cancel", Status::Scheduled, Status::Cancelled),
    (
        Role::Doctor,
        "complete",
        Status::Scheduled,
        Status::Completed,
    ),
    (
        Role::Doctor,
        "reschedule",
        Status::Scheduled,
        Status::Rescheduled,
    ),
];

#[tokio::test]
async fn every_transition_is_allowed_or_refused_as_the_workflow_says() {
    let c = Clinic::new().await;
    let statuses = [
        Status::Pending,
        Status::Scheduled,
        Status::Completed,
        Status::Cancelled,
        Status::Rescheduled,
    ];
    let mut allowed_seen = 0;
    for from in statuses {
        for action in ["confirm", "reject", "cancel", "complete", "reschedule"] {
            for role in [Role::Doctor, Role::Patient] {
                let a = c.in_status(from).await;
                let user = if role == Role::Doctor {
                    &c.doctor
                } else {
                    &c.patient
                };
                let body = if action == "reschedule" {
                    json!({"start_ms": c.slots.next(), "comment": "moved"})
                } else {
                    json!({"comment": "noted"})
                };
                let resp = act(&c.s, user, a.id, action, body).await;
                let expected = ALLOWED
                    .iter()
                    .find(|(r, act, f, _)| (*r, *act, *f) == (role, action, from))
                    .map(|(.., to)| *to);
                let what = format!("{role:?} {action} from {from:?}");
                match expected {
                    Some(to) => {
                        allowed_seen += 1;
                        assert_eq!(resp.status(), 200, "{what}");
                        let after = if action == "reschedule" {
                            resp.json::<Rescheduled>().await.unwrap().old
                        } else {
                            resp.json::<Appointment>().await.unwrap()
                        };
                        assert_eq!(after.status, to, "{what}");
                        assert!(after.change > a.change, "{what}: change number grows");
                    }
                    None => {
                        let party_may = ALLOWED
                            .iter()
                            .any(|(r, act, ..)| (*r, *act) == (role, action));
                        let (status, code) = if party_may {
                            (409, ErrorCode::InvalidTransition)
                        } else {
                            (403, ErrorCode::Forbidden)
                        };
                        let got = resp.status().as_u16();
                        let body: ErrorBody = resp.json().await.unwrap();
                        assert_eq!((got, body.error.code), (status, code), "{what}");
                        // And nothing changed.
                        let now: Appointment =
                            c.s.get(&format!("/api/v1/appointments/{}", a.id), Some(&user.token))
                                .await
                                .json()
                                .await
                                .unwrap();
                        assert_eq!((now.status, now.change), (a.status, a.change), "{what}");
                    }
                }
            }
        }
    }
    assert_eq!(allowed_seen, ALLOWED.len());

    // Comments: the doctor's is kept on confirm; a patient's cancel
    // comment is not put on record as the doctor's.
    let a = c.pending().await;
    let a = ok(act(
        &c.s,
        &c.doctor,
        a.id,
        "confirm",
        json!({"comment": "Bring your inhaler"}),
    )
    .await)
    .await;
    assert_eq!(a.doctor_comment.as_deref(), Some("Bring your inhaler"));
    let a = ok(act(
        &c.s,
        &c.patient,
        a.id,
        "cancel",
        json!({"comment": "I am better"}),
    )
    .await)
    .await;
    assert_eq!(a.doctor_comment.as_deref(), Some("Bring your inhaler"));
    assert_eq!(a.cancelled_by, Some(c.patient.id()));
}

#[tokio::test]
async fn concurrent_transitions_apply_once() {
    let c = Clinic::new().await;
    let a = c.pending().await;
    let confirms = (0..10).map(|_| act(&c.s, &c.doctor, a.id, "confirm", json!({})));
    let cancels = (0..10).map(|_| act(&c.s, &c.patient, a.id, "cancel", json!({})));
    let (confirms, cancels) = tokio::join!(
        futures_util::future::join_all(confirms),
        futures_util::future::join_all(cancels)
    );
    let oks = confirms
        .iter()
        .chain(cancels.iter())
        .filter(|r| r.status() == 200)
        .count();
    // The patient may cancel after a confirm (scheduled → cancelled), but
    // no two confirms and no two cancels both succeed.
    let confirm_oks = confirms.iter().filter(|r| r.status() == 200).count();
    let cancel_oks = cancels.iter().filter(|r| r.status() == 200).count();
    assert!(
        confirm_oks <= 1 && cancel_oks == 1,
        "{confirm_oks} {cancel_oks}"
    );
    assert!((1..=2).contains(&oks));
    for r in confirms.into_iter().chain(cancels) {
        if r.status() != 200 {
            assert_eq!(r.status(), 409);
            assert_eq!(error_code(r).await, ErrorCode::InvalidTransition);
        }
    }
}

#[tokio::test]
async fn strangers_and_admins_reach_no_appointment() {
    let c = Clinic::new().await;
    let s = &c.s;
    let other_doctor = open_doctor(s, "Dr Elsewhere").await;
    let other_patient = s.user(Role::Patient, "Someone Else").await;
    let admin = TestUser {
        token: s.admin_token().await,
        account: clinicall_protocol::rest::Account {
            id: UserId::random(),
            email: String::new(),
            display_name: "admin".into(),
            role: Role::Admin,
        },
        refresh: String::new(),
    };
    let a = c.scheduled().await;
    let done = c.completed().await;
    for stranger in [&other_doctor, &other_patient, &admin] {
        let who = &stranger.account.display_name;
        let path = |p: &str| format!("/api/v1/appointments/{}{p}", a.id);
        refused(
            s.get(&path(""), Some(&stranger.token)).await,
            404,
            ErrorCode::NotFound,
        )
        .await;
        refused(
            s.get(
                &format!("/api/v1/appointments/{}/notes", done.id),
                Some(&stranger.token),
            )
            .await,
            404,
            ErrorCode::NotFound,
        )
        .await;
        for (action, body) in [
            ("confirm", json!({})),
            ("reject", json!({})),
            ("cancel", json!({})),
            ("complete", json!({})),
            ("reschedule", json!({"start_ms": c.slots.next()})),
            ("notes/amendments", json!({"text": "x"})),
            ("rating", json!({"rating": 1})),
        ] {
            let id = if matches!(action, "notes/amendments" | "rating") {
                done.id
            } else {
                a.id
            };
            let resp = act(s, stranger, id, action, body).await;
            assert_eq!(resp.status(), 404, "{who} {action}");
        }
        let resp = s
            .put(
                &path("/notes"),
                Some(&stranger.token),
                &json!({"text": "x"}),
            )
            .await;
        assert_eq!(resp.status(), 404, "{who} write notes");
        // Their sync holds none of it.
        let changes: AppointmentChanges = s
            .get("/api/v1/appointments?since=0", Some(&stranger.token))
            .await
            .json()
            .await
            .unwrap();
        assert!(changes.appointments.is_empty(), "{who}");
        // Only admins read the audit log.
        let audit = s.get("/api/v1/admin/audit", Some(&stranger.token)).await;
        let expected = if stranger.account.role == Role::Admin {
            200
        } else {
            403
        };
        assert_eq!(audit.status(), expected, "{who} audit");
    }
    // Unknown and malformed ids look the same as others' appointments.
    let resp = s
        .get(
            &format!("/api/v1/appointments/{}", AppointmentId::random()),
            Some(&c.patient.token),
        )
        .await;
    refused(resp, 404, ErrorCode::NotFound).await;
    let resp = s
        .get("/api/v1/appointments/not-an-id", Some(&c.patient.token))
        .await;
    refused(resp, 404, ErrorCode::NotFound).await;
    // Nothing was changed by any of it.
    let now: Appointment = s
        .get(
            &format!("/api/v1/appointments/{}", a.id),
            Some(&c.doctor.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((now.status, now.change), (a.status, a.change));
    assert_eq!(
        s.get("/api/v1/appointments?since=0", None).await.status(),
        401
    );
}

async fn read_notes(s: &TestServer, user: &TestUser, id: AppointmentId) -> reqwest::Response {
    s.get(
        &format!("/api/v1/appointments/{id}/notes"),
        Some(&user.token),
    )
    .await
}

async fn audit(s: &TestServer, query: &str) -> Vec<AuditEntry> {
    let admin = s.admin_token().await;
    let resp = s
        .get(&format!("/api/v1/admin/audit?{query}"), Some(&admin))
        .await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn notes_are_final_once_completed_amendments_are_kept_and_every_access_is_audited() {
    let c = Clinic::new().await;
    let (s, doctor, patient) = (&c.s, &c.doctor, &c.patient);
    let pending = c.pending().await;
    let notes_path = |id: AppointmentId| format!("/api/v1/appointments/{id}/notes");
    // No notes before the visit is confirmed.
    let resp = s
        .put(
            &notes_path(pending.id),
            Some(&doctor.token),
            &json!({"text": "early"}),
        )
        .await;
    refused(resp, 409, ErrorCode::InvalidTransition).await;

    let a = c.scheduled().await;
    let resp = s
        .put(
            &notes_path(a.id),
            Some(&patient.token),
            &json!({"text": "mine"}),
        )
        .await;
    refused(resp, 403, ErrorCode::Forbidden).await;
    let resp = s
        .put(
            &notes_path(a.id),
            Some(&doctor.token),
            &json!({"text": "draft"}),
        )
        .await;
    let drafted = ok(resp).await;
    assert!(drafted.notes_updated_at_ms.is_some());
    // The patient does not read drafts; the doctor does.
    refused(
        read_notes(s, patient, a.id).await,
        403,
        ErrorCode::Forbidden,
    )
    .await;
    let draft: Notes = read_notes(s, doctor, a.id).await.json().await.unwrap();
    assert_eq!(
        (draft.text.as_deref(), draft.locked),
        (Some("draft"), false)
    );

    let done = ok(act(
        s,
        doctor,
        a.id,
        "complete",
        json!({"notes": "Final: viral, rest."}),
    )
    .await)
    .await;
    assert_eq!(done.status, Status::Completed);
    let resp = s
        .put(
            &notes_path(a.id),
            Some(&doctor.token),
            &json!({"text": "rewrite"}),
        )
        .await;
    refused(resp, 409, ErrorCode::NotesLocked).await;
    let resp = act(
        s,
        patient,
        a.id,
        "notes/amendments",
        json!({"text": "not a doctor"}),
    )
    .await;
    refused(resp, 403, ErrorCode::Forbidden).await;
    let resp = act(
        s,
        doctor,
        a.id,
        "notes/amendments",
        json!({"text": "Add: fluids."}),
    )
    .await;
    assert_eq!(resp.status(), 201);
    // Amendments are for completed visits only.
    let scheduled = c.scheduled().await;
    let resp = act(
        s,
        doctor,
        scheduled.id,
        "notes/amendments",
        json!({"text": "x"}),
    )
    .await;
    refused(resp, 409, ErrorCode::InvalidTransition).await;

    // A stranger's attempt is refused like a missing appointment, and
    // recorded; a made-up id records nothing.
    let stranger = s.user(Role::Patient, "Nosy").await;
    refused(
        read_notes(s, &stranger, a.id).await,
        404,
        ErrorCode::NotFound,
    )
    .await;
    refused(
        read_notes(s, &stranger, AppointmentId::random()).await,
        404,
        ErrorCode::NotFound,
    )
    .await;

    let notes: Notes = read_notes(s, patient, a.id).await.json().await.unwrap();
    assert_eq!(notes.text.as_deref(), Some("Final: viral, rest."));
    assert!(notes.locked);
    assert_eq!(notes.amendments.len(), 1);
    assert_eq!(
        (
            notes.amendments[0].author,
            notes.amendments[0].text.as_str()
        ),
        (doctor.id(), "Add: fluids.")
    );

    // The audit trail of this appointment, newest first.
    let trail = audit(s, &format!("appointment_id={}", a.id)).await;
    let got: Vec<(UserId, AuditAction)> = trail.iter().map(|e| (e.actor, e.action)).collect();
    assert_eq!(
        got,
        vec![
            (patient.id(), AuditAction::NotesRead),
            (stranger.id(), AuditAction::NotesRefused),
            (doctor.id(), AuditAction::NotesAmended),
            (patient.id(), AuditAction::NotesRefused),
            (doctor.id(), AuditAction::NotesRefused),
            (doctor.id(), AuditAction::NotesWritten),
            (doctor.id(), AuditAction::NotesRead),
            (patient.id(), AuditAction::NotesRefused),
            (doctor.id(), AuditAction::NotesWritten),
            (patient.id(), AuditAction::NotesRefused),
        ]
    );
    assert!(trail.windows(2).all(|w| w[0].id > w[1].id));
    assert!(trail.iter().all(|e| e.appointment_id == a.id));
    // Refused reads and writes are recorded as attempts; filters and
    // paging work.
    let by_patient = audit(s, &format!("actor_id={}", patient.id())).await;
    assert_eq!(by_patient.len(), 4);
    let by_stranger = audit(s, &format!("actor_id={}", stranger.id())).await;
    assert_eq!(by_stranger.len(), 1, "the made-up id left no row");
    let older = audit(
        s,
        &format!("appointment_id={}&before={}&limit=2", a.id, trail[1].id),
    )
    .await;
    assert_eq!(older, trail[2..4].to_vec());
}

#[tokio::test]
async fn a_completed_visit_is_rated_once_by_its_patient() {
    let c = Clinic::new().await;
    let (s, doctor, patient) = (&c.s, &c.doctor, &c.patient);
    let scheduled = c.scheduled().await;
    refused(
        act(s, patient, scheduled.id, "rating", json!({"rating": 5})).await,
        409,
        ErrorCode::InvalidTransition,
    )
    .await;
    let done = c.completed().await;
    refused(
        act(s, doctor, done.id, "rating", json!({"rating": 5})).await,
        403,
        ErrorCode::Forbidden,
    )
    .await;
    refused(
        act(s, patient, done.id, "rating", json!({"rating": 6})).await,
        422,
        ErrorCode::InvalidField,
    )
    .await;
    let rated = ok(act(
        s,
        patient,
        done.id,
        "rating",
        json!({"rating": 4, "review": "Kind"}),
    )
    .await)
    .await;
    assert_eq!(
        (rated.rating, rated.review.as_deref()),
        (Some(4), Some("Kind"))
    );
    refused(
        act(s, patient, done.id, "rating", json!({"rating": 1})).await,
        409,
        ErrorCode::AlreadyRated,
    )
    .await;
}

#[tokio::test]
async fn rescheduling_links_both_appointments_and_frees_the_old_slot() {
    let c = Clinic::new().await;
    let (s, doctor, patient) = (&c.s, &c.doctor, &c.patient);
    let a = c.scheduled().await;
    let taken = c.pending().await;
    refused(
        act(
            s,
            doctor,
            a.id,
            "reschedule",
            json!({"start_ms": taken.start_ms}),
        )
        .await,
        409,
        ErrorCode::SlotTaken,
    )
    .await;
    refused(
        act(
            s,
            doctor,
            a.id,
            "reschedule",
            json!({"start_ms": taken.start_ms + 60_000}),
        )
        .await,
        422,
        ErrorCode::SlotNotOnSchedule,
    )
    .await;
    // The failed attempts changed nothing.
    let same: Appointment = s
        .get(
            &format!("/api/v1/appointments/{}", a.id),
            Some(&patient.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((same.status, same.change), (Status::Scheduled, a.change));

    let to = c.slots.next();
    let resp = act(
        s,
        doctor,
        a.id,
        "reschedule",
        json!({"start_ms": to, "comment": "Clash"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let Rescheduled { old, new } = resp.json().await.unwrap();
    assert_eq!(old.status, Status::Rescheduled);
    assert_eq!(old.rescheduled_to, Some(new.id));
    assert_eq!(new.rescheduled_from, Some(old.id));
    assert_eq!(
        (new.status, new.start_ms, new.end_ms),
        (Status::Scheduled, to, to + SLOT_MS)
    );
    assert_eq!((new.reason.as_str(), new.mode), (a.reason.as_str(), a.mode));
    assert_eq!(new.doctor_comment.as_deref(), Some("Clash"));
    // Somebody else can have the old slot now.
    let other = s.user(Role::Patient, "Other").await;
    booked(s, &other, doctor.id(), a.start_ms).await;
}

/// The next `appointment_changed` on a client.
async fn changed(client: &mut Client) -> Appointment {
    client
        .recv_until(|m| match m {
            ServerMessage::AppointmentChanged { appointment } => Some(appointment.clone()),
            _ => None,
        })
        .await
}

#[tokio::test]
async fn every_change_reaches_all_devices_of_both_parties_at_once() {
    let c = Clinic::new().await;
    let s = &c.s;
    let mut doctor_desk = s.connect(&c.doctor).await;
    let mut doctor_laptop = s.connect(&c.doctor).await;
    let mut patient_home = s.connect(&c.patient).await;
    let stranger = s.user(Role::Patient, "Stranger").await;
    let mut stranger_home = s.connect(&stranger).await;

    let knows_patient =
        |client: &Client| client.contacts.iter().any(|k| k.user.id == c.patient.id());
    assert!(!knows_patient(&doctor_desk));
    let a = c.pending().await;
    for client in [&mut doctor_desk, &mut doctor_laptop, &mut patient_home] {
        assert_eq!(changed(client).await, a);
    }
    let confirmed = ok(act(s, &c.doctor, a.id, "confirm", json!({"comment": "Fine"})).await).await;
    for client in [&mut doctor_desk, &mut doctor_laptop, &mut patient_home] {
        let got = changed(client).await;
        assert_eq!(got, confirmed);
        assert_eq!(got.status, Status::Scheduled);
    }
    // A confirmed visit makes the two contacts (chat, calls, presence).
    let doctor_tablet = s.connect(&c.doctor).await;
    assert!(knows_patient(&doctor_tablet));
    let resp = s
        .put(
            &format!("/api/v1/appointments/{}/notes", a.id),
            Some(&c.doctor.token),
            &json!({"text": "secret"}),
        )
        .await;
    let with_notes = ok(resp).await;
    let pushed = changed(&mut patient_home).await;
    assert_eq!(pushed.notes_updated_at_ms, with_notes.notes_updated_at_ms);
    // The push never carries the notes themselves.
    assert!(!serde_json::to_string(&pushed).unwrap().contains("secret"));
    stranger_home.expect_silence(QUIET).await;
}

async fn sync(s: &TestServer, user: &TestUser, since: u64, limit: u32) -> AppointmentChanges {
    let resp = s
        .get(
            &format!("/api/v1/appointments?since={since}&limit={limit}"),
            Some(&user.token),
        )
        .await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn clients_sync_everything_changed_since_their_cursor() {
    let c = Clinic::new().await;
    let (s, doctor, patient) = (&c.s, &c.doctor, &c.patient);
    let first = c.pending().await;
    let second = c.pending().await;
    let third = c.pending().await;
    ok(act(s, doctor, first.id, "confirm", json!({})).await).await;

    // Two pages: the confirmed one comes last, in its new version.
    let page1 = sync(s, patient, 0, 2).await;
    assert!(page1.more);
    let ids: Vec<_> = page1.appointments.iter().map(|a| a.id).collect();
    assert_eq!(ids, vec![second.id, third.id]);
    let page2 = sync(s, patient, page1.cursor, 2).await;
    assert!(!page2.more);
    assert_eq!(page2.appointments.len(), 1);
    assert_eq!(
        (page2.appointments[0].id, page2.appointments[0].status),
        (first.id, Status::Scheduled)
    );
    assert!(page2.cursor > page1.cursor);
    // The doctor sees the same appointments.
    let all = sync(s, doctor, 0, 100).await;
    assert_eq!(all.appointments.len(), 3);
    // Up to date: nothing, and the cursor stays.
    let idle = sync(s, patient, page2.cursor, 100).await;
    assert_eq!(
        (idle.appointments.len(), idle.cursor, idle.more),
        (0, page2.cursor, false)
    );
    // Another patient's booking with the same doctor is not ours.
    let other = s.user(Role::Patient, "Other").await;
    booked(s, &other, doctor.id(), c.slots.next()).await;
    assert!(
        sync(s, patient, page2.cursor, 100)
            .await
            .appointments
            .is_empty()
    );
    assert_eq!(sync(s, doctor, all.cursor, 100).await.appointments.len(), 1);
    // A later change shows up after the cursor.
    ok(act(s, patient, third.id, "cancel", json!({})).await).await;
    let after = sync(s, patient, page2.cursor, 100).await;
    assert_eq!(after.appointments.len(), 1);
    assert_eq!(after.appointments[0].status, Status::Cancelled);
}

fn error_of(msg: ServerMessage) -> ErrorCode {
    match msg {
        ServerMessage::Error { code, .. } => code,
        other => panic!("expected an error, got {other:?}"),
    }
}

/// `(patient, waiting)` from a `room_waiting`.
fn waiting_of(msg: &ServerMessage) -> Option<(UserId, bool)> {
    match msg {
        ServerMessage::RoomWaiting {
            patient, waiting, ..
        } => Some((patient.id, *waiting)),
        _ => None,
    }
}

#[tokio::test]
async fn the_waiting_room_admits_only_its_patient_and_admitting_starts_the_call() {
    let c = Clinic::new().await;
    let s = &c.s;
    let a = c.scheduled().await;
    let pending = c.pending().await;
    let mut desk = s.connect(&c.doctor).await;
    let mut laptop = s.connect(&c.doctor).await;
    let mut home = s.connect(&c.patient).await;
    let other_patient = s.user(Role::Patient, "Stranger").await;
    let other_doctor = open_doctor(s, "Dr Elsewhere").await;
    let mut stranger = s.connect(&other_patient).await;
    let mut elsewhere = s.connect(&other_doctor).await;
    let join = |appointment_id| ClientMessage::RoomJoin { appointment_id };
    let admit = |appointment_id| ClientMessage::RoomAdmit { appointment_id };
    let leave = |appointment_id| ClientMessage::RoomLeave { appointment_id };

    // Strangers cannot join, look in or admit; nor does anyone reach a
    // room that does not exist.
    assert_eq!(
        error_of(stranger.request(join(a.id)).await),
        ErrorCode::NotFound
    );
    assert_eq!(
        error_of(stranger.request(leave(a.id)).await),
        ErrorCode::NotFound
    );
    assert_eq!(
        error_of(elsewhere.request(join(a.id)).await),
        ErrorCode::NotFound
    );
    assert_eq!(
        error_of(elsewhere.request(admit(a.id)).await),
        ErrorCode::NotFound
    );
    let unknown = AppointmentId::random();
    assert_eq!(
        error_of(home.request(join(unknown)).await),
        ErrorCode::NotFound
    );
    // Wrong part or wrong status.
    assert_eq!(
        error_of(home.request(admit(a.id)).await),
        ErrorCode::Forbidden
    );
    assert_eq!(
        error_of(desk.request(leave(a.id)).await),
        ErrorCode::Forbidden
    );
    assert_eq!(
        error_of(home.request(join(pending.id)).await),
        ErrorCode::InvalidTransition
    );
    // Nobody waits yet: the doctor sees an empty room and cannot admit.
    let looked = desk.request(join(a.id)).await;
    assert_eq!(waiting_of(&looked), Some((c.patient.id(), false)));
    assert_eq!(
        error_of(desk.request(admit(a.id)).await),
        ErrorCode::NotFound
    );

    // The patient waits; both of the doctor's devices see it.
    let joined = home.request(join(a.id)).await;
    assert_eq!(waiting_of(&joined), Some((c.patient.id(), true)));
    for device in [&mut desk, &mut laptop] {
        assert_eq!(device.recv_until(waiting_of).await, (c.patient.id(), true));
    }
    // Leaving and coming back is seen as well.
    let left = home.request(leave(a.id)).await;
    assert_eq!(waiting_of(&left), Some((c.patient.id(), false)));
    assert_eq!(desk.recv_until(waiting_of).await, (c.patient.id(), false));
    assert_eq!(
        error_of(desk.request(admit(a.id)).await),
        ErrorCode::NotFound
    );
    home.request(join(a.id)).await;
    assert_eq!(desk.recv_until(waiting_of).await, (c.patient.id(), true));

    // Admitting calls the patient, labelled with the appointment.
    let ringing = desk.request(admit(a.id)).await;
    let ServerMessage::CallRinging { call_id, callee } = ringing else {
        panic!("expected call_ringing, got {ringing:?}");
    };
    assert_eq!(callee.id, c.patient.id());
    let incoming = home
        .recv_until(|m| match m {
            ServerMessage::CallIncoming {
                call_id,
                appointment_id,
                caller,
                ..
            } => Some((*call_id, appointment_id.clone(), caller.id)),
            _ => None,
        })
        .await;
    assert_eq!(incoming, (call_id, Some(a.id.to_string()), c.doctor.id()));
    assert_eq!(laptop.recv_until(waiting_of).await, (c.patient.id(), false));
    home.send(ClientMessage::Accept { call_id }).await;
    assert_eq!(home.accepted().await, call_id);
    assert_eq!(desk.accepted().await, call_id);
    // The room is empty again, and the strangers heard nothing of it.
    let after = laptop.request(join(a.id)).await;
    assert_eq!(waiting_of(&after), Some((c.patient.id(), false)));
    stranger.expect_silence(QUIET).await;
    elsewhere.expect_silence(QUIET).await;

    // Visit records: quality reports once the call has ended, from its
    // parties only; the appointment lists the call with both reports.
    let report = |quality: &str| {
        json!({"quality": quality, "avg_bitrate_kbps": 1200, "packet_loss_permille": 4,
               "jitter_ms": 12, "rtt_ms": 40})
    };
    let quality_path = format!("/api/v1/calls/{call_id}/quality");
    let resp = s
        .post(&quality_path, Some(&c.patient.token), &report("good"))
        .await;
    refused(resp, 409, ErrorCode::WrongCallState).await;
    desk.send(ClientMessage::Hangup { call_id }).await;
    assert_eq!(home.ended().await.0, call_id);
    for (user, verdict) in [(&c.patient, "good"), (&c.doctor, "fair")] {
        let resp = s
            .post(&quality_path, Some(&user.token), &report(verdict))
            .await;
        assert_eq!(resp.status(), 204);
    }
    let resp = s
        .post(&quality_path, Some(&other_patient.token), &report("poor"))
        .await;
    refused(resp, 404, ErrorCode::NotFound).await;
    let visits_path = format!("/api/v1/appointments/{}/visits", a.id);
    refused(
        s.get(&visits_path, Some(&other_doctor.token)).await,
        404,
        ErrorCode::NotFound,
    )
    .await;
    let resp = s.get(&visits_path, Some(&c.patient.token)).await;
    assert_eq!(resp.status(), 200);
    let visits: Vec<Visit> = resp.json().await.unwrap();
    assert_eq!(visits.len(), 1);
    let call = &visits[0].call;
    assert_eq!(
        (
            call.id,
            call.caller,
            call.callee,
            call.appointment_id.clone()
        ),
        (
            call_id,
            c.doctor.id(),
            c.patient.id(),
            Some(a.id.to_string())
        )
    );
    assert!(call.answered_at.is_some() && call.ended_at.is_some());
    assert!(call.duration_ms.is_some());
    let mut reports: Vec<(UserId, QualityLevel)> = visits[0]
        .quality
        .iter()
        .map(|q| (q.user, q.summary.quality))
        .collect();
    reports.sort_by_key(|(user, _)| *user);
    let mut expected = vec![
        (c.patient.id(), QualityLevel::Good),
        (c.doctor.id(), QualityLevel::Fair),
    ];
    expected.sort_by_key(|(user, _)| *user);
    assert_eq!(reports, expected);
}

/// Reads what arrives for [`QUIET`] (presence, say) and fails on any ring.
async fn no_ring(client: &mut Client) {
    let until = tokio::time::Instant::now() + QUIET;
    while let Ok(env) = tokio::time::timeout_at(until, client.recv()).await {
        assert!(
            !matches!(env.msg, ServerMessage::CallIncoming { .. }),
            "{env:?}"
        );
    }
}

/// `invite` labelled `label`, to `callee`.
fn visit_invite(callee: UserId, label: impl Into<String>) -> ClientMessage {
    ClientMessage::Invite {
        callee,
        appointment_id: Some(label.into()),
    }
}

#[tokio::test]
async fn only_the_doctor_calls_for_a_scheduled_visit_and_only_its_patient() {
    let c = Clinic::new().await;
    let s = &c.s;
    let a = c.scheduled().await;
    let pending = c.pending().await;
    let mut desk = s.connect(&c.doctor).await;
    let mut home = s.connect(&c.patient).await;
    // A second patient of the same doctor (a contact: confirmed visit).
    let other = s.user(Role::Patient, "Other").await;
    let theirs = booked(s, &other, c.doctor.id(), c.slots.next()).await;
    ok(act(s, &c.doctor, theirs.id, "confirm", json!({})).await).await;
    let mut other_home = s.connect(&other).await;
    let other_doctor = open_doctor(s, "Dr Elsewhere").await;
    s.relate(&other_doctor, &c.patient).await;
    let mut elsewhere = s.connect(&other_doctor).await;

    // Nobody may label a call with a visit that is not theirs to call for:
    // a stranger's doctor (not_found, as for an unknown appointment), the
    // patient (forbidden: they wait in the room), the doctor calling
    // another patient with it (forbidden), a visit not scheduled
    // (invalid_transition), a label that is no appointment (not_found).
    let (elsewhere_, home_, other_home_, desk_) = (0, 1, 2, 3);
    let cases = [
        (
            elsewhere_,
            visit_invite(c.patient.id(), a.id.to_string()),
            ErrorCode::NotFound,
        ),
        (
            home_,
            visit_invite(c.doctor.id(), a.id.to_string()),
            ErrorCode::Forbidden,
        ),
        (
            other_home_,
            visit_invite(c.doctor.id(), a.id.to_string()),
            ErrorCode::NotFound,
        ),
        (
            desk_,
            visit_invite(other.id(), a.id.to_string()),
            ErrorCode::Forbidden,
        ),
        (
            desk_,
            visit_invite(c.patient.id(), pending.id.to_string()),
            ErrorCode::InvalidTransition,
        ),
        (
            desk_,
            visit_invite(c.patient.id(), "appt-42"),
            ErrorCode::NotFound,
        ),
        (
            desk_,
            visit_invite(c.patient.id(), AppointmentId::random().to_string()),
            ErrorCode::NotFound,
        ),
    ];
    {
        let devices = [&mut elsewhere, &mut home, &mut other_home, &mut desk];
        for (who, invite, code) in cases {
            let reply = devices[who].request(invite.clone()).await;
            assert_eq!(error_of(reply), code, "{invite:?}");
        }
    }
    // Nothing rang, and no call was stored with those labels.
    for device in [&mut home, &mut other_home, &mut desk] {
        no_ring(device).await;
    }
    let visits_path = format!("/api/v1/appointments/{}/visits", a.id);
    let visits: Vec<Visit> = s
        .get(&visits_path, Some(&c.patient.token))
        .await
        .json()
        .await
        .unwrap();
    assert!(visits.is_empty(), "{visits:?}");

    // Plain calls between contacts are as before: no label, no check.
    let plain = home
        .request(ClientMessage::Invite {
            callee: c.doctor.id(),
            appointment_id: None,
        })
        .await;
    let ServerMessage::CallRinging { call_id, .. } = plain else {
        panic!("expected call_ringing, got {plain:?}");
    };
    assert_eq!(desk.incoming().await, call_id);
    home.send(ClientMessage::Hangup { call_id }).await;
    desk.ended().await;
    home.ended().await;

    // The doctor calls the patient for the visit: it rings, labelled with
    // the appointment's id in its canonical form (the label was given in
    // capitals), and lands in the visit records.
    let ringing = desk
        .request(visit_invite(
            c.patient.id(),
            a.id.to_string().to_uppercase(),
        ))
        .await;
    let ServerMessage::CallRinging { call_id, .. } = ringing else {
        panic!("expected call_ringing, got {ringing:?}");
    };
    let label = home
        .recv_until(|m| match m {
            ServerMessage::CallIncoming {
                call_id: id,
                appointment_id,
                ..
            } if *id == call_id => Some(appointment_id.clone()),
            _ => None,
        })
        .await;
    assert_eq!(label, Some(a.id.to_string()));
    // Media signaling flows only inside the accepted call: not while it
    // rings, and never for a call that does not exist.
    let offer = |call_id| ClientMessage::Signal {
        call_id,
        signal: clinicall_protocol::Signal::Offer {
            sdp: "v=0".into(),
            ice_restart: false,
        },
    };
    assert_eq!(
        error_of(desk.request(offer(call_id)).await),
        ErrorCode::WrongCallState
    );
    assert_eq!(
        error_of(
            home.request(offer(clinicall_protocol::CallId::random()))
                .await
        ),
        ErrorCode::NotFound
    );
    home.send(ClientMessage::Hangup { call_id }).await;
    desk.ended().await;
    let visits: Vec<Visit> = s
        .get(&visits_path, Some(&c.doctor.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        visits.iter().map(|v| v.call.id).collect::<Vec<_>>(),
        vec![call_id]
    );
}

#[tokio::test]
async fn no_signal_reaches_a_waiting_patient_and_a_rejoin_during_the_visit_call_does_not_wait() {
    let c = Clinic::new().await;
    let s = &c.s;
    let a = c.scheduled().await;
    let mut desk = s.connect(&c.doctor).await;
    let mut home = s.connect(&c.patient).await;
    let join = ClientMessage::RoomJoin {
        appointment_id: a.id,
    };
    assert_eq!(
        waiting_of(&home.request(join.clone()).await),
        Some((c.patient.id(), true))
    );
    assert_eq!(desk.recv_until(waiting_of).await, (c.patient.id(), true));
    // Waiting is not a call: the doctor cannot send media signaling to
    // the waiting patient under any call id, and nothing reaches them.
    let candidate = ClientMessage::Signal {
        call_id: clinicall_protocol::CallId::random(),
        signal: clinicall_protocol::Signal::Candidate {
            candidate: "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host".into(),
            sdp_mid: Some("0".into()),
            sdp_mline_index: Some(0),
            username_fragment: None,
        },
    };
    assert_eq!(error_of(desk.request(candidate).await), ErrorCode::NotFound);
    home.expect_silence(QUIET).await;

    // Admitted: while the visit's call rings, joining again (a client
    // back from a reconnect) does not put the patient back in the room.
    let ringing = desk
        .request(ClientMessage::RoomAdmit {
            appointment_id: a.id,
        })
        .await;
    assert!(
        matches!(ringing, ServerMessage::CallRinging { .. }),
        "{ringing:?}"
    );
    let call_id = home.incoming().await;
    assert_eq!(
        waiting_of(&home.request(join.clone()).await),
        Some((c.patient.id(), false))
    );
    assert_eq!(desk.recv_until(waiting_of).await, (c.patient.id(), false));
    desk.expect_silence(QUIET).await;
    assert_eq!(
        error_of(
            desk.request(ClientMessage::RoomAdmit {
                appointment_id: a.id
            })
            .await
        ),
        ErrorCode::NotFound
    );
    home.send(ClientMessage::Hangup { call_id }).await;
    desk.ended().await;
}
