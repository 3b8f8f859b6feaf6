//! `apptbench`: the appointments benchmark (booking, contention, sync,
//! directory search) over REST.
//!
//! Runs against a running `signaling-server` (usually a fresh one started by
//! `cargo xtask bench appointments`, on its embedded SQLite database):
//!
//! 0. **Setup** (not measured): creates `--doctors` doctors through the
//!    admin API, each with a profile open around the clock (UTC, 30-minute
//!    slots, one of ten specializations), and the patients; books one
//!    half-hour a day from now at every doctor (the "nobody free" window of
//!    the directory queries).
//! 1. **Booking**: `--patients` patients book distinct free slots with the
//!    first `--booking-doctors` doctors, back to back (closed loop: one
//!    request in flight per patient), for `--book-warmup` then
//!    `--book-duration` seconds. Reports bookings per second and the
//!    latency of `POST /appointments`; every reply must be a 201.
//! 2. **Contention**: `--rounds` rounds of `--racers` patients released
//!    together on one free slot. Exactly one 201 and `racers - 1`
//!    `409 slot_taken` per round, or the benchmark fails; reports the
//!    latency of the winner's and the losers' replies.
//! 3. **Sync catch-up**: one patient with `--sync-appointments`
//!    appointments, each booked and then confirmed by the doctor (two
//!    changes each). A fresh client pages `GET /appointments?since=0` to the
//!    end, `--sync-runs` times, at the server's default page size (100, what
//!    the client core asks for) and at the largest (500).
//! 4. **Directory**: `GET /doctors` by name, by specialization, and with
//!    the free-slot filter (first page, last page, a 62-day window, and a
//!    half-hour in which nobody is free), each repeated sequentially.
//!
//! Prints one JSON report on stdout and a summary on stderr. Exits with an
//! error after printing if a booking failed or a contention round did not
//! have exactly one winner.

#[allow(dead_code)]
mod accounts;
#[allow(dead_code)]
mod stats;

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use clinicall_protocol::UserId;
use clinicall_protocol::appointments::{
    Appointment, AppointmentChanges, DoctorPage, Mode, NewAppointment, ProfileDetails,
    ScheduleBlock, Slot, Status, Weekday,
};
use clinicall_protocol::rest::NewUser;
use clinicall_protocol::{AppointmentId, Role};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use stats::{LatencySummary, latency_histogram, parse_non_negative, parse_positive, round3};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SLOT_MS: i64 = 30 * 60 * 1000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// The directory's page size the benchmark asks for (the server default).
const DIRECTORY_PAGE: usize = 20;
/// Largest `limit` of `GET /appointments`.
const MAX_SYNC_PAGE: u32 = 500;

const FIRST_NAMES: [&str; 25] = [
    "Amelia", "Bruno", "Chiara", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas",
    "Kalani", "Luca", "Maya", "Nikolai", "Olga", "Pavel", "Quinn", "Rosa", "Samir", "Tessa",
    "Umar", "Vera", "Wen", "Ximena", "Yusuf",
];
const SURNAMES: [&str; 20] = [
    "Abbott",
    "Bauer",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
    "Quispe",
    "Rossi",
    "Schmidt",
    "Tanaka",
];
const SPECIALIZATIONS: [&str; 10] = [
    "Cardiology",
    "Dermatology",
    "Endocrinology",
    "Family medicine",
    "Gastroenterology",
    "Neurology",
    "Oncology",
    "Paediatrics",
    "Psychiatry",
    "Pulmonology",
];

/// Appointments benchmark: booking throughput and latency, one-slot
/// contention, sync catch-up and directory search, over REST against one
/// server (see the module docs).
#[derive(Parser, Debug)]
#[command(name = "apptbench", version)]
struct Args {
    #[command(flatten)]
    target: accounts::Target,

    /// Doctors in the directory, each with a profile open around the clock
    /// (UTC, 30-minute slots) and one of ten specializations.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    doctors: u32,

    /// Doctors the booking phase books with (the first ones of the
    /// directory; at most --doctors).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    booking_doctors: u32,

    /// Patients booking at once in the booking phase; each has one request
    /// in flight and books again as soon as it is answered.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    patients: u32,

    /// Seconds of measured booking.
    #[arg(long, default_value_t = 15.0, value_parser = parse_positive)]
    book_duration: f64,

    /// Seconds of booking before measuring starts; not recorded.
    #[arg(long, default_value_t = 2.0, value_parser = parse_non_negative)]
    book_warmup: f64,

    /// Contention rounds (0 skips the phase).
    #[arg(long, default_value_t = 40)]
    rounds: u32,

    /// Patients racing for the one slot of each round.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(2..=10_000))]
    racers: u32,

    /// Appointments of the sync user, each booked and confirmed (two
    /// changes each; 0 skips the phase).
    #[arg(long, default_value_t = 1000)]
    sync_appointments: u32,

    /// Fresh full syncs timed at each page size.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    sync_runs: u32,

    /// Times each directory query is sent, one after the other (0 skips
    /// the phase).
    #[arg(long, default_value_t = 30)]
    search_repeats: u32,

    /// Most seconds spent repeating one directory query; at least three
    /// samples are taken whatever it says.
    #[arg(long, default_value_t = 10.0, value_parser = parse_positive)]
    search_max_seconds: f64,

