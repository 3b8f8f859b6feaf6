//! A server that goes silent without closing anything (a dead NAT entry, a
//! frozen box): the client must notice on its own and reconnect.

mod common;

use clinicall_client_core::signaling::{DisconnectReason, SignalingClient, SignalingEvent};
use clinicall_protocol::{ClientMessage, ServerMessage};
use common::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A TCP proxy to `target` that can stop forwarding in both directions
/// while keeping every connection open: a blackhole.
struct Blackhole {
    addr: SocketAddr,
    holding: watch::Sender<bool>,
}

impl Blackhole {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (holding, watcher) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = TcpStream::connect(target).await else {
                    continue;
                };
                let (in_r, in_w) = inbound.into_split();
                let (out_r, out_w) = outbound.into_split();
                tokio::spawn(pump(in_r, out_w, watcher.clone()));
                tokio::spawn(pump(out_r, in_w, watcher.clone()));
            }
        });
        Self { addr, holding }
    }

    fn hold(&self, on: bool) {
        self.holding.send_replace(on);
    }
}

async fn pump(
    mut from: impl AsyncReadExt + Unpin,
    mut to: impl AsyncWriteExt + Unpin,
    mut holding: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let Ok(n) = from.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        // While holding, bytes are swallowed: neither side hears anything
        // and neither side sees the connection close.
        if *holding.borrow_and_update() {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn a_silent_server_is_detected_and_replaced() {
    let server = TestServer::start().await;
    let patient = server.patient("Pat").await;
    let proxy = Blackhole::start(server.addr).await;
    let auth = server.sign_in(&patient).await;
    // REST goes straight to the server; signaling through the proxy.
    let config = fast_config(&format!("http://{}", proxy.addr));
    let (client, events) = SignalingClient::start(config, auth).unwrap();
    let mut events = Events(events);
    let (first, _) = events.connected().await;

    // A live server answers our pings: well past dead_after, still up.
    let quiet = tokio::time::timeout(Duration::from_millis(2_500), async {
        while let Some(event) = events.0.recv().await {
            assert!(
                matches!(event, SignalingEvent::PresenceSnapshot(_)),
                "{event:?}"
            );
        }
    })
    .await;
    assert!(quiet.is_err(), "the event stream ended");

    proxy.hold(true);
    let started = tokio::time::Instant::now();
    let reason = events
        .until(|e| match e {
            SignalingEvent::Disconnected { reason } => Some(reason.clone()),
            _ => None,
        })
        .await;
    assert_eq!(reason, DisconnectReason::ServerSilent);
    // dead_after is 1 s, checked at each 200 ms ping.
    assert!(started.elapsed() >= Duration::from_millis(900));

    proxy.hold(false);
    let (second, resumed) = events.connected().await;
    assert!(resumed, "the server kept the session during its grace");
    assert_eq!(second, first);
    let pong = client.request(ClientMessage::Ping).await.unwrap();
    assert_eq!(pong.msg, ServerMessage::Pong);
    client.shutdown().await;
}
