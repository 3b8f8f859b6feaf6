//! Pure pieces of the load generator: the send schedule, the timestamped
//! candidate line, latency summaries and `/proc` parsing. Kept free of I/O so
//! they can be unit tested.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::time::Duration;

/// Highest latency the histograms track, in microseconds (60 s). Larger
/// values are clamped to it.
pub const MAX_LATENCY_US: u64 = 60_000_000;

/// A fresh latency histogram in microseconds, 3 significant figures.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("static histogram bounds are valid")
}

/// When one client sends: every `period`, starting `offset` after the load
/// phase starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    /// Time between two sends of this client.
    pub period: Duration,
    /// Phase of this client inside one period, in `[0, period)`.
    pub offset: Duration,
}

/// The schedule of client `index` out of `clients`, so that all clients
/// together send `rate` messages per second: each sends every
/// `clients / rate` seconds, at a pseudo-random phase derived from `seed` and
/// `index` (so the sends of different clients do not line up).
pub fn schedule_for(index: usize, clients: usize, rate: f64, seed: u64) -> Schedule {
    let period = Duration::from_secs_f64(clients as f64 / rate);
    let fraction = unit_interval(splitmix64(seed ^ (index as u64).wrapping_mul(0x9E37)));
    let offset = period
        .mul_f64(fraction)
        .min(period.saturating_sub(Duration::from_nanos(1)));
    Schedule { period, offset }
}

/// SplitMix64: a tiny, well-mixed pseudo-random step (no crate needed for
/// picking phases).
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Maps 64 random bits to `[0, 1)`.
fn unit_interval(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// The timestamps a benchmark signal carries from sender to receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// When the send was scheduled, ns since the process epoch.
    pub scheduled_ns: u64,
    /// When the frame was actually handed to the socket, ns since the epoch.
    pub sent_ns: u64,
    /// Per-sender sequence number, from 0.
    pub seq: u64,
}

const SCHED_KEY: &str = " x-bench-sched ";
const SENT_KEY: &str = " x-bench-sent ";
const SEQ_KEY: &str = " x-bench-seq ";

/// A realistic host candidate line (about 170 bytes, like what browsers
/// trickle) with the stamp appended as ICE extension attributes, which the
/// grammar allows and the server relays without looking.
pub fn candidate_line(client: usize, stamp: Stamp) -> String {
    let octet3 = (client / 250) % 250;
    let octet4 = client % 250 + 1;
    let port = 40_000 + (client % 20_000);
    format!(
        "candidate:{foundation} 1 udp 2122260223 10.77.{octet3}.{octet4} {port} typ host \
         generation 0 ufrag b{client:07x} network-id 1 network-cost 10\
         {SCHED_KEY}{}{SENT_KEY}{}{SEQ_KEY}{}",
        stamp.scheduled_ns,
        stamp.sent_ns,
        stamp.seq,
        foundation = 1_000_000_000 + client as u64 * 7919 % 3_000_000_000,
    )
}

/// Reads the stamp back out of a line made by [`candidate_line`]; `None`
/// for anything else.
pub fn parse_stamp(line: &str) -> Option<Stamp> {
    fn field(line: &str, key: &str) -> Option<u64> {
        let start = line.find(key)? + key.len();
        let rest = &line[start..];
        let end = rest.find(' ').unwrap_or(rest.len());
        rest[..end].parse().ok()
    }
    Some(Stamp {
        scheduled_ns: field(line, SCHED_KEY)?,
        sent_ns: field(line, SENT_KEY)?,
        seq: field(line, SEQ_KEY)?,
    })
}

/// Percentiles of one latency histogram, in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Samples recorded.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest sample.
    pub max: f64,
}

impl LatencySummary {
    /// Summarizes a histogram of microseconds; all zeros when it is empty.
    pub fn from_us(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| round3(us as f64 / 1000.0);
        if h.is_empty() {
            return Self {
                count: 0,
                mean: 0.0,
                p50: 0.0,
                p90: 0.0,
                p95: 0.0,
                p99: 0.0,
                p999: 0.0,
                max: 0.0,
            };
        }
        Self {
            count: h.len(),
            mean: round3(h.mean() / 1000.0),
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

/// A clap value parser: a finite number greater than 0.
pub fn parse_positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err("must be a number greater than 0".into()),
    }
}

/// A clap value parser: a finite number of at least 0.
pub fn parse_non_negative(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err("must be a number of at least 0".into()),
    }
}

/// Rounds to three decimals (microsecond resolution when in ms).
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The `VmRSS` of a `/proc/PID/status` text, in KiB.
pub fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut words = line["VmRSS:".len()..].split_whitespace();
    let value: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => Some(value),
        Some(_) => None,
    }
}

