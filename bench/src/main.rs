//! `loadgen`: the load generator of the signaling relay benchmark.
//!
//! It runs as its own process against a running `signaling-server` (usually
//! started by `cargo xtask bench signaling`):
//!
//! 1. logs in as an admin and creates N/2 doctors and N/2 patients (emails
//!    carry a run id, so runs never collide), then logs each of them in;
//! 2. samples the server's RSS (baseline), opens N WebSockets and greets
//!    (`hello`/`welcome`), waits, and samples again: the difference over N is
//!    the server's memory per idle connection;
//! 3. each patient invites its doctor, the doctor accepts;
//! 4. every client sends ICE-candidate-sized `signal` messages to its
//!    partner, all together at `--rate` per second, spread evenly (each
//!    client every N/rate seconds at its own random phase); after
//!    `--warmup` seconds, `--duration` seconds are measured;
//! 5. waits for in-flight signals (`--drain`), hangs up, closes, and prints
//!    one JSON report on stdout and a summary on stderr.
//!
//! Latency is timed in this process: each candidate line carries the time
//! its send was *scheduled* and the time it was written, as nanoseconds since
//! a process-wide epoch, and the partner's task reads them back on receipt.
//! The headline figure (`latency_ms`) is measured from the scheduled time: a
//! send delayed by a stalled server or generator counts its full delay, so
//! there is no coordinated omission (it also includes tokio's ~1 ms timer
//! granularity). `latency_from_send_ms` is measured from the write and
//! shows the relay alone.

mod accounts;
mod client;
mod stats;

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use client::{ClientSpec, LoadPlan, Phase, Shared, lock};
use clinicall_protocol::Role;
use serde::Serialize;
use stats::{LatencySummary, parse_non_negative, parse_positive};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Load generator for Clinicall's signaling relay benchmark.
///
/// Creates N users, opens N WebSockets to the server in N/2 doctor-patient
/// calls, relays timestamped ICE candidates between the partners at a fixed
/// total rate, and prints relay latency, throughput and server memory as
/// one JSON object on stdout (a human summary goes to stderr).
///
/// Latency (`latency_ms`) is measured from each message's scheduled send
/// time, so a stalled server or generator is counted in full (no coordinated
/// omission; it includes ~1 ms of timer granularity); `latency_from_send_ms`
/// is measured from the actual write.
#[derive(Parser, Debug)]
#[command(name = "loadgen", version)]
struct Args {
    #[command(flatten)]
    target: accounts::Target,

    /// Number of WebSocket clients; must be even: N/2 doctors and N/2
    /// patients, each patient in one call with one doctor.
    #[arg(long, default_value_t = 1000, value_parser = parse_clients)]
    clients: usize,

    /// Signal messages per second across all clients together. Each client
    /// sends every clients/rate seconds.
    #[arg(long, default_value_t = 5000.0, value_parser = parse_positive)]
    rate: f64,

    /// Seconds of measured load (after the warmup).
    #[arg(long, default_value_t = 20.0, value_parser = parse_positive)]
    duration: f64,

    /// Seconds of load before measuring starts; not recorded.
    #[arg(long, default_value_t = 5.0, value_parser = parse_non_negative)]
    warmup: f64,

    /// PID of the server process. When given, its resident memory (VmRSS in
    /// /proc/PID/status) is sampled before connecting, with all connections
    /// idle, and under load; it must run on this machine.
    #[arg(long)]
    server_pid: Option<u32>,

    /// Most account creations, logins, WebSocket handshakes in flight at
    /// once.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,

    /// Seconds to wait with all connections open and idle before sampling
    /// the server's idle memory.
    #[arg(long, default_value_t = 2.0, value_parser = parse_non_negative)]
    idle_settle: f64,

    /// Most seconds to wait after the last send for signals still in
    /// flight; whatever has not arrived then counts as lost.
    #[arg(long, default_value_t = 5.0, value_parser = parse_non_negative)]
    drain: f64,

    /// Most seconds each setup step (accounts, connecting, calls) may take
    /// before the run is abandoned.
    #[arg(long, default_value_t = 300.0, value_parser = parse_positive)]
    phase_timeout: f64,

    /// Also record each doctor as looking after their patient
    /// (`POST /api/v1/admin/care-relations`). Needed when the server runs
    /// with `presence.patients_see_all_doctors = false`, where patients can
    /// only see and call their own doctors.
    #[arg(long)]
    care_relations: bool,

    /// Tokio worker threads for this process (default: one per CPU). The
    /// generator shares the machine with the server; fewer threads leave
    /// the server more room.
    #[arg(long)]
    threads: Option<usize>,
}

