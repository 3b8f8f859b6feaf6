//! `chatbench`: send-to-deliver latency of chat through one server.
//!
//! Runs against a running `signaling-server` (usually started by
//! `cargo xtask bench chat`): creates a doctor and a patient, connects one
//! WebSocket each, opens their conversation, and has both send `chat_send`
//! at `--rate / 2` per second each (so `--rate` in total), for `--warmup`
//! then `--duration` seconds. Every message body carries the time its send
//! was scheduled and the time it was written (nanoseconds since a
//! process-wide epoch); the other client reads them back when the
//! `chat_message` arrives. Each message is stored in the server's SQLite
//! database before it is delivered, so this is store-and-forward latency,
//! not a bare relay.
//!
//! Prints one JSON report on stdout and a summary on stderr.

#[allow(dead_code)]
mod accounts;
#[allow(dead_code)]
mod stats;

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use clinicall_protocol::{
    ClientEnvelope, ClientMessage, ConversationId, MessageId, PROTOCOL_VERSION, ServerEnvelope,
    ServerMessage,
};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::Serialize;
use stats::{LatencySummary, latency_histogram};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Chat send-to-deliver latency benchmark (see the module docs).
#[derive(Parser, Debug)]
#[command(name = "chatbench", version)]
struct Args {
    #[command(flatten)]
    target: accounts::Target,
    /// Chat messages per second, both clients together.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// Seconds of load before measuring; not recorded.
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Most seconds to wait after the last send for messages in flight.
    #[arg(long, default_value_t = 5.0)]
    drain: f64,
}

#[derive(Default)]
struct Tally {
    sent: u64,
    received: u64,
    acked: u64,
    errors: u64,
    /// Scheduled send to delivery at the other client, µs.
    deliver: Option<Histogram<u64>>,
    /// Actual write to delivery, µs.
    deliver_from_write: Option<Histogram<u64>>,
    /// Actual write to the sender's ack, µs.
    ack: Option<Histogram<u64>>,
}

#[derive(Serialize)]
struct Report {
    server: String,
    target_rate_msgs_per_s: f64,
    warmup_s: f64,
    duration_s: f64,
    sent_total: u64,
    received_total: u64,
    acked_total: u64,
    lost: u64,
    errors_total: u64,
    /// From the scheduled send time (no coordinated omission).
    latency_ms: LatencySummary,
    /// From the actual write.
    latency_from_send_ms: LatencySummary,
    /// From the actual write to the sender's `chat_ack`.
    ack_latency_ms: LatencySummary,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str, token: &str) -> Result<Ws> {
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .context("WebSocket connect")?;
    let hello = ClientEnvelope::new(ClientMessage::Hello {
        min_version: PROTOCOL_VERSION,
        max_version: PROTOCOL_VERSION,
        token: None,
        resume: None,
    });
    ws.send(Message::Text(serde_json::to_string(&hello)?.into()))
        .await?;
    Ok(ws)
}

/// The next server message (skipping control frames).
async fn next(ws: &mut Ws) -> Result<ServerEnvelope> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Err(_) => bail!("no frame from the server for 10 s"),
            Ok(None) => bail!("connection closed"),
            Ok(Some(frame)) => {
                if let Message::Text(text) = frame? {
                    return Ok(serde_json::from_str(text.as_str())?);
                }
            }
        }
    }
}

fn body(scheduled_ns: u64, written_ns: u64) -> String {
    format!("s={scheduled_ns} w={written_ns}")
}

fn parse_body(body: &str) -> Option<(u64, u64)> {
    let mut parts = body.split(' ');
    let s = parts.next()?.strip_prefix("s=")?.parse().ok()?;
    let w = parts.next()?.strip_prefix("w=")?.parse().ok()?;
    Some((s, w))
}

struct Timing {
    epoch: Instant,
    measure_from_ns: u64,
    measure_until_ns: u64,
}

impl Timing {
    fn ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }
    fn measured(&self, ns: u64) -> bool {
        (self.measure_from_ns..self.measure_until_ns).contains(&ns)
    }
}

fn record(h: &mut Option<Histogram<u64>>, from_ns: u64, to_ns: u64) {
    let us = to_ns.saturating_sub(from_ns) / 1000;
    h.get_or_insert_with(latency_histogram)
        .saturating_record(us.clamp(1, stats::MAX_LATENCY_US));
}

