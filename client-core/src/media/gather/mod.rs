//! Candidates beyond our own addresses: server-reflexive ones from the
//! welcome's STUN servers and relayed ones from its TURN servers.
//!
//! The `rtc` stack does no I/O, so it gathers nothing itself; the session
//! does it on the call's own sockets (a mapping or an allocation belongs
//! to the socket it was made from, and that socket must carry the call).
//! The session hands every datagram to [`Gatherer::intercept`] before the
//! peer connection: answers to our STUN requests and everything from a
//! TURN server stop here; the rest is the peer's. What the peer connection
//! writes from a relayed address goes through [`Gatherer::relay_send`].
//!
//! Gathering runs beside the call: host candidates and the offer never
//! wait for it, and what it finds is trickled when it is found.
//!
//! Sans-IO like the stack: time is an argument; bytes come out of
//! [`Gatherer::poll_transmit`] and findings out of [`Gatherer::poll`]. The
//! one exception is looking up server host names, which runs in a task
//! and comes back through the channel [`Gatherer::new`] returns.

mod candidate;
mod servers;
mod stun;
mod turn;

use super::net::Datagram;
use bytes::BytesMut;
use clinicall_protocol::IceServer;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use servers::{Kind, Target};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A server host name that does not resolve in this long is skipped.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// A datagram to send from one of the call's sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Transmit {
    /// The socket to send from.
    pub(crate) local: SocketAddr,
    pub(crate) to: SocketAddr,
    pub(crate) data: Vec<u8>,
}

/// What gathering produced.
#[derive(Debug)]
pub(crate) enum Gathered {
    /// A candidate to add locally and trickle to the peer.
    Candidate(RTCIceCandidateInit),
    /// Data the peer sent to our relayed address `relayed`, from `from`:
    /// for the peer connection, as if it had arrived on a socket bound to
    /// `relayed`.
    Relayed {
        relayed: SocketAddr,
        from: SocketAddr,
        data: BytesMut,
    },
    /// Every server answered or was given up on (once per round).
    Complete,
}

/// A server host name's addresses (none if the lookup failed).
#[derive(Debug)]
pub(crate) struct Resolved {
    index: usize,
    addresses: Vec<SocketAddr>,
}

/// The gathering of one call's session.
#[derive(Debug)]
pub(crate) struct Gatherer {
    targets: Vec<Target>,
    relay_only: bool,
    /// Per target: its addresses, once known.
    addresses: Vec<Option<Vec<SocketAddr>>>,
    /// Host-name lookups started, by target.
    lookups: Vec<(usize, JoinHandle<()>)>,
    resolved_tx: mpsc::UnboundedSender<Resolved>,
    /// The call's sockets.
    hosts: Vec<SocketAddr>,
    stun: stun::Queries,
    allocations: Vec<turn::Allocation>,
    /// (base, mapped) of the server-reflexive candidates found.
    reflexive: Vec<(SocketAddr, SocketAddr)>,
    candidates: Vec<RTCIceCandidateInit>,
    news: VecDeque<Gathered>,
    complete: bool,
}

impl Drop for Gatherer {
    fn drop(&mut self) {
        for (_, lookup) in &self.lookups {
            lookup.abort();
        }
    }
}

impl Gatherer {
    /// A gatherer for the usable servers among `servers` (see
    /// [`servers`]), and where its host-name lookups report.
    pub(crate) fn new(
        servers: &[IceServer],
        relay_only: bool,
    ) -> (Gatherer, mpsc::UnboundedReceiver<Resolved>) {
        let targets = servers::targets(servers, relay_only);
        let (resolved_tx, resolved_rx) = mpsc::unbounded_channel();
        let gatherer = Gatherer {
            addresses: targets
                .iter()
                .map(Target::literal)
                .map(|a| a.map(|a| vec![a]))
                .collect(),
            targets,
            relay_only,
            lookups: Vec::new(),
            resolved_tx,
            hosts: Vec::new(),
            stun: stun::Queries::default(),
            allocations: Vec::new(),
            reflexive: Vec::new(),
            candidates: Vec::new(),
            news: VecDeque::new(),
            complete: false,
        };
        (gatherer, resolved_rx)
    }