fn parse_clients(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|e| format!("{e}"))?;
    if n < 2 || !n.is_multiple_of(2) {
        return Err("must be an even number of at least 2".into());
    }
    Ok(n)
}

/// Server memory samples, KiB.
#[derive(Debug, Default, Serialize)]
struct ServerRss {
    /// After the accounts exist, before any WebSocket.
    baseline_kib: Option<u64>,
    /// With all connections open and idle.
    idle_kib: Option<u64>,
    /// At the end of the measured window.
    under_load_kib: Option<u64>,
    /// Highest sample during the load phase (one per second).
    peak_under_load_kib: Option<u64>,
}

/// Seconds each setup step took.
#[derive(Debug, Default, Serialize)]
struct SetupTimes {
    accounts_s: f64,
    connect_s: f64,
    calls_s: f64,
}

/// The JSON report.
#[derive(Debug, Serialize)]
struct Report {
    run_id: String,
    server: String,
    clients: usize,
    calls: usize,
    target_rate_msgs_per_s: f64,
    warmup_s: f64,
    duration_s: f64,
    /// Sends whose write time fell in the measured window, per second.
    sent_msgs_per_s: f64,
    /// Receipts whose arrival fell in the measured window, per second.
    received_msgs_per_s: f64,
    sent_total: u64,
    received_total: u64,
    /// Sent but not received once the drain wait was over.
    lost: u64,
    out_of_order: u64,
    /// From the scheduled send time (no coordinated omission).
    latency_ms: LatencySummary,
    /// From the actual write.
    latency_from_send_ms: LatencySummary,
    server_rss: ServerRss,
    /// (idle - baseline) / clients, in bytes.
    bytes_per_idle_connection: Option<u64>,
    loadgen_rss_kib: Option<u64>,
    errors_total: u64,
    errors: BTreeMap<String, u64>,
    setup: SetupTimes,
    nofile_limit: Option<u64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let nofile = rlimit::increase_nofile_limit(u64::MAX).ok();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        builder.worker_threads(threads.max(1));
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadgen: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(args, nofile));
    // Tasks still running (only after an error) are dropped, not awaited.
    runtime.shutdown_timeout(Duration::from_secs(2));
    match result {
        Ok(report) => {
            eprintln!("{}", summary(&report));
            match serde_json::to_string(&report) {
                Ok(json) => {
                    println!("{json}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("loadgen: cannot encode the report: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("loadgen: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args, nofile: Option<u64>) -> Result<Report> {
    let ws_url = stats::ws_url(&args.target.server).map_err(anyhow::Error::msg)?;
    let needed_fds = args.clients as u64 + 64;
    if let Some(limit) = nofile {
        ensure!(
            limit >= needed_fds,
            "{} clients need about {needed_fds} file descriptors; the limit is {limit}",
            args.clients
        );
    }
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let pairs = args.clients / 2;
    let phase_timeout = Duration::from_secs_f64(args.phase_timeout);
    eprintln!(
        "loadgen: run {run_id}: {} clients ({pairs} calls), {} msg/s total, warmup {} s, measure {} s, server {}",
        args.clients, args.rate, args.warmup, args.duration, args.target.server
    );

    // 1. Accounts.
    let started = Instant::now();
    let api = accounts::Api::new(&args.target.server, args.connect_concurrency)?;
    let admin = api.admin_login(&args.target).await?;
    let creds = tokio::time::timeout(
        phase_timeout,
        accounts::provision(
            &api,
            &admin,
            &run_id,
            pairs,
            args.connect_concurrency,
            args.care_relations,
        ),
    )
    .await
    .context("creating accounts took longer than --phase-timeout")??;
    let mut setup = SetupTimes {
        accounts_s: stats::round3(started.elapsed().as_secs_f64()),
        ..SetupTimes::default()
    };
    eprintln!(
        "loadgen: {} accounts ready in {:.1} s",
        creds.len(),
        setup.accounts_s
    );

    // 2. Connections.
    let mut rss = ServerRss {
        baseline_kib: args.server_pid.and_then(|pid| stats::rss_kib(Some(pid))),
        ..ServerRss::default()
    };
    if args.server_pid.is_some() && rss.baseline_kib.is_none() {
        bail!(
            "cannot read /proc/{}/status: is --server-pid right?",
            args.server_pid.unwrap_or_default()
        );
    }
    let shared = Arc::new(Shared::new(args.connect_concurrency));
    let (phase_tx, phase_rx) = watch::channel(Phase::Connect);
    let seed = u64::from_str_radix(&run_id, 16).unwrap_or(1);
    let mut tasks = tokio::task::JoinSet::new();
    for (index, me) in creds.iter().enumerate() {
        let partner = &creds[index ^ 1];
        let spec = ClientSpec {
            index,
            role: if index.is_multiple_of(2) {
                Role::Doctor
            } else {
                Role::Patient
            },
            token: me.token.clone(),
            partner: partner.id,
            schedule: stats::schedule_for(index, args.clients, args.rate, seed),
            url: ws_url.clone(),
        };
        tasks.spawn(client::run(spec, shared.clone(), phase_rx.clone()));
    }
    drop(phase_rx);
    let connect_started = Instant::now();
    wait_for(
        &shared,
        "connected",
        |s| s.connected.load(Ordering::Relaxed),
        args.clients,
        phase_timeout,
    )
    .await?;
    setup.connect_s = stats::round3(connect_started.elapsed().as_secs_f64());
    eprintln!(
        "loadgen: {} connections open in {:.1} s",
        args.clients, setup.connect_s
    );
    tokio::time::sleep(Duration::from_secs_f64(args.idle_settle)).await;
    rss.idle_kib = args.server_pid.and_then(|pid| stats::rss_kib(Some(pid)));

    // 3. Calls.
    let calls_started = Instant::now();
    phase_tx.send_replace(Phase::Call);
    wait_for(
        &shared,
        "in a call",
        |s| s.in_call.load(Ordering::Relaxed),
        args.clients,
        phase_timeout,
    )
    .await?;
    setup.calls_s = stats::round3(calls_started.elapsed().as_secs_f64());
    eprintln!("loadgen: {pairs} calls up in {:.1} s", setup.calls_s);

    // 4. Load.
    let start_ns = shared.now_ns() + 200_000_000;
    let window_start_ns = start_ns + secs_to_ns(args.warmup);
    let plan = LoadPlan {
        start_ns,
        window_start_ns,
        window_end_ns: window_start_ns + secs_to_ns(args.duration),
    };
    phase_tx.send_replace(Phase::Load(plan));
    eprintln!(
        "loadgen: sending; measuring from {:.1} s for {} s",
        args.warmup + 0.2,
        args.duration
    );
    let window_end = shared.instant_at(plan.window_end_ns);
    let mut peak = None::<u64>;
    loop {
        let now = Instant::now();
        if now >= window_end {
            break;
        }
        let step = (window_end - now).min(Duration::from_secs(1));
        tokio::time::sleep(step).await;
        check_failures(&shared)?;
        if let Some(kib) = args.server_pid.and_then(|pid| stats::rss_kib(Some(pid))) {
            peak = peak.max(Some(kib));
            rss.under_load_kib = Some(kib);
        }
        if Instant::now() + Duration::from_millis(500) < window_end {
            eprintln!(
                "loadgen: sent {} received {}",
                shared.sent_total.load(Ordering::Relaxed),
                shared.received_total.load(Ordering::Relaxed)
            );
        }
    }
    rss.peak_under_load_kib = peak;
    let loadgen_rss_kib = stats::rss_kib(None);

    // 5. Drain, hang up, close.
    let drain_deadline = Instant::now() + Duration::from_secs_f64(args.drain);
    tokio::time::sleep(Duration::from_millis(50)).await;
    while Instant::now() < drain_deadline
        && shared.received_total.load(Ordering::Relaxed) < shared.sent_total.load(Ordering::Relaxed)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent_total = shared.sent_total.load(Ordering::Relaxed);
    let received_total = shared.received_total.load(Ordering::Relaxed);
    shared.finishing.store(true, Ordering::Relaxed);
    phase_tx.send_replace(Phase::Finish);
    let all_closed = tokio::time::timeout(Duration::from_secs(15), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if all_closed.is_err() {
        eprintln!(
            "loadgen: {} clients did not close in time; dropping them",
            tasks.len()
        );
        tasks.abort_all();
    }

    let errors = lock(&shared.errors).clone();
    let per_s = |n: u64| stats::round3(n as f64 / args.duration);
    Ok(Report {
        run_id,
        server: args.target.server,
        clients: args.clients,
        calls: pairs,
        target_rate_msgs_per_s: args.rate,
        warmup_s: args.warmup,
        duration_s: args.duration,
        sent_msgs_per_s: per_s(shared.sent_in_window.load(Ordering::Relaxed)),
        received_msgs_per_s: per_s(shared.received_in_window.load(Ordering::Relaxed)),
        sent_total,
        received_total,
        lost: sent_total.saturating_sub(received_total),
        out_of_order: shared.out_of_order.load(Ordering::Relaxed),
        latency_ms: LatencySummary::from_us(&lock(&shared.latency_scheduled)),
        latency_from_send_ms: LatencySummary::from_us(&lock(&shared.latency_sent)),
        bytes_per_idle_connection: match (rss.baseline_kib, rss.idle_kib) {
            (Some(base), Some(idle)) => {
                Some(idle.saturating_sub(base) * 1024 / args.clients as u64)
            }
            _ => None,
        },
        server_rss: rss,
        loadgen_rss_kib,
        errors_total: errors.values().sum(),
        errors,
        setup,
        nofile_limit: nofile,
    })
}

fn secs_to_ns(secs: f64) -> u64 {
    (secs * 1e9).round() as u64
}

/// Fails the run if any client gave up.
fn check_failures(shared: &Shared) -> Result<()> {
    let failed = shared.failed.load(Ordering::Relaxed);
    if failed > 0 {
        let first = lock(&shared.first_failure).clone().unwrap_or_default();
        bail!("{failed} clients failed; first: {first}");
    }
    Ok(())
}

/// Waits until `count` reaches `target`, failing on any client failure or
/// after `timeout`; prints progress every two seconds.
async fn wait_for(
    shared: &Shared,
    what: &str,
    count: impl Fn(&Shared) -> usize,
    target: usize,
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut next_report = Instant::now() + Duration::from_secs(2);
    loop {
        check_failures(shared)?;
        let n = count(shared);
        if n >= target {
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline {
            bail!("only {n} of {target} clients {what} after {timeout:?}");
        }
        if now >= next_report {
            eprintln!("loadgen: {n}/{target} {what}");
            next_report = now + Duration::from_secs(2);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn summary(r: &Report) -> String {
    let kib = |v: Option<u64>| {
        v.map_or("n/a".to_owned(), |k| {
            format!("{:.1} MiB", k as f64 / 1024.0)
        })
    };
    format!(
        "loadgen: {clients} clients, target {rate} msg/s: sent {sent:.0}/s, received {recv:.0}/s, lost {lost}, out of order {ooo}\n\
         loadgen: latency from scheduled send (ms): p50 {p50} p90 {p90} p99 {p99} p99.9 {p999} max {max} ({n} samples)\n\
         loadgen: latency from actual send (ms):    p50 {sp50} p99 {sp99} max {smax}\n\
         loadgen: server RSS: baseline {base}, idle {idle}, under load {load} (peak {peak}); per idle connection {per} bytes\n\
         loadgen: errors {errs} {errors:?}",
        clients = r.clients,
        rate = r.target_rate_msgs_per_s,
        sent = r.sent_msgs_per_s,
        recv = r.received_msgs_per_s,
        lost = r.lost,
        ooo = r.out_of_order,
        p50 = r.latency_ms.p50,
        p90 = r.latency_ms.p90,
        p99 = r.latency_ms.p99,
        p999 = r.latency_ms.p999,
        max = r.latency_ms.max,
        n = r.latency_ms.count,
        sp50 = r.latency_from_send_ms.p50,
        sp99 = r.latency_from_send_ms.p99,
        smax = r.latency_from_send_ms.max,
        base = kib(r.server_rss.baseline_kib),
        idle = kib(r.server_rss.idle_kib),
        load = kib(r.server_rss.under_load_kib),
        peak = kib(r.server_rss.peak_under_load_kib),
        per = r
            .bytes_per_idle_connection
            .map_or("n/a".to_owned(), |b| b.to_string()),
        errs = r.errors_total,
        errors = r.errors,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_rejects_odd_client_counts_and_bad_rates() {
        let base = [
            "loadgen",
            "--admin-email",
            "a@b.test",
            "--admin-password",
            "x",
        ];
        let parse = |extra: &[&str]| Args::try_parse_from(base.iter().chain(extra).copied());
        assert_eq!(parse(&["--clients", "5000"]).unwrap().clients, 5000);
        assert!(parse(&["--clients", "999"]).is_err());
        assert!(parse(&["--clients", "0"]).is_err());
        assert!(parse(&["--rate", "0"]).is_err());
        assert!(parse(&["--warmup", "-1"]).is_err());
        assert_eq!(parse(&["--warmup", "0"]).unwrap().warmup, 0.0);
    }

    #[test]
    fn cli_help_is_consistent() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }
}
