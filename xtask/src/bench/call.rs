//! `cargo xtask bench call`: the call engine measured with two real
//! headless clients on loopback, against a fresh local server.
//!
//! 1. **Setup time**: N calls in a row, 1 s each, at 640x480. Each side
//!    reports `setup_ms` (from accepting the call to its first decoded
//!    remote frame) in its `media_summary`.
//! 2. **Capture-to-decode latency**: one 12 s call at 640x480 and one at
//!    1280x720 (30 fps). The sender stamps its wall-clock capture time into
//!    each frame; the receiver reads it back after decoding.
//! 3. **CPU**: during the 1280x720 call, utime + stime of each client
//!    process from `/proc/PID/stat` over 8 s in the middle of the call.
//! 4. **Memory over many calls**: M calls in a row; each client prints its
//!    RSS, open fds, threads and tasks after every call (once the call's
//!    media has been released). Growth is after call M minus after call 1.

use crate::bench::machine_info;
use crate::headless::{
    CallResult, CallRun, ClientSpec, Event, MediaSummary, Observer, Pids, Resources, Side,
    SideResult,
};
use crate::server::{ServerProcess, free_port, isolated_server_command};
use crate::{bin, build_bins, setup, step, workspace_root};
use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Targets from the call-engine issue.
const TARGET_SETUP_MS: f64 = 100.0;
const TARGET_LATENCY_720P_MS: f64 = 30.0;
const TARGET_CORES: f64 = 1.0;
const TARGET_RSS_GROWTH_MB: f64 = 5.0;

/// Length of each latency call.
const LATENCY_CALL_SECONDS: u64 = 12;
/// The CPU window inside the 1280x720 call, from its connection.
const CPU_FROM: Duration = Duration::from_secs(2);
const CPU_TO: Duration = Duration::from_secs(10);
/// Stats lines averaged for "received frame rate" (the call's last seconds).
const LAST_STATS: usize = 3;
const FPS: u32 = 30;
const VGA: (u32, u32) = (640, 480);
const HD: (u32, u32) = (1280, 720);

const DOCTOR: (&str, &str) = ("doctor@demo.clinicall", "demo-doctor-1");
const PATIENT: (&str, &str) = ("patient@demo.clinicall", "demo-patient-1");
const PATIENT_NAME: &str = "Pat Patient";

#[derive(Args, Debug)]
pub struct CallArgs {
    /// Calls in a row for the setup-time figures.
    #[arg(long, default_value_t = 20)]
    calls: u32,
    /// Calls in a row for the memory-growth figures.
    #[arg(long, default_value_t = 50)]
    rss_calls: u32,
    /// Leave out the memory-growth run (the longest part).
    #[arg(long)]
    skip_rss: bool,
    /// Where to write the JSON report (default: bench/call.json in the
    /// cargo target directory).
    #[arg(long)]
    json_out: Option<PathBuf>,
}

/// One part's figures, or why it has none.
type Part = Result<Value>;

