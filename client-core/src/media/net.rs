//! The call's UDP sockets: one per local address, each offered as an ICE
//! host candidate, each read by a small task that forwards datagrams to
//! the session.

use bytes::BytesMut;
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCIceCandidate, RTCIceCandidateInit,
};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Largest datagram we accept (WebRTC packets stay under ~1,200 bytes).
const MAX_DATAGRAM: usize = 2048;
/// Datagrams waiting for the session; beyond this the reader waits (and
/// the kernel's buffer takes the rest).
pub(crate) const DATAGRAM_CAPACITY: usize = 512;

/// A datagram that arrived on one of the call's sockets.
#[derive(Debug)]
pub(crate) struct Datagram {
    pub(crate) local: SocketAddr,
    pub(crate) peer: SocketAddr,
    pub(crate) at: Instant,
    pub(crate) data: BytesMut,
}

/// One bound socket and its reader task; dropping it closes the socket.
#[derive(Debug)]
pub(crate) struct HostSocket {
    pub(crate) local: SocketAddr,
    pub(crate) socket: Arc<UdpSocket>,
    reader: JoinHandle<()>,
}

impl Drop for HostSocket {
    fn drop(&mut self) {
        // The reader holds the other reference to the socket.
        self.reader.abort();
    }
}

impl HostSocket {
    /// The ICE host candidate for this socket.
    pub(crate) fn candidate(&self) -> Result<RTCIceCandidateInit, rtc::shared::error::Error> {
        let candidate = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".to_owned(),
                address: self.local.ip().to_string(),
                port: self.local.port(),
                component: 1,
                ..Default::default()
            },
            ..Default::default()
        }
        .new_candidate_host()?;
        RTCIceCandidate::from(&candidate).to_json()
    }
}

/// The addresses to bind: the configured ones, or every usable address of
/// the machine's interfaces (loopback only when there is nothing else).
pub(crate) fn host_addresses(configured: &[IpAddr]) -> Vec<IpAddr> {
    if !configured.is_empty() {
        return configured.to_vec();
    }
    let mut addresses: Vec<IpAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|interface| interface.ip())
        .filter(|ip| !ip.is_loopback() && !is_link_local(ip))
        .collect();
    addresses.sort();
    addresses.dedup();
    if addresses.is_empty() {
        addresses.push(IpAddr::from([127, 0, 0, 1]));
    }
    addresses
}

fn is_link_local(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        // fe80::/10 needs a scope id to be usable; skip it.
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// Binds one socket on an ephemeral port of each address; addresses that
/// cannot be bound are skipped (logged). Datagrams go to `tx`.
pub(crate) async fn bind_all(addresses: &[IpAddr], tx: &mpsc::Sender<Datagram>) -> Vec<HostSocket> {
    let mut sockets = Vec::new();
    for &ip in addresses {
        match UdpSocket::bind(SocketAddr::new(ip, 0)).await {
            Ok(socket) => match socket.local_addr() {
                Ok(local) => {
                    let socket = Arc::new(socket);
                    let reader = tokio::spawn(read_loop(socket.clone(), local, tx.clone()));
                    sockets.push(HostSocket {
                        local,
                        socket,
                        reader,
                    });
                }
                Err(e) => tracing::warn!(%ip, error = %e, "bound socket has no address"),
            },
            Err(e) => tracing::warn!(%ip, error = %e, "cannot bind a media socket"),
        }
    }
    sockets
}

async fn read_loop(socket: Arc<UdpSocket>, local: SocketAddr, tx: mpsc::Sender<Datagram>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, peer)) => {
                let datagram = Datagram {
                    local,
                    peer,
                    at: Instant::now(),
                    data: BytesMut::from(&buf[..n]),
                };
                if tx.send(datagram).await.is_err() {
                    return; // the session is gone
                }
            }
            // ICMP port unreachable and the like surface here on some
            // systems; the socket itself is still fine.
            Err(e) => tracing::trace!(%local, error = %e, "media socket read error"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_addresses_win_and_the_default_is_never_empty() {
        let lo = IpAddr::from([127, 0, 0, 1]);
        assert_eq!(host_addresses(&[lo]), vec![lo]);
        let auto = host_addresses(&[]);
        assert!(!auto.is_empty());
        assert!(auto.iter().all(|ip| !is_link_local(ip)));
    }

    #[tokio::test]
    async fn a_bound_socket_forwards_datagrams_and_closes_on_drop() {
        let (tx, mut rx) = mpsc::channel(4);
        let sockets = bind_all(&[IpAddr::from([127, 0, 0, 1])], &tx).await;
        assert_eq!(sockets.len(), 1);
        let local = sockets[0].local;
        let candidate = sockets[0].candidate().unwrap();
        assert!(candidate.candidate.contains(&local.port().to_string()));
        assert!(candidate.candidate.contains("host"));

        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        sender.send_to(b"hello", local).await.unwrap();
        let got = rx.recv().await.unwrap();
        assert_eq!(&got.data[..], b"hello");
        assert_eq!(got.local, local);
        assert_eq!(got.peer, sender.local_addr().unwrap());

        drop(sockets);
        // The reader was aborted and the socket closed: the port is free.
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(std::net::UdpSocket::bind(local).is_ok());
    }
}