    /// Requests in flight at once during setup.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    setup_concurrency: u32,

    /// PID of the server process, to report the CPU time it used in each
    /// phase (from /proc/PID/stat; it must run on this machine).
    #[arg(long)]
    server_pid: Option<u32>,

    /// Tokio worker threads of this process. One leaves the server the
    /// other core of a 2-core machine.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    threads: u32,
}

// ------------------------------------------------------------------ HTTP

/// A reply, read to the end, and how long it took from send to last byte.
struct Reply {
    status: StatusCode,
    body: Vec<u8>,
    elapsed: Duration,
}

impl Reply {
    /// The `error.code` of an error body, if there is one.
    fn error_code(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        v["error"]["code"].as_str().map(str::to_owned)
    }

    /// `HTTP 409 slot_taken`: how an unexpected reply is counted.
    fn error_key(&self) -> String {
        match self.error_code() {
            Some(code) => format!("HTTP {} {code}", self.status.as_u16()),
            None => format!("HTTP {}", self.status.as_u16()),
        }
    }

    fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).context("decoding a reply")
    }

    /// The body decoded, when the status is `expect`; an error naming the
    /// request otherwise.
    fn expect<T: serde::de::DeserializeOwned>(&self, expect: StatusCode, what: &str) -> Result<T> {
        if self.status != expect {
            bail!(
                "{what}: {} {}",
                self.error_key(),
                String::from_utf8_lossy(&self.body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            );
        }
        self.json().with_context(|| what.to_owned())
    }
}

/// Bearer-authenticated JSON requests to one server, timed.
#[derive(Clone)]
struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    /// Requests through the same client (and connection pool) as `api`.
    fn new(api: &accounts::Api) -> Self {
        let (client, base) = api.client();
        Self {
            client: client.clone(),
            base: base.to_owned(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request; the time runs from just before the send until the
    /// whole body is read.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Reply> {
        let started = Instant::now();
        let response = request.send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        let elapsed = started.elapsed();
        Ok(Reply {
            status,
            body: body.to_vec(),
            elapsed,
        })
    }

    async fn get(&self, path: &str, token: &str) -> Result<Reply> {
        let request = self.client.get(self.url(path)).bearer_auth(token);
        self.send(request)
            .await
            .with_context(|| format!("GET {path}"))
    }

    async fn json<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: &B,
    ) -> Result<Reply> {
        let request = self
            .client
            .request(method.clone(), self.url(path))
            .bearer_auth(token)
            .json(body);
        self.send(request)
            .await
            .with_context(|| format!("{method} {path}"))
    }
}

// ----------------------------------------------------------- accounts etc.

/// A signed-in benchmark user.
#[derive(Clone, Debug)]
struct User {
    id: UserId,
    token: String,
}

/// The display name of directory doctor `i`: 500 distinct first name and
/// surname pairs, then the same again with a number.
fn doctor_name(i: usize) -> String {
    let first = FIRST_NAMES[i % FIRST_NAMES.len()];
    let surname = SURNAMES[(i / FIRST_NAMES.len()) % SURNAMES.len()];
    let round = i / (FIRST_NAMES.len() * SURNAMES.len());
    if round == 0 {
        format!("{first} {surname}")
    } else {
        format!("{first} {surname} {}", round + 1)
    }
}

fn specialization(i: usize) -> &'static str {
    SPECIALIZATIONS[i % SPECIALIZATIONS.len()]
}

/// A profile open every day from 00:00 to 24:00 UTC in 30-minute slots.
fn around_the_clock(i: usize) -> ProfileDetails {
    let days = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];
    ProfileDetails {
        specialization: specialization(i).to_owned(),
        qualification: "MBBS, MD".to_owned(),
        years_of_experience: (i % 40) as u16,
        bio: format!(
            "Benchmark doctor {i}: {} for adults and children, in person and by video.",
            specialization(i)
        ),
        time_zone: "UTC".to_owned(),
        slot_minutes: 30,
        schedule: days
            .into_iter()
            .map(|day| ScheduleBlock {
                day,
                start: "00:00".to_owned(),
                end: "24:00".to_owned(),
            })
            .collect(),
    }
}

/// Creates one user through the admin API and signs them in.
async fn create_user(
    api: &accounts::Api,
    admin: &str,
    user: NewUser,
    password: &str,
) -> Result<User> {
    let account = api.create_user(admin, &user).await?;
    let tokens = api.login(&user.email, password).await?;
    ensure!(
        tokens.account.id == account.id,
        "login of {} returned another account",
        user.email
    );
    Ok(User {
        id: account.id,
        token: tokens.access_token,
    })
}

/// Runs `f` over `0..n`, `concurrency` at a time, and returns the results
/// in order; the first error ends it.
async fn in_parallel<T, F, Fut>(n: usize, concurrency: usize, what: &str, f: F) -> Result<Vec<T>>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut stream = futures_util::stream::iter(0..n)
        .map(|i| {
            let fut = f(i);
            async move { fut.await.map(|v| (i, v)) }
        })
        .buffer_unordered(concurrency.max(1));
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    let mut done = 0usize;
    let mut last_report = Instant::now();
    while let Some(result) = stream.next().await {
        let (i, v) = result?;
        out[i] = Some(v);
        done += 1;
        if last_report.elapsed() >= Duration::from_secs(2) {
            eprintln!("apptbench: {what} {done}/{n}");
            last_report = Instant::now();
        }
    }
    Ok(out.into_iter().flatten().collect())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The next half-hour boundary after `ms`.