    /// Whether there is a TURN server to relay through.
    pub(crate) fn has_turn(&self) -> bool {
        self.targets
            .iter()
            .any(|t| matches!(t.kind, Kind::Turn { .. }))
    }

    /// Starts gathering from the sockets bound to `hosts` (again, after
    /// [`Self::release`], when the sockets were replaced).
    pub(crate) fn start(&mut self, now: Instant, hosts: &[SocketAddr]) {
        self.hosts = hosts.to_vec();
        self.complete = false;
        for index in 0..self.targets.len() {
            if self.addresses[index].is_some() {
                self.begin(now, index);
            } else if !self.lookups.iter().any(|(i, _)| *i == index) {
                self.look_up(index);
            }
        }
        self.check_complete();
    }

    /// A host-name lookup ended: gather from that server now.
    pub(crate) fn on_resolved(&mut self, now: Instant, resolved: Resolved) {
        let Resolved { index, addresses } = resolved;
        let Some(slot) = self.addresses.get_mut(index) else {
            return;
        };
        if addresses.is_empty() {
            tracing::warn!(url = %self.targets[index].url, "ICE server name did not resolve");
        }
        *slot = Some(addresses);
        self.begin(now, index);
        self.check_complete();
    }

    /// The candidates found so far for the current sockets.
    pub(crate) fn candidates(&self) -> &[RTCIceCandidateInit] {
        &self.candidates
    }

    /// Every server answered or was given up on.
    pub(crate) fn is_complete(&self) -> bool {
        self.complete
    }

    /// Takes what is ours out of the datagrams arriving on the call's
    /// sockets; returns the rest (the peer's) for the peer connection.
    pub(crate) fn intercept(&mut self, now: Instant, datagram: Datagram) -> Option<Datagram> {
        if let Some(outcome) = self.stun.handle(datagram.local, &datagram.data) {
            self.on_stun(outcome);
            self.check_complete();
            return None;
        }
        let Some(allocation) = self
            .allocations
            .iter_mut()
            .find(|a| a.is_from_server(datagram.local, datagram.peer))
        else {
            return Some(datagram);
        };
        allocation.handle(now, datagram.data);
        self.collect();
        None
    }

    /// Sends what the peer connection wrote from `local`, if `local` is one
    /// of our relayed addresses (`false`: it is not).
    pub(crate) fn relay_send(
        &mut self,
        now: Instant,
        local: SocketAddr,
        peer: SocketAddr,
        data: BytesMut,
    ) -> bool {
        let Some(allocation) = self
            .allocations
            .iter_mut()
            .find(|a| a.relayed() == Some(local))
        else {
            return false;
        };
        allocation.send(now, peer, data);
        self.collect();
        true
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        for outcome in self.stun.handle_timeout(now) {
            self.on_stun(outcome);
        }
        for allocation in &mut self.allocations {
            allocation.handle_timeout(now);
        }
        self.collect();
    }

    pub(crate) fn poll_timeout(&mut self) -> Option<Instant> {
        self.allocations
            .iter_mut()
            .filter_map(turn::Allocation::poll_timeout)
            .chain(self.stun.poll_timeout())
            .min()
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(transmit) = self.stun.poll_transmit() {
            return Some(transmit);
        }
        self.allocations
            .iter_mut()
            .find_map(turn::Allocation::poll_transmit)
    }

    pub(crate) fn poll(&mut self) -> Option<Gathered> {
        self.news.pop_front()
    }

    /// Ends everything made from the current sockets: allocations are
    /// released (the requests are returned, to send before the sockets
    /// close), requests under way forgotten, candidates dropped.
    pub(crate) fn release(&mut self, now: Instant) -> Vec<Transmit> {
        let mut last = Vec::new();
        for allocation in &mut self.allocations {
            allocation.release(now);
            while let Some(transmit) = allocation.poll_transmit() {
                last.push(transmit);
            }
        }
        self.allocations.clear();
        self.stun.clear();
        self.reflexive.clear();
        self.candidates.clear();
        self.news.clear();
        last
    }