/// One client: sends on its schedule, records what it receives.
async fn run_client(
    ws: Ws,
    conversation: ConversationId,
    period: Duration,
    offset: Duration,
    send_until_ns: u64,
    timing: Arc<Timing>,
    tally: Arc<Mutex<Tally>>,
) -> Result<()> {
    let (mut sink, mut stream) = ws.split();
    let timing_r = timing.clone();
    let tally_r = tally.clone();
    let reader = tokio::spawn(async move {
        while let Some(frame) = stream.next().await {
            let Ok(Message::Text(text)) = frame else {
                continue;
            };
            let now = timing_r.ns();
            let Ok(env) = serde_json::from_str::<ServerEnvelope>(text.as_str()) else {
                continue;
            };
            let mut t = tally_r.lock().unwrap_or_else(|p| p.into_inner());
            match env.msg {
                ServerMessage::ChatMessage { message } => {
                    t.received += 1;
                    if let Some((scheduled, written)) = parse_body(&message.body)
                        && timing_r.measured(scheduled)
                    {
                        record(&mut t.deliver, scheduled, now);
                        record(&mut t.deliver_from_write, written, now);
                    }
                }
                ServerMessage::ChatAck { .. } => {
                    t.acked += 1;
                    if let Some(req) = env.req.as_deref().and_then(|r| r.parse::<u64>().ok())
                        && timing_r.measured(req)
                    {
                        record(&mut t.ack, req, now);
                    }
                }
                ServerMessage::Error { code, message, .. } => {
                    t.errors += 1;
                    if t.errors <= 5 {
                        eprintln!("chatbench: server error {code:?}: {message}");
                    }
                }
                _ => {}
            }
        }
    });

    let start = tokio::time::Instant::now() + offset;
    let mut ticks = tokio::time::interval_at(start, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    loop {
        let tick = ticks.tick().await;
        let scheduled = timing.ns().saturating_sub(tick.elapsed().as_nanos() as u64);
        if scheduled >= send_until_ns {
            break;
        }
        let written = timing.ns();
        // The req carries the write time, for the ack latency.
        let env = ClientEnvelope::with_req(
            written.to_string(),
            ClientMessage::ChatSend {
                conversation_id: conversation,
                id: MessageId::random(),
                body: body(scheduled, written),
                attachments: vec![],
            },
        );
        sink.send(Message::Text(serde_json::to_string(&env)?.into()))
            .await?;
        tally.lock().unwrap_or_else(|p| p.into_inner()).sent += 1;
    }
    // Keep the socket open while the reader drains (until aborted).
    reader.await?;
    drop(sink);
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        args.rate > 0.0 && args.duration > 0.0,
        "rate and duration must be positive"
    );
    let api = accounts::Api::new(&args.target.server, 4)?;
    let admin = api.admin_login(&args.target).await?;
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let creds = accounts::provision(&api, &admin, &run_id, 1, 2, true).await?;
    ensure!(creds.len() == 2, "expected a doctor and a patient");
    let (doctor, patient) = (&creds[0], &creds[1]);
    let url = stats::ws_url(&args.target.server).map_err(anyhow::Error::msg)?;
    let mut d = connect(&url, &doctor.token).await?;
    let mut p = connect(&url, &patient.token).await?;
    // Welcome and presence snapshot, then the conversation.
    for ws in [&mut d, &mut p] {
        loop {
            if let ServerMessage::PresenceSnapshot { more: false, .. } = next(ws).await?.msg {
                break;
            }
        }
    }
    let open = ClientEnvelope::with_req("open", ClientMessage::ChatOpen { peer: doctor.id });
    p.send(Message::Text(serde_json::to_string(&open)?.into()))
        .await?;
    let conversation = loop {
        match next(&mut p).await?.msg {
            ServerMessage::ChatConversation { conversation } => break conversation.id,
            ServerMessage::Error { message, .. } => bail!("chat_open failed: {message}"),
            _ => {}
        }
    };

    let epoch = Instant::now();
    let warmup = Duration::from_secs_f64(args.warmup);
    let duration = Duration::from_secs_f64(args.duration);
    let timing = Arc::new(Timing {
        epoch,
        measure_from_ns: warmup.as_nanos() as u64,
        measure_until_ns: (warmup + duration).as_nanos() as u64,
    });
    let send_until_ns = timing.measure_until_ns;
    let period = Duration::from_secs_f64(2.0 / args.rate);
    let tally = Arc::new(Mutex::new(Tally::default()));
    eprintln!(
        "chatbench: {} msg/s for {:.0} s (+{:.0} s warmup) between two clients",
        args.rate, args.duration, args.warmup
    );
    let mut tasks = Vec::new();
    for (ws, offset) in [(d, Duration::ZERO), (p, period / 2)] {
        tasks.push(tokio::spawn(run_client(
            ws,
            conversation,
            period,
            offset,
            send_until_ns,
            timing.clone(),
            tally.clone(),
        )));
    }
    // Sending ends at send_until; then wait for deliveries to come in.
    tokio::time::sleep_until(tokio::time::Instant::from_std(
        epoch + Duration::from_nanos(send_until_ns),
    ))
    .await;
    let drain_until = tokio::time::Instant::now() + Duration::from_secs_f64(args.drain);
    loop {
        let done = {
            let t = tally.lock().unwrap_or_else(|p| p.into_inner());
            t.sent > 0 && t.received >= t.sent && t.acked >= t.sent
        };
        if done || tokio::time::Instant::now() >= drain_until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for task in tasks {
        task.abort();
    }
    let t = tally.lock().unwrap_or_else(|p| p.into_inner());
    let summary = |h: &Option<Histogram<u64>>| match h {
        Some(h) => LatencySummary::from_us(h),
        None => LatencySummary::from_us(&latency_histogram()),
    };
    let report = Report {
        server: args.target.server.clone(),
        target_rate_msgs_per_s: args.rate,
        warmup_s: args.warmup,
        duration_s: args.duration,
        sent_total: t.sent,
        received_total: t.received,
        acked_total: t.acked,
        lost: t.sent.saturating_sub(t.received),
        errors_total: t.errors,
        latency_ms: summary(&t.deliver),
        latency_from_send_ms: summary(&t.deliver_from_write),
        ack_latency_ms: summary(&t.ack),
    };
    eprintln!(
        "chatbench: sent {} delivered {} acked {} lost {} errors {}; deliver p50 {:.2} ms p99 {:.2} ms; ack p50 {:.2} ms p99 {:.2} ms",
        report.sent_total,
        report.received_total,
        report.acked_total,
        report.lost,
        report.errors_total,
        report.latency_ms.p50,
        report.latency_ms.p99,
        report.ack_latency_ms.p50,
        report.ack_latency_ms.p99
    );
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_carry_both_timestamps() {
        assert_eq!(parse_body(&body(12, 34)), Some((12, 34)));
        assert_eq!(parse_body("hello"), None);
    }
}