pub fn call(args: CallArgs) -> Result<()> {
    if args.calls == 0 {
        bail!("--calls must be at least 1");
    }
    if !args.skip_rss && args.rss_calls < 2 {
        bail!("--rss-calls must be at least 2 (growth is call M against call 1)");
    }
    step("setup");
    setup::ensure(&["build", "codecs"])?;
    step("building signaling-server and clinicall-headless (release)");
    let server = bin(
        &build_bins(true, &["clinicall-signaling-server"])?,
        "signaling-server",
    )?
    .clone();
    let headless = bin(
        &build_bins(true, &["clinicall-headless"])?,
        "clinicall-headless",
    )?
    .clone();

    let dir = std::env::temp_dir().join(format!("clinicall-bench-call-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let mut process = start_server(&server, addr, &dir)?;
    eprintln!("xtask: server pid {} ready on {addr}", process.id());
    let bench = Bench {
        headless: &headless,
        server_url: format!("http://{addr}"),
        dir: &dir,
        clk_tck: clock_ticks_per_second(),
    };

    step(&format!(
        "call setup: {} calls of 1 s at 640x480",
        args.calls
    ));
    let setup = bench.setup_time(args.calls);
    step(&format!(
        "latency: one {LATENCY_CALL_SECONDS} s call at 640x480"
    ));
    let vga = bench.latency(VGA, false);
    step(&format!(
        "latency and CPU: one {LATENCY_CALL_SECONDS} s call at 1280x720"
    ));
    let hd = bench.latency(HD, true);
    let rss = if args.skip_rss {
        Err(anyhow::anyhow!("skipped (--skip-rss)"))
    } else {
        step(&format!(
            "memory: {} calls of 1 s at 640x480",
            args.rss_calls
        ));
        bench.rss(args.rss_calls)
    };
    let server_exited = process.exited();
    process.stop();

    let machine = machine_info();
    let report = report_json(&machine, bench.clk_tck, &setup, &[&vga, &hd], &rss);
    println!("{machine}");
    println!("{}", tables(&setup, &[&vga, &hd], &rss));
    let verdicts = verdicts(&report);
    for line in &verdicts {
        println!("{line}");
    }
    let json_path = args.json_out.unwrap_or_else(default_json_path);
    if let Some(parent) = json_path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(&json_path, format!("{report:#}\n"))
        .with_context(|| format!("writing {}", json_path.display()))?;
    eprintln!("xtask: report written to {}", json_path.display());

    if let Some(status) = server_exited {
        bail!(
            "the server exited during the benchmark ({status}); its log is in {}",
            dir.display()
        );
    }
    let mut failed: Vec<String> = Vec::new();
    for (name, part) in [("setup", &setup), ("640x480", &vga), ("1280x720", &hd)] {
        if let Err(e) = part {
            failed.push(format!("{name}: {e:#}"));
        }
    }
    if let (false, Err(e)) = (args.skip_rss, &rss) {
        failed.push(format!("memory: {e:#}"));
    }
    if !failed.is_empty() {
        bail!(
            "{} part(s) failed; client logs are in {}:\n  {}",
            failed.len(),
            dir.display(),
            failed.join("\n  ")
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A fresh server with demo accounts in `dir`, ready on `addr`.
fn start_server(server: &Path, addr: SocketAddr, dir: &Path) -> Result<ServerProcess> {
    let log_path = dir.join("server.log");
    let mut cmd = isolated_server_command(server, &log_path)?;
    cmd.args(["serve", "--demo"]);
    cmd.env("CLINICALL_SERVER__LISTEN", addr.to_string())
        .env("CLINICALL_STORAGE__DATABASE", dir.join("server.sqlite3"));
    let mut process = ServerProcess::spawn(cmd, &server.display().to_string())?;
    process
        .wait_ready(addr, Duration::from_secs(60))
        .with_context(|| format!("server log: {}", log_path.display()))?;
    Ok(process)
}

/// `bench/call.json` in the cargo target directory.
fn default_json_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from);
    target.join("bench").join("call.json")
}

/// Clock ticks per second for `/proc/PID/stat` (`getconf CLK_TCK`; 100,
/// Linux's value everywhere we run, if getconf is missing).
fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .filter(|t: &f64| *t > 0.0)
        .unwrap_or(100.0)
}

/// utime + stime, in clock ticks, from a `/proc/PID/stat` text. The
/// command name (field 2) may hold spaces and parentheses, so fields are
/// counted after its closing parenthesis: state is field 3, utime 14,
/// stime 15.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

fn read_cpu_ticks(pid: u32) -> Option<u64> {
    cpu_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Percentile `p` (0..=1) of sorted values, interpolating linearly between
/// the closest ranks (so the median of an even count is the mean of the
/// middle two).
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = p.clamp(0.0, 1.0) * last as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64))
}

/// Median, p95, min and max of some samples, as JSON (`null` if none).
fn spread(values: &[f64]) -> Value {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return Value::Null;
    }
    json!({
        "n": sorted.len(),
        "median": round2(percentile(&sorted, 0.5)),
        "p95": round2(percentile(&sorted, 0.95)),
        "min": round2(sorted.first().copied()),
        "max": round2(sorted.last().copied()),
    })
}