    fn look_up(&mut self, index: usize) {
        let target = &self.targets[index];
        let (host, port, tx) = (target.host.clone(), target.port, self.resolved_tx.clone());
        let task = tokio::spawn(async move {
            let lookup = tokio::net::lookup_host((host.as_str(), port));
            let addresses = match tokio::time::timeout(LOOKUP_TIMEOUT, lookup).await {
                Ok(Ok(found)) => found.collect(),
                _ => Vec::new(),
            };
            let _ = tx.send(Resolved { index, addresses });
        });
        self.lookups.push((index, task));
    }

    /// Asks the server of `targets[index]` from every socket of the same
    /// address family (its first address of that family).
    fn begin(&mut self, now: Instant, index: usize) {
        let target = self.targets[index].clone();
        let addresses = self.addresses[index].clone().unwrap_or_default();
        for base in self.hosts.clone() {
            let Some(server) = addresses.iter().find(|a| a.is_ipv4() == base.is_ipv4()) else {
                continue;
            };
            let result = match &target.kind {
                Kind::Stun => self.stun.start(now, &target.url, base, *server),
                Kind::Turn {
                    username,
                    credential,
                } => turn::Allocation::start(now, &target.url, base, *server, username, credential)
                    .map(|allocation| self.allocations.push(allocation)),
            };
            if let Err(e) = result {
                tracing::warn!(url = %target.url, %base, error = %e, "cannot ask the ICE server");
            }
        }
    }

    fn on_stun(&mut self, outcome: stun::Outcome) {
        match outcome {
            stun::Outcome::Mapped { url, base, mapped } => {
                if !candidate::is_new_server_reflexive(mapped, base, &self.hosts, &self.reflexive) {
                    tracing::debug!(%url, %base, %mapped, "server-reflexive address is not new");
                    return;
                }
                self.reflexive.push((base, mapped));
                tracing::info!(%url, %base, %mapped, "server-reflexive candidate");
                match candidate::server_reflexive(mapped, base, &url) {
                    Ok(init) => self.found(init),
                    Err(e) => tracing::warn!(error = %e, "cannot describe a srflx candidate"),
                }
            }
            stun::Outcome::Failed { url, base, reason } => {
                tracing::info!(%url, %base, %reason, "no server-reflexive address");
            }
        }
    }

    /// Takes the allocations' news.
    fn collect(&mut self) {
        let mut news = Vec::new();
        for allocation in &mut self.allocations {
            while let Some(item) = allocation.poll_news() {
                news.push((allocation.url.clone(), allocation.base, item));
            }
        }
        self.allocations.retain(|a| !a.is_done());
        for (url, base, item) in news {
            match item {
                turn::News::Allocated { relayed } => {
                    tracing::info!(%url, %base, %relayed, "relay candidate");
                    let related = (!self.relay_only).then_some(base);
                    match candidate::relay(relayed, related, &url) {
                        Ok(init) => self.found(init),
                        Err(e) => tracing::warn!(error = %e, "cannot describe a relay candidate"),
                    }
                }
                turn::News::Failed { reason } => {
                    tracing::warn!(%url, %base, %reason, "no TURN relay");
                }
                turn::News::Data {
                    relayed,
                    from,
                    data,
                } => self.news.push_back(Gathered::Relayed {
                    relayed,
                    from,
                    data,
                }),
            }
        }
        self.check_complete();
    }

    fn found(&mut self, init: RTCIceCandidateInit) {
        self.candidates.push(init.clone());
        self.news.push_back(Gathered::Candidate(init));
    }