fn next_slot_after(ms: i64) -> i64 {
    (ms / SLOT_MS + 1) * SLOT_MS
}

/// Hands out distinct slots: each doctor's next unused half-hour from a
/// common starting point, so no two requests of the benchmark (outside
/// the contention rounds, which share one on purpose) ask for the same slot.
struct Slots {
    base_ms: i64,
    next: Vec<AtomicU64>,
    round_robin: AtomicU64,
}

impl Slots {
    fn new(base_ms: i64, doctors: usize) -> Self {
        Self {
            base_ms,
            next: (0..doctors).map(|_| AtomicU64::new(0)).collect(),
            round_robin: AtomicU64::new(0),
        }
    }

    /// The next free slot of doctor `d`.
    fn take(&self, d: usize) -> i64 {
        let n = self.next[d].fetch_add(1, Ordering::Relaxed);
        self.base_ms + n as i64 * SLOT_MS
    }

    /// The next doctor of the first `among`, in turn.
    fn next_doctor(&self, among: usize) -> usize {
        (self.round_robin.fetch_add(1, Ordering::Relaxed) % among as u64) as usize
    }
}

fn booking(doctor: UserId, start_ms: i64) -> NewAppointment {
    NewAppointment {
        doctor_id: doctor,
        start_ms,
        mode: Mode::Video,
        reason: "Benchmark booking: follow-up on blood pressure readings".to_owned(),
    }
}

/// Books `start_ms` with `doctor` for `patient`; any reply but a 201 with
/// that slot is an error.
async fn book(http: &Http, patient: &User, doctor: UserId, start_ms: i64) -> Result<Appointment> {
    let reply = http
        .json(
            Method::POST,
            "/api/v1/appointments",
            &patient.token,
            &booking(doctor, start_ms),
        )
        .await?;
    let a: Appointment = reply.expect(StatusCode::CREATED, "booking")?;
    ensure!(a.start_ms == start_ms, "booked another slot than asked");
    Ok(a)
}

// -------------------------------------------------------------- CPU time

/// CPU seconds (user + system) a process has used so far, from
/// `/proc/PID/stat` (clock ticks of 1/100 s, Linux's `USER_HZ`).
fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    parse_cpu_seconds(&std::fs::read_to_string(path).ok()?)
}

/// `utime + stime` of a `/proc/PID/stat` line, in seconds.
fn parse_cpu_seconds(stat: &str) -> Option<f64> {
    // The command name is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3 of the line, utime 14, stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// CPU used by the server and by this process over one phase, in cores
/// (CPU seconds per wall-clock second).
#[derive(Debug, Default, Serialize)]
struct CpuUse {
    server_cores: Option<f64>,
    apptbench_cores: Option<f64>,
}

struct CpuMeter {
    pid: Option<u32>,
    started: Instant,
    server: Option<f64>,
    me: Option<f64>,
}

impl CpuMeter {
    fn start(pid: Option<u32>) -> Self {
        Self {
            pid,
            started: Instant::now(),
            server: pid.and_then(|p| cpu_seconds(Some(p))),
            me: cpu_seconds(None),
        }
    }

    fn stop(&self) -> CpuUse {
        let wall = self.started.elapsed().as_secs_f64().max(1e-9);
        let cores =
            |before: Option<f64>, after: Option<f64>| Some(round3((after? - before?) / wall));
        CpuUse {
            server_cores: cores(self.server, self.pid.and_then(|p| cpu_seconds(Some(p)))),
            apptbench_cores: cores(self.me, cpu_seconds(None)),
        }
    }
}

// ------------------------------------------------------------------ report

#[derive(Debug, Serialize)]
struct SetupReport {
    doctors: usize,
    patients: usize,
    /// Creating and signing in every account.
    accounts_s: f64,
    /// Writing every doctor's profile.
    profiles_s: f64,
    /// Bookings made so that one half-hour has no free doctor.
    blocking_bookings: usize,
}

#[derive(Debug, Serialize)]
struct BookingReport {
    doctors: usize,
    patients: usize,
    warmup_s: f64,
    duration_s: f64,
    /// 201s, warm-up included.
    bookings_total: u64,
    /// 201s that arrived in the measured window, per second.
    bookings_per_s: f64,
    /// `POST /appointments`, send to last byte of the 201, for requests
    /// sent in the measured window.
    latency_ms: LatencySummary,
    errors_total: u64,
    errors: BTreeMap<String, u64>,
    cpu: CpuUse,
}

#[derive(Debug, Serialize)]
struct ContentionReport {
    rounds: usize,
    racers: usize,
    /// Rounds with exactly one 201 and every other reply `409 slot_taken`.
    rounds_ok: usize,
    created_total: u64,
    slot_taken_total: u64,
    other_total: u64,
    /// The first few rounds that went wrong, described.
    violations: Vec<String>,
    /// The winner's 201, one sample per round.
    winner_ms: LatencySummary,
    /// The losers' `409 slot_taken` replies.
    loser_ms: LatencySummary,
    /// From the first request sent to the last reply of a round.
    round_ms: LatencySummary,
}

#[derive(Debug, Serialize)]
struct SyncRun {
    /// `limit` sent, or the server's default (100) when absent.
    page_limit: Option<u32>,
    appointments: usize,
    pages: usize,
    /// Whole catch-up, first request to last page decoded, per run.
    total_ms: Vec<f64>,
    total_ms_median: f64,
    /// One page, send to decoded.
    page_ms: LatencySummary,
}

#[derive(Debug, Serialize)]
struct SyncReport {
    appointments: usize,
    /// Changes behind them: a booking and a confirmation each.
    changes: usize,
    setup_s: f64,
    runs: Vec<SyncRun>,
}

#[derive(Debug, Serialize)]
struct QueryReport {
    name: String,
    /// The query string sent to `GET /api/v1/doctors`.
    query: String,
    /// Doctors on the page returned.
    returned: usize,
    /// Whether another page followed.
    more: bool,
    latency_ms: LatencySummary,
}

#[derive(Debug, Serialize)]
struct DirectoryReport {
    doctors: usize,
    queries: Vec<QueryReport>,
}

#[derive(Debug, Serialize)]
struct Report {
    run_id: String,
    server: String,
    setup: SetupReport,
    booking: Option<BookingReport>,
    contention: Option<ContentionReport>,
    sync: Option<SyncReport>,
    directory: Option<DirectoryReport>,
}

impl Report {
    /// What makes the run a failure (a booking refused, a round without
    /// exactly one winner).
    fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(b) = &self.booking
            && b.errors_total > 0
        {
            out.push(format!(
                "{} bookings failed: {:?}",
                b.errors_total, b.errors
            ));
        }
        if let Some(c) = &self.contention
            && c.rounds_ok != c.rounds
        {
            out.push(format!(
                "{} of {} contention rounds did not have exactly one winner: {:?}",
                c.rounds - c.rounds_ok,
                c.rounds,
                c.violations
            ));
        }
        out
    }
}