fn round2(x: Option<f64>) -> Option<f64> {
    x.map(|x| (x * 100.0).round() / 100.0)
}

/// The mean received frame rate of the last few stats lines that had video.
fn recent_frame_rate(stats: &[crate::headless::Stats]) -> Option<f64> {
    let recent: Vec<f64> = stats
        .iter()
        .filter(|s| s.frames_decoded > 0)
        .rev()
        .take(LAST_STATS)
        .map(|s| s.received_frame_rate)
        .collect();
    (!recent.is_empty()).then(|| recent.iter().sum::<f64>() / recent.len() as f64)
}

struct Bench<'a> {
    headless: &'a Path,
    server_url: String,
    dir: &'a Path,
    clk_tck: f64,
}

impl Bench<'_> {
    /// Doctor calls patient `calls` times for `seconds` each.
    fn call_run<'a>(
        &'a self,
        name: &'a str,
        size: (u32, u32),
        calls: u32,
        seconds: u64,
    ) -> CallRun<'a> {
        let spec = |label, (email, password): (&str, &str), args: Vec<String>| ClientSpec {
            label,
            email: email.into(),
            password: password.into(),
            video_size: size,
            fps: FPS,
            args,
        };
        let calls_arg = calls.to_string();
        CallRun {
            headless: self.headless,
            server_url: self.server_url.clone(),
            caller: spec(
                "doctor",
                DOCTOR,
                vec![
                    "--call-name".into(),
                    PATIENT_NAME.into(),
                    "--hang-up-after".into(),
                    seconds.to_string(),
                    "--calls".into(),
                    calls_arg.clone(),
                ],
            ),
            callee: spec(
                "patient",
                PATIENT,
                vec!["--answer".into(), "--calls".into(), calls_arg],
            ),
            name,
            log_dir: self.dir,
            // Generous: sign-in, then per call setup, the call and teardown.
            timeout_s: 60 + u64::from(calls) * (seconds + 10),
            stop: None,
        }
    }

    fn setup_time(&self, calls: u32) -> Part {
        let result = self
            .call_run("setup", VGA, calls, 1)
            .run(&mut Progress::default())?;
        check(&result, calls)?;
        let setup =
            |s: &[MediaSummary]| -> Vec<f64> { s.iter().filter_map(|m| m.setup_ms).collect() };
        let (caller, callee) = (
            setup(&result.caller.summaries),
            setup(&result.callee.summaries),
        );
        let both: Vec<f64> = caller.iter().chain(&callee).copied().collect();
        let missing = 2 * calls as usize - both.len();
        Ok(json!({
            "calls": calls,
            "size": "640x480",
            "caller": spread(&caller),
            "callee": spread(&callee),
            "both": spread(&both),
            "calls_without_video": missing,
            "samples_ms": {"caller": caller, "callee": callee},
        }))
    }

    fn latency(&self, size: (u32, u32), sample_cpu: bool) -> Part {
        let mut cpu = CpuSampler::new(self.clk_tck, sample_cpu);
        let name = format!("latency-{}x{}", size.0, size.1);
        let result = self
            .call_run(&name, size, 1, LATENCY_CALL_SECONDS)
            .run(&mut cpu)?;
        check(&result, 1)?;
        // Each side's summary is what it received: the other direction.
        let direction = |side: &SideResult, from: &str| -> Value {
            let Some(m) = side.summaries.first() else {
                return Value::Null;
            };
            let span = match (m.first_counter, m.last_counter) {
                (Some(a), Some(b)) if b >= a => Some(b - a + 1),
                _ => None,
            };
            json!({
                "direction": format!("{from} → {}", side.label),
                "latency_ms": {"p50": m.latency_p50_ms, "p95": m.latency_p95_ms, "max": m.latency_max_ms},
                "frames_decoded": m.frames_decoded,
                "frames_sent_in_span": span,
                "frames_nominal": u64::from(FPS) * LATENCY_CALL_SECONDS,
                "counter_regressions": m.counter_regressions,
                "received_fps_last_seconds": round2(recent_frame_rate(&side.stats)),
                "width": m.width,
                "height": m.height,
                "setup_ms": m.setup_ms,
            })
        };
        let mut out = json!({
            "size": format!("{}x{}", size.0, size.1),
            "fps": FPS,
            "seconds": LATENCY_CALL_SECONDS,
            "directions": [
                direction(&result.callee, result.caller.label),
                direction(&result.caller, result.callee.label),
            ],
        });
        if sample_cpu {
            out["cpu"] = match cpu.cores {
                Some((caller, callee, window)) => json!({
                    "caller_cores": round2(Some(caller)),
                    "callee_cores": round2(Some(callee)),
                    "window_s": round2(Some(window)),
                    "clk_tck": self.clk_tck,
                }),
                None => Value::Null,
            };
        }
        Ok(out)
    }

    fn rss(&self, calls: u32) -> Part {
        let result = self
            .call_run("rss", VGA, calls, 1)
            .run(&mut Progress::default())?;
        check(&result, calls)?;
        Ok(json!({
            "calls": calls,
            "size": "640x480",
            "caller": resources_report(&result.caller, calls),
            "callee": resources_report(&result.callee, calls),
        }))
    }
}