    fn check_complete(&mut self) {
        let done = self.addresses.iter().all(Option::is_some)
            && self.stun.is_idle()
            && !self.allocations.iter().any(turn::Allocation::is_pending);
        if done && !self.complete {
            self.complete = true;
            self.news.push_back(Gathered::Complete);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn stun_server(url: &str) -> IceServer {
        IceServer {
            urls: vec![url.to_owned()],
            username: None,
            credential: None,
        }
    }

    fn datagram(local: SocketAddr, peer: SocketAddr, data: &[u8]) -> Datagram {
        Datagram {
            local,
            peer,
            at: Instant::now(),
            data: BytesMut::from(data),
        }
    }

    /// Answers the gatherer's one pending STUN request with `mapped`.
    fn answer_with(gatherer: &mut Gatherer, mapped: SocketAddr) -> Option<Datagram> {
        let request = gatherer.poll_transmit().expect("a Binding request");
        let response = stun::tests::answer(&request.data, mapped);
        gatherer.intercept(
            Instant::now(),
            datagram(request.local, request.to, &response),
        )
    }

    fn news(gatherer: &mut Gatherer) -> Vec<Gathered> {
        std::iter::from_fn(|| gatherer.poll()).collect()
    }

    #[test]
    fn a_mapped_address_behind_a_nat_becomes_a_srflx_candidate() {
        let (mut gatherer, _) = Gatherer::new(&[stun_server("stun:198.51.100.1:3478")], false);
        let host = addr("10.0.0.2:5000");
        gatherer.start(Instant::now(), &[host]);
        assert!(!gatherer.is_complete());

        let taken = answer_with(&mut gatherer, addr("203.0.113.9:61000"));
        assert!(taken.is_none(), "the answer is the gatherer's");
        let news = news(&mut gatherer);
        assert_eq!(news.len(), 2, "{news:?}");
        let Gathered::Candidate(init) = &news[0] else {
            panic!("{news:?}")
        };
        assert!(
            init.candidate
                .contains("typ srflx raddr 10.0.0.2 rport 5000")
        );
        assert_eq!(init.url.as_deref(), Some("stun:198.51.100.1:3478"));
        assert!(matches!(news[1], Gathered::Complete));
        assert!(gatherer.is_complete());
        assert_eq!(gatherer.candidates().len(), 1);
    }

    #[test]
    fn on_loopback_the_mapped_address_is_the_host_one_and_is_skipped() {
        let (mut gatherer, _) = Gatherer::new(&[stun_server("stun:127.0.0.1:3478")], false);
        let host = addr("127.0.0.1:5000");
        gatherer.start(Instant::now(), &[host]);
        assert!(answer_with(&mut gatherer, host).is_none());
        let news = news(&mut gatherer);
        assert!(matches!(news[..], [Gathered::Complete]), "{news:?}");
        assert!(gatherer.candidates().is_empty());
    }

    #[test]
    fn the_peers_datagrams_pass_through() {
        let (mut gatherer, _) = Gatherer::new(&[stun_server("stun:198.51.100.1:3478")], false);
        let host = addr("10.0.0.2:5000");
        gatherer.start(Instant::now(), &[host]);
        let rtp = datagram(host, addr("10.0.0.9:7000"), b"\x80\x60\x00\x01 not STUN");
        assert!(gatherer.intercept(Instant::now(), rtp).is_some());
    }

    #[test]
    fn with_no_servers_or_relay_only_without_turn_gathering_is_complete_at_once() {
        let servers = [stun_server("stun:198.51.100.1:3478")];
        let (mut gatherer, _) = Gatherer::new(&servers, true);
        assert!(!gatherer.has_turn());
        gatherer.start(Instant::now(), &[addr("10.0.0.2:5000")]);
        assert!(gatherer.is_complete());
        assert!(
            gatherer.poll_transmit().is_none(),
            "relay-only sends no STUN"
        );
    }

    #[test]
    fn an_unanswered_server_is_given_up_and_gathering_completes() {
        let (mut gatherer, _) = Gatherer::new(&[stun_server("stun:198.51.100.1:3478")], false);
        gatherer.start(Instant::now(), &[addr("10.0.0.2:5000")]);
        while let Some(at) = gatherer.poll_timeout() {
            gatherer.handle_timeout(at);
        }
        assert!(gatherer.is_complete());
        assert!(gatherer.candidates().is_empty());
    }
}