fn summary_of(h: &Histogram<u64>) -> LatencySummary {
    LatencySummary::from_us(h)
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = (d.as_micros() as u64).clamp(1, stats::MAX_LATENCY_US);
    h.saturating_record(us);
}

// ------------------------------------------------------------------- main

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads as usize)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("apptbench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(args));
    runtime.shutdown_timeout(Duration::from_secs(2));
    match result {
        Ok(report) => {
            eprintln!("{}", summary(&report));
            match serde_json::to_string(&report) {
                Ok(json) => println!("{json}"),
                Err(e) => {
                    eprintln!("apptbench: cannot encode the report: {e}");
                    return ExitCode::FAILURE;
                }
            }
            let failures = report.failures();
            for f in &failures {
                eprintln!("apptbench: FAILED: {f}");
            }
            if failures.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("apptbench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Everyone the phases need.
struct Cast {
    doctors: Vec<User>,
    patients: Vec<User>,
    sync_patient: User,
    sync_doctor: usize,
}

async fn run(args: Args) -> Result<Report> {
    let doctors = args.doctors as usize;
    let booking_doctors = args.booking_doctors as usize;
    ensure!(
        booking_doctors <= doctors,
        "--booking-doctors ({booking_doctors}) must be at most --doctors ({doctors})"
    );
    let racers = args.racers as usize;
    let patients = (args.patients as usize).max(racers);
    let concurrency = args.setup_concurrency as usize;
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    eprintln!(
        "apptbench: run {run_id}: {doctors} doctors, {patients} patients, server {}",
        args.target.server
    );

    // 0. Setup.
    // Idle connections for every patient in flight at once, and setup's.
    let api = accounts::Api::new(&args.target.server, patients + concurrency)?;
    let http = Http::new(&api);
    let admin = api.admin_login(&args.target).await?;
    let password = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let started = Instant::now();
    let cast = create_cast(
        &api,
        &admin,
        &run_id,
        &password,
        doctors,
        patients,
        concurrency,
    )
    .await?;
    let accounts_s = round3(started.elapsed().as_secs_f64());
    eprintln!(
        "apptbench: {} accounts in {accounts_s:.1} s",
        doctors + patients + 1
    );
    let started = Instant::now();
    in_parallel(doctors, concurrency, "profiles", |i| {
        let (http, admin, doctor) = (&http, &admin, &cast.doctors[i]);
        async move {
            let path = format!("/api/v1/doctors/{}/profile", doctor.id);
            http.json(Method::PUT, &path, admin, &around_the_clock(i))
                .await?
                .expect::<serde_json::Value>(StatusCode::OK, "writing a profile")?;
            Ok(())
        }
    })
    .await?;
    let profiles_s = round3(started.elapsed().as_secs_f64());
    eprintln!("apptbench: {doctors} profiles in {profiles_s:.1} s");

    // The half-hour a day from now: booked at every doctor, so the
    // directory's "free then" query has to look at all of them.
    let now = now_ms();
    let full_slot = next_slot_after(now + DAY_MS);
    in_parallel(doctors, concurrency, "blocking bookings", |i| {
        let (http, cast) = (&http, &cast);
        async move {
            let patient = &cast.patients[i % cast.patients.len()];
            book(http, patient, cast.doctors[i].id, full_slot).await?;
            Ok(())
        }
    })
    .await?;
    let setup = SetupReport {
        doctors,
        patients,
        accounts_s,
        profiles_s,
        blocking_bookings: doctors,
    };
    // Everything else starts two days out.
    let slots = Arc::new(Slots::new(next_slot_after(now + 2 * DAY_MS), doctors));

    let doctor_ids: Arc<Vec<UserId>> = Arc::new(cast.doctors.iter().map(|d| d.id).collect());
    let booking_report = booking_phase(&args, &http, &cast, &doctor_ids, &slots).await?;
    let contention = if args.rounds > 0 {
        Some(contention_phase(&args, &http, &cast, &doctor_ids, &slots).await?)
    } else {
        None
    };
    let sync = if args.sync_appointments > 0 {
        Some(sync_phase(&args, &http, &api, &cast, &run_id, &password, &slots).await?)
    } else {
        None
    };
    let directory = if args.search_repeats > 0 {
        Some(directory_phase(&args, &http, &cast, full_slot).await?)
    } else {
        None
    };
    Ok(Report {
        run_id,
        server: args.target.server.clone(),
        setup,
        booking: Some(booking_report),
        contention,
        sync,
        directory,
    })
}

async fn create_cast(
    api: &accounts::Api,
    admin: &str,
    run_id: &str,
    password: &str,
    doctors: usize,
    patients: usize,
    concurrency: usize,
) -> Result<Cast> {
    let doctor_list = in_parallel(doctors, concurrency, "doctors", |i| {
        let user = NewUser {
            email: format!("bench-{run_id}-doctor-{i}@apptbench.test"),
            password: password.to_owned(),
            display_name: doctor_name(i),
            role: Some(Role::Doctor),
        };
        create_user(api, admin, user, password)
    })
    .await?;
    let mut patient_list = in_parallel(patients + 1, concurrency, "patients", |i| {
        let user = NewUser {
            email: format!("bench-{run_id}-patient-{i}@apptbench.test"),
            password: password.to_owned(),
            display_name: format!("Bench Patient {i}"),
            role: Some(Role::Patient),
        };
        create_user(api, admin, user, password)
    })
    .await?;
    let sync_patient = patient_list.pop().context("no sync patient")?;
    Ok(Cast {
        sync_doctor: doctors - 1,
        doctors: doctor_list,
        patients: patient_list,
        sync_patient,
    })
}

/// What one booking task saw.
struct BookTally {
    latency: Histogram<u64>,
    ok_total: u64,
    ok_in_window: u64,
    errors: BTreeMap<String, u64>,
}

async fn booking_phase(
    args: &Args,
    http: &Http,
    cast: &Cast,
    doctors: &Arc<Vec<UserId>>,
    slots: &Arc<Slots>,
) -> Result<BookingReport> {
    let among = args.booking_doctors as usize;
    let patients = args.patients as usize;
    let warmup = Duration::from_secs_f64(args.book_warmup);
    let duration = Duration::from_secs_f64(args.book_duration);
    eprintln!(
        "apptbench: booking: {patients} patients, {among} doctors, {:.0} s (+{:.0} s warm-up)",
        args.book_duration, args.book_warmup
    );
    let epoch = Instant::now();
    let (from, until) = (epoch + warmup, epoch + warmup + duration);
    let mut tasks = tokio::task::JoinSet::new();
    for patient in cast.patients.iter().take(patients).cloned() {
        let (http, doctors, slots) = (http.clone(), doctors.clone(), slots.clone());
        tasks.spawn(async move {
            let mut t = BookTally {
                latency: latency_histogram(),
                ok_total: 0,
                ok_in_window: 0,
                errors: BTreeMap::new(),
            };
            loop {
                let sent = Instant::now();
                if sent >= until {
                    break;
                }
                let d = slots.next_doctor(among);
                let start_ms = slots.take(d);
                let reply = http
                    .json(
                        Method::POST,
                        "/api/v1/appointments",
                        &patient.token,
                        &booking(doctors[d], start_ms),
                    )
                    .await;
                let done = Instant::now();
                let key = match reply {
                    Ok(r) if r.status == StatusCode::CREATED => match r.json::<Appointment>() {
                        Ok(a) if a.start_ms == start_ms && a.status == Status::Pending => {
                            t.ok_total += 1;
                            if (from..until).contains(&sent) {
                                record(&mut t.latency, r.elapsed);
                            }
                            if (from..until).contains(&done) {
                                t.ok_in_window += 1;
                            }
                            continue;
                        }
                        Ok(_) => "201 with another slot or status".to_owned(),
                        Err(_) => "201 with an undecodable body".to_owned(),
                    },
                    Ok(r) => r.error_key(),
                    Err(e) => {
                        if t.errors.is_empty() {
                            eprintln!("apptbench: booking failed: {e:#}");
                        }
                        "transport error".to_owned()
                    }
                };
                *t.errors.entry(key).or_default() += 1;
            }
            t
        });
    }
    // Time the server's CPU over the measured window only.
    tokio::time::sleep_until(tokio::time::Instant::from_std(from)).await;
    let meter = CpuMeter::start(args.server_pid);
    tokio::time::sleep_until(tokio::time::Instant::from_std(until)).await;
    let cpu = meter.stop();
    let mut latency = latency_histogram();
    let (mut ok_total, mut ok_in_window) = (0, 0);
    let mut errors = BTreeMap::new();
    while let Some(t) = tasks.join_next().await {
        let t = t.context("a booking task panicked")?;
        latency.add(&t.latency).context("merging histograms")?;
        ok_total += t.ok_total;
        ok_in_window += t.ok_in_window;
        for (k, v) in t.errors {
            *errors.entry(k).or_default() += v;
        }
    }
    Ok(BookingReport {
        doctors: among,
        patients,
        warmup_s: args.book_warmup,
        duration_s: args.book_duration,
        bookings_total: ok_total,
        bookings_per_s: round3(ok_in_window as f64 / args.book_duration),
        latency_ms: summary_of(&latency),
        errors_total: errors.values().sum(),
        errors,
        cpu,
    })
}

/// How one racer fared.
struct Race {
    status: StatusCode,
    code: Option<String>,
    sent: Instant,
    elapsed: Duration,
}

async fn contention_phase(
    args: &Args,
    http: &Http,
    cast: &Cast,
    doctors: &Arc<Vec<UserId>>,
    slots: &Arc<Slots>,
) -> Result<ContentionReport> {
    let rounds = args.rounds as usize;
    let racers = args.racers as usize;
    eprintln!("apptbench: contention: {rounds} rounds of {racers} patients on one slot");
    let (mut winner, mut loser, mut round_h) = (
        latency_histogram(),
        latency_histogram(),
        latency_histogram(),
    );
    let (mut created_total, mut taken_total, mut other_total) = (0u64, 0u64, 0u64);
    let mut rounds_ok = 0;
    let mut violations = Vec::new();
    for round in 0..rounds {
        // A doctor the booking phase did not use, when there is one.
        let d = (args.booking_doctors as usize + round) % doctors.len();
        let doctor = doctors[d];
        let start_ms = slots.take(d);
        let barrier = Arc::new(tokio::sync::Barrier::new(racers));
        let mut tasks = tokio::task::JoinSet::new();
        for patient in cast.patients.iter().take(racers).cloned() {
            let (http, barrier) = (http.clone(), barrier.clone());
            tasks.spawn(async move {
                let body = booking(doctor, start_ms);
                let request = http
                    .client
                    .post(http.url("/api/v1/appointments"))
                    .bearer_auth(&patient.token)
                    .json(&body);
                barrier.wait().await;
                let sent = Instant::now();
                let reply = http.send(request).await;
                reply.map(|r| Race {
                    status: r.status,
                    code: r.error_code(),
                    sent,
                    elapsed: r.elapsed,
                })
            });
        }
        let mut results = Vec::with_capacity(racers);
        while let Some(r) = tasks.join_next().await {
            results.push(r.context("a racer panicked")?);
        }
        let (mut created, mut taken, mut other) = (0, 0, Vec::new());
        let mut first_sent = None::<Instant>;
        let mut last_done = None::<Instant>;
        for r in &results {
            match r {
                Ok(race) => {
                    first_sent = Some(first_sent.map_or(race.sent, |f| f.min(race.sent)));
                    let done = race.sent + race.elapsed;
                    last_done = Some(last_done.map_or(done, |l| l.max(done)));
                    if race.status == StatusCode::CREATED {
                        created += 1;
                        record(&mut winner, race.elapsed);
                    } else if race.status == StatusCode::CONFLICT
                        && race.code.as_deref() == Some("slot_taken")
                    {
                        taken += 1;
                        record(&mut loser, race.elapsed);
                    } else {
                        other.push(format!(
                            "HTTP {} {}",
                            race.status.as_u16(),
                            race.code.as_deref().unwrap_or("")
                        ));
                    }
                }
                Err(e) => other.push(format!("transport error: {e:#}")),
            }
        }
        if let (Some(f), Some(l)) = (first_sent, last_done) {
            record(&mut round_h, l - f);
        }
        // The slot must now be taken, by exactly the one winner.
        let path = format!(
            "/api/v1/doctors/{doctor}/slots?from={start_ms}&to={}",
            start_ms + 1
        );
        let listed: Vec<Slot> = http
            .get(&path, &cast.patients[0].token)
            .await?
            .expect(StatusCode::OK, "listing the contended slot")?;
        let still_free = listed.first().is_none_or(|s| s.free);
        created_total += created;
        taken_total += taken;
        other_total += other.len() as u64;
        if created == 1 && taken == racers as u64 - 1 && other.is_empty() && !still_free {
            rounds_ok += 1;
        } else if violations.len() < 5 {
            violations.push(format!(
                "round {round}: {created} created, {taken} slot_taken, others {other:?}, slot still free: {still_free}"
            ));
        }
    }
    Ok(ContentionReport {
        rounds,
        racers,
        rounds_ok,
        created_total,
        slot_taken_total: taken_total,
        other_total,
        violations,
        winner_ms: summary_of(&winner),
        loser_ms: summary_of(&loser),
        round_ms: summary_of(&round_h),
    })
}

async fn sync_phase(
    args: &Args,
    http: &Http,
    api: &accounts::Api,
    cast: &Cast,
    run_id: &str,
    password: &str,
    slots: &Arc<Slots>,
) -> Result<SyncReport> {
    let n = args.sync_appointments as usize;
    let concurrency = args.setup_concurrency as usize;
    let d = cast.sync_doctor;
    eprintln!("apptbench: sync: {n} appointments, booked and confirmed");
    let started = Instant::now();
    let doctor_email = format!("bench-{run_id}-doctor-{d}@apptbench.test");
    let doctor_token = api.login(&doctor_email, password).await?.access_token;
    let patient = &cast.sync_patient;
    let booked: Vec<AppointmentId> = in_parallel(n, concurrency, "sync bookings", |_| {
        let start_ms = slots.take(d);
        let doctor = cast.doctors[d].id;
        async move { Ok(book(http, patient, doctor, start_ms).await?.id) }
    })
    .await?;
    in_parallel(n, concurrency, "confirmations", |i| {
        let (path, token) = (
            format!("/api/v1/appointments/{}/confirm", booked[i]),
            &doctor_token,
        );
        async move {
            let body = serde_json::json!({ "comment": "See you then." });
            let a: Appointment = http
                .json(Method::POST, &path, token, &body)
                .await?
                .expect(StatusCode::OK, "confirming")?;
            ensure!(a.status == Status::Scheduled, "confirm left {:?}", a.status);
            Ok(())
        }
    })
    .await?;
    let setup_s = round3(started.elapsed().as_secs_f64());
    let mut runs = Vec::new();
    for limit in [None, Some(MAX_SYNC_PAGE)] {
        let mut page_h = latency_histogram();
        let mut totals = Vec::new();
        let (mut pages, mut count) = (0, 0);
        for _ in 0..args.sync_runs {
            let t0 = Instant::now();
            let (mut since, mut got, mut p) = (0u64, 0usize, 0usize);
            loop {
                let path = match limit {
                    None => format!("/api/v1/appointments?since={since}"),
                    Some(l) => format!("/api/v1/appointments?since={since}&limit={l}"),
                };
                let page_started = Instant::now();
                let page: AppointmentChanges = http
                    .get(&path, &patient.token)
                    .await?
                    .expect(StatusCode::OK, "syncing")?;
                record(&mut page_h, page_started.elapsed());
                p += 1;
                got += page.appointments.len();
                ensure!(
                    page.appointments
                        .iter()
                        .all(|a| a.status == Status::Scheduled),
                    "the sync returned an appointment that is not scheduled"
                );
                since = page.cursor;
                if !page.more {
                    break;
                }
            }
            totals.push(round3(t0.elapsed().as_secs_f64() * 1000.0));
            ensure!(got == n, "the sync returned {got} appointments, not {n}");
            (pages, count) = (p, got);
        }
        let mut sorted = totals.clone();
        sorted.sort_by(f64::total_cmp);
        runs.push(SyncRun {
            page_limit: limit,
            appointments: count,
            pages,
            total_ms_median: sorted[sorted.len() / 2],
            total_ms: totals,
            page_ms: summary_of(&page_h),
        });
    }
    Ok(SyncReport {
        appointments: n,
        changes: 2 * n,
        setup_s,
        runs,
    })
}

/// The directory queries: a name, a label and the query string.
fn directory_queries(doctors: usize, now: i64, full_slot: i64) -> Vec<(String, String)> {
    let enc = |s: &str| s.replace(' ', "%20");
    let one = doctor_name(doctors / 2);
    let surname = SURNAMES[0];
    let spec = specialization(5);
    let week = (now, now + 7 * DAY_MS);
    let max = (now, now + 62 * DAY_MS);
    let last_page = (doctors.saturating_sub(1) / DIRECTORY_PAGE) * DIRECTORY_PAGE;
    vec![
        ("name, one match".into(), format!("name={}", enc(&one))),
        ("name, a surname".into(), format!("name={surname}")),
        (
            "specialization".into(),
            format!("specialization={}", enc(spec)),
        ),
        ("no filter, first page".into(), String::new()),
        (
            "free in 7 days, first page".into(),
            format!("free_from={}&free_to={}", week.0, week.1),
        ),
        (
            "free in 7 days + specialization".into(),
            format!(
                "specialization={}&free_from={}&free_to={}",
                enc(spec),
                week.0,
                week.1
            ),
        ),
        (
            format!("free in 7 days, last page (offset {last_page})"),
            format!("free_from={}&free_to={}&offset={last_page}", week.0, week.1),
        ),
        (
            format!("free in 62 days, last page (offset {last_page})"),
            format!("free_from={}&free_to={}&offset={last_page}", max.0, max.1),
        ),
        (
            "free in a half-hour booked at every doctor".into(),
            format!("free_from={full_slot}&free_to={}", full_slot + SLOT_MS),
        ),
    ]
}

async fn directory_phase(
    args: &Args,
    http: &Http,
    cast: &Cast,
    full_slot: i64,
) -> Result<DirectoryReport> {
    let doctors = args.doctors as usize;
    let token = &cast.patients[0].token;
    let max_time = Duration::from_secs_f64(args.search_max_seconds);
    eprintln!(
        "apptbench: directory: {doctors} doctors, each query {} times",
        args.search_repeats
    );
    let mut queries = Vec::new();
    for (name, query) in directory_queries(doctors, now_ms(), full_slot) {
        let path = format!("/api/v1/doctors?{query}");
        // One unrecorded request first (prepared statements, pools).
        http.get(&path, token)
            .await?
            .expect::<DoctorPage>(StatusCode::OK, &name)?;
        let mut h = latency_histogram();
        let started = Instant::now();
        let mut last = None;
        for i in 0..args.search_repeats {
            if i >= 3 && started.elapsed() >= max_time {
                break;
            }
            let t0 = Instant::now();
            let page: DoctorPage = http
                .get(&path, token)
                .await?
                .expect(StatusCode::OK, &name)?;
            record(&mut h, t0.elapsed());
            last = Some(page);
        }
        let (returned, more) =
            last.map_or((0, false), |p| (p.doctors.len(), p.next_offset.is_some()));
        let latency_ms = summary_of(&h);
        eprintln!(
            "apptbench: directory: {name}: {returned} doctors{}, p50 {:.2} ms p99 {:.2} ms ({} samples)",
            if more { " (more)" } else { "" },
            latency_ms.p50,
            latency_ms.p99,
            latency_ms.count
        );
        queries.push(QueryReport {
            name,
            query,
            returned,
            more,
            latency_ms,
        });
    }
    Ok(DirectoryReport { doctors, queries })
}

fn summary(r: &Report) -> String {
    let mut out = String::new();
    if let Some(b) = &r.booking {
        out.push_str(&format!(
            "apptbench: booking: {:.0} bookings/s ({} patients, {} doctors), latency p50 {:.2} p95 {:.2} p99 {:.2} max {:.2} ms, errors {}\n",
            b.bookings_per_s,
            b.patients,
            b.doctors,
            b.latency_ms.p50,
            b.latency_ms.p95,
            b.latency_ms.p99,
            b.latency_ms.max,
            b.errors_total
        ));
    }
    if let Some(c) = &r.contention {
        out.push_str(&format!(
            "apptbench: contention: {}/{} rounds with one winner; winner p50 {:.2} p99 {:.2} ms; slot_taken p50 {:.2} p99 {:.2} ms; round p50 {:.2} ms\n",
            c.rounds_ok,
            c.rounds,
            c.winner_ms.p50,
            c.winner_ms.p99,
            c.loser_ms.p50,
            c.loser_ms.p99,
            c.round_ms.p50
        ));
    }
    if let Some(s) = &r.sync {
        for run in &s.runs {
            out.push_str(&format!(
                "apptbench: sync: {} appointments ({} changes), limit {}: {} pages in {:.1} ms (median of {})\n",
                run.appointments,
                s.changes,
                run.page_limit.map_or("default".to_owned(), |l| l.to_string()),
                run.pages,
                run.total_ms_median,
                run.total_ms.len()
            ));
        }
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doctor_names_are_distinct() {
        let names: std::collections::HashSet<String> = (0..1200).map(doctor_name).collect();
        assert_eq!(names.len(), 1200);
        assert_eq!(doctor_name(0), "Amelia Abbott");
        assert_eq!(doctor_name(26), "Bruno Bauer");
        assert_eq!(doctor_name(500), "Amelia Abbott 2");
    }

    #[test]
    fn profiles_are_valid_and_open_all_week() {
        let p = around_the_clock(3);
        p.validate().unwrap();
        assert_eq!(p.schedule.len(), 7);
        assert_eq!(p.time_zone, "UTC");
    }

    #[test]
    fn slots_are_distinct_half_hours() {
        let base = next_slot_after(1_000);
        assert_eq!(base % SLOT_MS, 0);
        assert!(base > 1_000);
        assert_eq!(next_slot_after(SLOT_MS), 2 * SLOT_MS);
        let s = Slots::new(base, 3);
        assert_eq!(s.take(1), base);
        assert_eq!(s.take(1), base + SLOT_MS);
        assert_eq!(s.take(0), base);
        let turns: Vec<usize> = (0..4).map(|_| s.next_doctor(3)).collect();
        assert_eq!(turns, [0, 1, 2, 0]);
    }

    #[test]
    fn reads_cpu_time_from_proc_stat() {
        let line = "1234 (signaling serv) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 50 0 0 20 0 9 0 100 1000 200";
        assert_eq!(parse_cpu_seconds(line), Some(3.0));
        assert!(cpu_seconds(None).is_some());
    }

    #[test]
    fn queries_cover_the_last_page() {
        let q = directory_queries(500, 0, SLOT_MS);
        assert_eq!(q.len(), 9);
        assert!(q[6].1.ends_with("&offset=480"), "{q:?}");
        assert_eq!(
            q[0].1,
            format!("name={}", doctor_name(250).replace(' ', "%20"))
        );
        assert!(q[8].1.contains(&format!("free_to={}", 2 * SLOT_MS)));
    }

    #[test]
    fn cli_help_is_consistent() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }
}