/// One client's resources before its calls, after call 1 and after call
/// `calls`, and the RSS growth between the last two. Also the growth over
/// the second half of the calls alone: a leak keeps growing there, while
/// memory an allocator keeps for reuse stops growing after a few calls.
fn resources_report(s: &SideResult, calls: u32) -> Value {
    let after = |n: u32| {
        s.resources
            .iter()
            .rev()
            .find(|(k, _)| *k == n)
            .map(|(_, r)| *r)
    };
    let r = |r: Option<Resources>| match r {
        Some(r) => json!({
            "rss_kb": r.rss_kb, "open_fds": r.open_fds,
            "threads": r.threads, "tasks": r.tasks,
        }),
        None => Value::Null,
    };
    let (first, middle, last) = (after(1), after(calls.div_ceil(2)), after(calls));
    let growth_mb = |from: Option<Resources>| match (from, last) {
        (Some(a), Some(b)) => Some((b.rss_kb as f64 - a.rss_kb as f64) * 1024.0 / 1e6),
        _ => None,
    };
    json!({
        "label": s.label,
        "before_calls": r(after(0)),
        "after_first": r(first),
        "after_last": r(last),
        "calls": s.calls_ended,
        "rss_growth_mb": round2(growth_mb(first)),
        "middle_call": calls.div_ceil(2),
        "rss_growth_second_half_mb": round2(growth_mb(middle)),
        "rss_kb_after_each_call": s
            .resources
            .iter()
            .filter(|(k, _)| *k > 0)
            .map(|(_, r)| r.rss_kb)
            .collect::<Vec<_>>(),
    })
}