/// The resident set size of a process in KiB, or `None` if it cannot be
/// read (no such process, not Linux).
pub fn rss_kib(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_owned(),
    };
    parse_vm_rss_kib(&std::fs::read_to_string(path).ok()?)
}

/// `ws://…/api/v1/ws` for a server base URL `http://…` (or `wss` for
/// `https`; this build has no TLS for WebSockets, so that fails at connect).
pub fn ws_url(base: &str) -> Result<String, String> {
    let base = base.trim_end_matches('/');
    let rest = if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else {
        return Err(format!(
            "server URL {base:?} must start with http:// or https://"
        ));
    };
    Ok(format!("{rest}/api/v1/ws"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_add_up_to_the_total_rate() {
        let clients = 1000;
        let rate = 5000.0;
        let window = Duration::from_secs(3);
        let mut sends = 0u64;
        for i in 0..clients {
            let s = schedule_for(i, clients, rate, 42);
            assert_eq!(s.period, Duration::from_millis(200));
            assert!(s.offset < s.period, "{s:?}");
            // Sends at offset, offset + period, ... strictly before the end.
            let mut t = s.offset;
            while t < window {
                sends += 1;
                t += s.period;
            }
        }
        // 5000/s for 3 s, give or take the partial period at the end.
        let expected = 15_000.0;
        assert!(
            (sends as f64 - expected).abs() < expected * 0.01,
            "{sends} sends"
        );
    }

    #[test]
    fn phases_are_spread_over_the_period() {
        let clients = 2000;
        let mut per_decile = [0usize; 10];
        for i in 0..clients {
            let s = schedule_for(i, clients, 1000.0, 7);
            let fraction = s.offset.as_secs_f64() / s.period.as_secs_f64();
            per_decile[(fraction * 10.0) as usize] += 1;
        }
        // 200 expected per decile; a clumped phase choice would fail this.
        for (decile, n) in per_decile.iter().enumerate() {
            assert!((140..=260).contains(n), "decile {decile}: {n}");
        }
        // Different seeds give different phases.
        assert_ne!(schedule_for(3, 10, 10.0, 1), schedule_for(3, 10, 10.0, 2));
    }

    #[test]
    fn candidate_carries_its_stamp_and_looks_real() {
        let stamp = Stamp {
            scheduled_ns: 12_345_678_901,
            sent_ns: 12_345_700_000,
            seq: 99,
        };
        let line = candidate_line(4_999, stamp);
        assert!(line.starts_with("candidate:"), "{line}");
        assert!(line.contains(" typ host "), "{line}");
        assert!(
            (100..=220).contains(&line.len()),
            "{} bytes: {line}",
            line.len()
        );
        assert_eq!(parse_stamp(&line), Some(stamp));
        assert_eq!(
            parse_stamp("candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host"),
            None
        );
        assert_eq!(
            parse_stamp("x x-bench-sched 1 x-bench-sent nope x-bench-seq 2"),
            None
        );
    }

    #[test]
    fn summary_reports_percentiles_in_ms() {
        let mut h = latency_histogram();
        for us in 1..=1000u64 {
            h.record(us).unwrap();
        }
        let s = LatencySummary::from_us(&h);
        assert_eq!(s.count, 1000);
        assert!((s.p50 - 0.5).abs() < 0.002, "{s:?}");
        assert!((s.p90 - 0.9).abs() < 0.002, "{s:?}");
        assert!((s.p95 - 0.95).abs() < 0.002, "{s:?}");
        assert!((s.p99 - 0.99).abs() < 0.002, "{s:?}");
        assert!((s.max - 1.0).abs() < 0.002, "{s:?}");
        assert!((s.mean - 0.5005).abs() < 0.002, "{s:?}");

        let empty = LatencySummary::from_us(&latency_histogram());
        assert_eq!(empty.count, 0);
        assert_eq!(empty.p99, 0.0);
    }

    #[test]
    fn reads_vm_rss() {
        let status =
            "Name:\tsignaling-serv\nVmPeak:\t  900000 kB\nVmRSS:\t   23456 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss_kib(status), Some(23_456));
        assert_eq!(parse_vm_rss_kib("Name:\tx\n"), None);
        // Our own process always has one.
        assert!(rss_kib(None).unwrap() > 0);
    }

    #[test]
    fn derives_websocket_url() {
        assert_eq!(
            ws_url("http://127.0.0.1:8787/").unwrap(),
            "ws://127.0.0.1:8787/api/v1/ws"
        );
        assert_eq!(
            ws_url("https://clinic.example/signal").unwrap(),
            "wss://clinic.example/signal/api/v1/ws"
        );
        assert!(ws_url("127.0.0.1:8787").is_err());
    }
}