/// Fails unless both clients exited 0 after `calls` calls each.
fn check(result: &CallResult, calls: u32) -> Result<()> {
    let mut problems = Vec::new();
    for side in [&result.caller, &result.callee] {
        if !side.ok() {
            problems.push(format!(
                "{}: {}; log {}",
                side.label,
                side.describe(),
                side.log.display()
            ));
        } else if side.summaries.len() != calls as usize {
            problems.push(format!(
                "{}: {} media summaries for {calls} calls",
                side.label,
                side.summaries.len()
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        bail!("{}", problems.join("; "))
    }
}

/// Prints one line per finished call.
#[derive(Default)]
struct Progress {
    calls: [u32; 2],
}

impl Observer for Progress {
    fn on_event(&mut self, side: Side, label: &str, event: &Event, _pids: Pids) {
        if let Event::MediaSummary(m) = event {
            let n = &mut self.calls[side as usize];
            *n += 1;
            eprintln!(
                "xtask: [{label}] call {n}: first frame after {} ms, {} frames",
                m.setup_ms.map_or("-".to_owned(), |ms| format!("{ms:.1}")),
                m.frames_decoded
            );
        }
    }
}

/// Samples both clients' CPU time over [`CPU_FROM`]..[`CPU_TO`] after the
/// caller's call connected, and prints progress.
struct CpuSampler {
    clk_tck: f64,
    enabled: bool,
    connected_at: Option<Instant>,
    start: Option<(Instant, u64, u64)>,
    /// Caller cores, callee cores, window in seconds.
    cores: Option<(f64, f64, f64)>,
}

impl CpuSampler {
    fn new(clk_tck: f64, enabled: bool) -> Self {
        Self {
            clk_tck,
            enabled,
            connected_at: None,
            start: None,
            cores: None,
        }
    }

    fn sample(&mut self, pids: Pids) {
        let (Some(connected), true) = (self.connected_at, self.enabled) else {
            return;
        };
        let Some(caller) = pids.caller else { return };
        let elapsed = connected.elapsed();
        if self.start.is_none() && elapsed >= CPU_FROM {
            if let (Some(a), Some(b)) = (read_cpu_ticks(caller), read_cpu_ticks(pids.callee)) {
                self.start = Some((Instant::now(), a, b));
            }
        } else if let Some((at, a0, b0)) = self.start
            && self.cores.is_none()
            && elapsed >= CPU_TO
            && let (Some(a), Some(b)) = (read_cpu_ticks(caller), read_cpu_ticks(pids.callee))
        {
            let wall = at.elapsed().as_secs_f64();
            let cores = |t0: u64, t1: u64| t1.saturating_sub(t0) as f64 / self.clk_tck / wall;
            self.cores = Some((cores(a0, a), cores(b0, b), wall));
        }
    }
}

impl Observer for CpuSampler {
    fn on_event(&mut self, side: Side, label: &str, event: &Event, pids: Pids) {
        match event {
            Event::CallConnected if side == Side::Caller => {
                self.connected_at.get_or_insert_with(Instant::now);
            }
            Event::MediaSummary(m) => eprintln!(
                "xtask: [{label}] {} frames {}x{}, latency p50 {} ms",
                m.frames_decoded,
                m.width,
                m.height,
                m.latency_p50_ms
                    .map_or("-".to_owned(), |v| format!("{v:.1}"))
            ),
            _ => {}
        }
        self.sample(pids);
    }

    fn on_tick(&mut self, pids: Pids) {
        self.sample(pids);
    }
}

fn part_json(part: &Part) -> Value {
    match part {
        Ok(v) => v.clone(),
        Err(e) => json!({"error": format!("{e:#}")}),
    }
}

fn report_json(machine: &str, clk_tck: f64, setup: &Part, latency: &[&Part], rss: &Part) -> Value {
    json!({
        "machine": machine.trim(),
        "clk_tck": clk_tck,
        "setup": part_json(setup),
        "latency": latency.iter().map(|p| part_json(p)).collect::<Vec<_>>(),
        "rss": part_json(rss),
        "targets": {
            "setup_ms": TARGET_SETUP_MS,
            "latency_720p_p50_ms": TARGET_LATENCY_720P_MS,
            "cores": TARGET_CORES,
            "rss_growth_mb": TARGET_RSS_GROWTH_MB,
        },
    })
}

fn num(v: &Value, decimals: usize) -> String {
    v.as_f64()
        .map_or("n/a".to_owned(), |x| format!("{x:.decimals$}"))
}

/// The markdown tables of a run.
fn tables(setup: &Part, latency: &[&Part], rss: &Part) -> String {
    let mut out = String::new();
    out.push_str("Call setup, accept → first decoded remote frame (ms):\n\n");
    match setup {
        Ok(s) => {
            out.push_str(
                "| side | calls | median | p95 | min | max |\n|---|---:|---:|---:|---:|---:|\n",
            );
            for (name, key) in [
                ("caller (doctor)", "caller"),
                ("callee (patient)", "callee"),
                ("both", "both"),
            ] {
                let v = &s[key];
                out.push_str(&format!(
                    "| {name} | {} | {} | {} | {} | {} |\n",
                    num(&v["n"], 0),
                    num(&v["median"], 1),
                    num(&v["p95"], 1),
                    num(&v["min"], 1),
                    num(&v["max"], 1)
                ));
            }
        }
        Err(e) => out.push_str(&format!("failed: {e:#}\n")),
    }
    out.push_str("\nCapture → decode latency (ms) and frames, one 12 s call at 30 fps:\n\n");
    out.push_str(
        "| size | direction | p50 | p95 | max | frames decoded | sent in that span | nominal | received fps (last 3 s) |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut cpu_rows = String::new();
    for part in latency {
        match part {
            Ok(l) => {
                for d in l["directions"].as_array().into_iter().flatten() {
                    out.push_str(&format!(
                        "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                        l["size"].as_str().unwrap_or("?"),
                        d["direction"].as_str().unwrap_or("?"),
                        num(&d["latency_ms"]["p50"], 1),
                        num(&d["latency_ms"]["p95"], 1),
                        num(&d["latency_ms"]["max"], 1),
                        num(&d["frames_decoded"], 0),
                        num(&d["frames_sent_in_span"], 0),
                        num(&d["frames_nominal"], 0),
                        num(&d["received_fps_last_seconds"], 1),
                    ));
                }
                if let Some(cpu) = l.get("cpu") {
                    cpu_rows.push_str(&format!(
                        "| {} | {} | {} | {} |\n",
                        l["size"].as_str().unwrap_or("?"),
                        num(&cpu["caller_cores"], 2),
                        num(&cpu["callee_cores"], 2),
                        num(&cpu["window_s"], 1),
                    ));
                }
            }
            Err(e) => out.push_str(&format!("| failed: {} ||||||||\n", one_line(e))),
        }
    }
    out.push_str("\nCPU of each client process (1.0 = one full core):\n\n");
    out.push_str(
        "| size | caller (doctor) | callee (patient) | window s |\n|---|---:|---:|---:|\n",
    );
    out.push_str(&cpu_rows);
    out.push_str(
        "\nClient resources before the first call (signed in), after call 1 and after the last call:\n\n",
    );
    match rss {
        Ok(r) => {
            out.push_str(&format!(
                "| process | calls | RSS before (MiB) | RSS after 1 (MiB) | RSS after {n} (MiB) | growth 1 → {n} (MB) | growth {m} → {n} (MB) | fds 0 / 1 / {n} | threads 0 / 1 / {n} | tasks 0 / 1 / {n} |\n\
                 |---|---:|---:|---:|---:|---:|---:|---|---|---|\n",
                n = r["calls"],
                m = r["caller"]["middle_call"],
            ));
            for (name, key) in [
                ("caller (doctor)", "caller"),
                ("callee (patient)", "callee"),
            ] {
                let s = &r[key];
                let (z, a, b) = (&s["before_calls"], &s["after_first"], &s["after_last"]);
                let mib = |v: &Value| {
                    v.as_f64()
                        .map_or("n/a".to_owned(), |k| format!("{:.1}", k / 1024.0))
                };
                let three = |key: &str| format!("{} / {} / {}", z[key], a[key], b[key]);
                out.push_str(&format!(
                    "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                    num(&s["calls"], 0),
                    mib(&z["rss_kb"]),
                    mib(&a["rss_kb"]),
                    mib(&b["rss_kb"]),
                    num(&s["rss_growth_mb"], 2),
                    num(&s["rss_growth_second_half_mb"], 2),
                    three("open_fds"),
                    three("threads"),
                    three("tasks"),
                ));
            }
        }
        Err(e) => out.push_str(&format!("{}\n", one_line(e))),
    }
    out
}

fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('|', "/").replace('\n', " ")
}

/// PASS/MISS lines against the targets, from the JSON report.
fn verdicts(report: &Value) -> Vec<String> {
    let mark = |ok: bool| if ok { "PASS" } else { "MISS" };
    let mut lines = Vec::new();
    let both = &report["setup"]["both"];
    for key in ["median", "p95"] {
        if let Some(ms) = both[key].as_f64() {
            lines.push(format!(
                "{}: call setup {key} {ms:.1} ms < {TARGET_SETUP_MS} ms (both sides, {} calls)",
                mark(ms < TARGET_SETUP_MS),
                report["setup"]["calls"]
            ));
        }
    }
    for l in report["latency"].as_array().into_iter().flatten() {
        if l["size"] != "1280x720" {
            continue;
        }
        for d in l["directions"].as_array().into_iter().flatten() {
            if let Some(p50) = d["latency_ms"]["p50"].as_f64() {
                lines.push(format!(
                    "{}: 1280x720 latency p50 {p50:.1} ms < {TARGET_LATENCY_720P_MS} ms, {} (p95 {} ms)",
                    mark(p50 < TARGET_LATENCY_720P_MS),
                    d["direction"].as_str().unwrap_or("?"),
                    num(&d["latency_ms"]["p95"], 1),
                ));
            }
        }
        for (who, key) in [("caller", "caller_cores"), ("callee", "callee_cores")] {
            if let Some(cores) = l["cpu"][key].as_f64() {
                lines.push(format!(
                    "{}: {who} CPU {cores:.2} cores < {TARGET_CORES} at 1280x720",
                    mark(cores < TARGET_CORES)
                ));
            }
        }
    }
    let rss = &report["rss"];
    for who in ["caller", "callee"] {
        let side = &rss[who];
        if let Some(mb) = side["rss_growth_mb"].as_f64() {
            lines.push(format!(
                "{}: {who} RSS growth {mb:.2} MB < {TARGET_RSS_GROWTH_MB} MB from call 1 to call {} \
                 ({} MB from call {} on)",
                mark(mb < TARGET_RSS_GROWTH_MB),
                rss["calls"],
                num(&side["rss_growth_second_half_mb"], 2),
                side["middle_call"],
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headless::Stats;

    #[test]
    fn percentiles_interpolate_between_ranks() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.5), Some(2.5));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&v, 1.0), Some(4.0));
        assert!((percentile(&v, 0.95).unwrap() - 3.85).abs() < 1e-9);
        assert_eq!(percentile(&[7.0], 0.95), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
        let s = spread(&[30.0, 10.0, 20.0]);
        assert_eq!(s["median"], 20.0);
        assert_eq!(s["min"], 10.0);
        assert_eq!(s["max"], 30.0);
        assert_eq!(s["n"], 3);
        assert_eq!(spread(&[]), Value::Null);
    }

    #[test]
    fn memory_growth_is_call_m_against_call_1() {
        let r = |rss_kb, fds| Resources {
            open_fds: fds,
            threads: 3,
            tasks: 4,
            rss_kb,
        };
        let side = SideResult {
            label: "doctor",
            status: None,
            exit_message: None,
            summaries: Vec::new(),
            // The baseline after signing in is not call 1.
            resources: vec![
                (0, r(10_000, 12)),
                (1, r(15_000, 14)),
                (2, r(17_000, 14)),
                (3, r(20_000, 15)),
            ],
            stats: Vec::new(),
            calls_ended: 3,
            log: PathBuf::new(),
        };
        let v = resources_report(&side, 3);
        assert_eq!(v["before_calls"]["rss_kb"], 10_000);
        assert_eq!(v["after_first"]["rss_kb"], 15_000);
        assert_eq!(v["after_last"]["open_fds"], 15);
        assert_eq!(v["rss_growth_mb"], 5.12);
        // Second half: after call 2 (of 3) to after call 3.
        assert_eq!(v["middle_call"], 2);
        assert_eq!(v["rss_growth_second_half_mb"], 3.07);
        assert_eq!(v["rss_kb_after_each_call"], json!([15_000, 17_000, 20_000]));
        // Fewer calls than asked: no growth figure rather than a wrong one.
        assert_eq!(resources_report(&side, 4)["rss_growth_mb"], Value::Null);
    }

    #[test]
    fn cpu_ticks_survive_odd_command_names() {
        let stat = "4242 (clinicall (x) y) S 1 4242 4242 0 -1 4194560 2000 0 0 0 \
                    150 37 0 0 20 0 9 0 12345 1000000 5000 18446744073709551615";
        assert_eq!(cpu_ticks(stat), Some(187));
        assert_eq!(cpu_ticks("4242 (short) S 1 2"), None);
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn received_frame_rate_uses_the_last_seconds_with_video() {
        let s = |frames, fps| Stats {
            frames_decoded: frames,
            received_frame_rate: fps,
            ..Stats::default()
        };
        let stats = [
            s(0, 0.0),
            s(20, 20.0),
            s(50, 30.0),
            s(80, 29.0),
            s(110, 31.0),
        ];
        assert_eq!(recent_frame_rate(&stats), Some(30.0));
        assert_eq!(recent_frame_rate(&[s(0, 0.0)]), None);
    }

    #[test]
    fn verdicts_follow_the_targets() {
        let setup: Part = Ok(json!({"calls": 20, "both": spread(&[40.0, 60.0, 150.0])}));
        let hd: Part = Ok(json!({
            "size": "1280x720",
            "directions": [
                {"direction": "doctor → patient", "latency_ms": {"p50": 12.0, "p95": 20.0}},
                {"direction": "patient → doctor", "latency_ms": {"p50": 31.0, "p95": 40.0}},
            ],
            "cpu": {"caller_cores": 0.5, "callee_cores": 1.2, "window_s": 8.0},
        }));
        let vga: Part = Ok(json!({"size": "640x480", "directions": []}));
        let rss: Part = Ok(json!({
            "calls": 50,
            "caller": {"rss_growth_mb": 1.5, "calls": 50, "after_first": {}, "after_last": {}},
            "callee": {"rss_growth_mb": 7.0, "calls": 50, "after_first": {}, "after_last": {}},
        }));
        let report = report_json("m", 100.0, &setup, &[&vga, &hd], &rss);
        let v = verdicts(&report);
        assert_eq!(v.len(), 8, "{v:#?}");
        assert!(
            v[0].starts_with("PASS: call setup median 60.0 ms"),
            "{v:#?}"
        );
        assert!(v[1].starts_with("MISS: call setup p95 141.0 ms"), "{v:#?}");
        assert!(
            v[2].starts_with("PASS: 1280x720 latency p50 12.0"),
            "{v:#?}"
        );
        assert!(
            v[3].starts_with("MISS: 1280x720 latency p50 31.0"),
            "{v:#?}"
        );
        assert!(v[3].contains("(p95 40.0 ms)"), "{v:#?}");
        assert!(v[4].starts_with("PASS: caller CPU 0.50"), "{v:#?}");
        assert!(v[5].starts_with("MISS: callee CPU 1.20"), "{v:#?}");
        assert!(v[6].starts_with("PASS: caller RSS growth 1.50"), "{v:#?}");
        assert!(v[7].starts_with("MISS: callee RSS growth 7.00"), "{v:#?}");

        let table = tables(&setup, &[&vga, &hd], &Err(anyhow::anyhow!("skipped")));
        assert!(
            table.contains("| both | 3 | 60.0 | 141.0 | 40.0 | 150.0 |"),
            "{table}"
        );
        assert!(
            table.contains("| 1280x720 | patient → doctor | 31.0 | 40.0 |"),
            "{table}"
        );
        assert!(table.contains("| 1280x720 | 0.50 | 1.20 |"), "{table}");
        assert!(table.contains("skipped"), "{table}");
        // A failed part is reported as such, not as zeros.
        let failed = report_json("m", 100.0, &Err(anyhow::anyhow!("boom")), &[], &rss);
        assert_eq!(failed["setup"]["error"], "boom");
        assert!(verdicts(&failed).iter().all(|l| !l.contains("setup")));
    }
}
