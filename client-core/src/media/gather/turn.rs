//! One TURN allocation (RFC 8656) made from one of the call's sockets,
//! over webrtc-rs's sans-IO TURN client.
//!
//! The client does the protocol (the 401 challenge, refreshing the
//! allocation at half its lifetime and permissions every two minutes,
//! channel binding); this wrapper adds what a call needs around it:
//! permissions made on demand for whatever address the peer connection
//! sends to, with the first packets held until the permission is granted
//! (ICE checks start the moment a pair forms, and the server drops what
//! it has no permission for), and the allocation released on hang-up.

use super::Transmit;
use bytes::BytesMut;
use rtc::sansio::Protocol;
use rtc::shared::error::Error;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use rtc::stun::message::{TRANSACTION_ID_SIZE, TransactionId};
use rtc::turn::client::{Client, ClientConfig, Event};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Packets held per peer while its permission is requested (ICE checks
/// every 10 ms for a round trip to the server, then the first DTLS
/// flight); more are dropped, as a congested link would.
const MAX_HELD_PER_PEER: usize = 16;
/// After a refused (or unanswered) permission, packets to that peer are
/// dropped this long before asking again, so ICE's checks every 10 ms do
/// not turn into a request storm at the server.
const RETRY_REFUSED_AFTER: Duration = Duration::from_secs(1);

/// What an allocation reports.
#[derive(Debug)]
pub(crate) enum News {
    /// The server allocated `relayed` for us.
    Allocated { relayed: SocketAddr },
    /// No allocation: wrong credentials, no answer, no ports left…
    Failed { reason: String },
    /// `data` came from the peer at `from` through the relay.
    Data {
        relayed: SocketAddr,
        from: SocketAddr,
        data: BytesMut,
    },
}

#[derive(Debug)]
enum State {
    /// The two transactions an allocation may take: the unauthenticated
    /// first attempt and the authenticated one after the 401 (the client
    /// numbers the second as the first plus one).
    Allocating([TransactionId; 2]),
    Allocated(SocketAddr),
    Done,
}

/// One allocation on one TURN server from one socket.
pub(crate) struct Allocation {
    pub(crate) url: String,
    /// The socket the allocation belongs to (its 5-tuple is the allocation).
    pub(crate) base: SocketAddr,
    server: SocketAddr,
    client: Client,
    state: State,
    requested: HashMap<TransactionId, SocketAddr>,
    permitted: HashSet<SocketAddr>,
    held: HashMap<SocketAddr, Vec<BytesMut>>,
    refused_until: HashMap<SocketAddr, Instant>,
    news: VecDeque<News>,
}

impl std::fmt::Debug for Allocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Allocation")
            .field("url", &self.url)
            .field("base", &self.base)
            .field("server", &self.server)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Allocation {
    /// Sends the Allocate request (see [`Self::poll_transmit`]).
    pub(crate) fn start(
        now: Instant,
        url: &str,
        base: SocketAddr,
        server: SocketAddr,
        username: &str,
        credential: &str,
    ) -> Result<Allocation, Error> {
        let config = ClientConfig {
            turn_serv_addr: server.to_string(),
            local_addr: base,
            transport_protocol: TransportProtocol::UDP,
            username: username.to_owned(),
            password: credential.to_owned(),
            ..ClientConfig::default()
        };
        let provider = rtc::crypto::default_provider()
            .map_err(|e| Error::Other(format!("no crypto provider: {e}")))?;
        let mut client = Client::new(config, provider)?;
        let second = client.allocate(now)?;
        let mut first = second;
        first.0[TRANSACTION_ID_SIZE - 1] = first.0[TRANSACTION_ID_SIZE - 1].wrapping_sub(1);
        Ok(Allocation {
            url: url.to_owned(),
            base,
            server,
            client,
            state: State::Allocating([first, second]),
            requested: HashMap::new(),
            permitted: HashSet::new(),
            held: HashMap::new(),
            refused_until: HashMap::new(),
            news: VecDeque::new(),
        })
    }

    /// Whether a datagram that arrived on `local` from `from` is the
    /// server's (answers, relayed data), not the peer's.
    pub(crate) fn is_from_server(&self, local: SocketAddr, from: SocketAddr) -> bool {
        local == self.base && from == self.server
    }

    /// The relayed address, once allocated.
    pub(crate) fn relayed(&self) -> Option<SocketAddr> {
        match self.state {
            State::Allocated(relayed) => Some(relayed),
            _ => None,
        }
    }

    /// Still waiting for the server's answer to the Allocate.
    pub(crate) fn is_pending(&self) -> bool {
        matches!(self.state, State::Allocating(_))
    }

    /// Failed or released: nothing more to do.
    pub(crate) fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// A datagram from the server.
    pub(crate) fn handle(&mut self, now: Instant, data: BytesMut) {
        let message = TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: self.base,
                peer_addr: self.server,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: data,
        };
        if let Err(e) = self.client.handle_read(message) {
            tracing::debug!(url = %self.url, error = %e, "dropped a datagram from the TURN server");
        }
        self.drive(now);
    }

    /// Sends `data` to `peer` through the relay, asking for a permission
    /// first if there is none yet.
    pub(crate) fn send(&mut self, now: Instant, peer: SocketAddr, data: BytesMut) {
        let Some(relayed) = self.relayed() else {
            return;
        };
        if self.permitted.contains(&peer) {
            self.relay_to(now, relayed, peer, &data);
            return;
        }
        if self
            .refused_until
            .get(&peer)
            .is_some_and(|until| now < *until)
        {
            return;
        }
        let held = self.held.entry(peer).or_default();
        if held.len() < MAX_HELD_PER_PEER {
            held.push(data);
        }
        if self.requested.values().any(|p| *p == peer) {
            return;
        }
        match self
            .client
            .relay(relayed)
            .and_then(|mut relay| relay.create_permission(now, peer))
        {
            Ok(Some(tid)) => {
                self.requested.insert(tid, peer);
            }
            // The client holds one already (we lost track after a refusal
            // the client itself retried): use it.
            Ok(None) => self.permit(now, relayed, peer),
            Err(e) => {
                tracing::debug!(url = %self.url, %peer, error = %e, "cannot ask for a TURN permission");
                self.refuse(now, peer);
            }
        }
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if let Err(e) = self.client.handle_timeout(now) {
            tracing::debug!(url = %self.url, error = %e, "TURN client timeout");
        }
        self.drive(now);
    }

    pub(crate) fn poll_timeout(&mut self) -> Option<Instant> {
        if self.is_done() {
            return None;
        }
        self.client.poll_timeout()
    }

    /// What to send to the server (drained after a release too: the
    /// release request is the last thing out).
    pub(crate) fn poll_transmit(&mut self) -> Option<Transmit> {
        self.client.poll_write().map(|out| Transmit {
            local: self.base,
            to: out.transport.peer_addr,
            data: out.message.to_vec(),
        })
    }

    pub(crate) fn poll_news(&mut self) -> Option<News> {
        self.news.pop_front()
    }

    /// Releases the allocation (a Refresh with lifetime 0) so the server
    /// frees its port now rather than when the lifetime runs out. Not
    /// waited for: if it is lost, the lifetime still ends it.
    pub(crate) fn release(&mut self, now: Instant) {
        if let Some(relayed) = self.relayed()
            && let Err(e) = self
                .client
                .relay(relayed)
                .and_then(|mut relay| relay.close(now))
        {
            tracing::debug!(url = %self.url, error = %e, "could not release the TURN allocation");
        }
        self.state = State::Done;
    }

    /// Turns the client's events into ours.
    fn drive(&mut self, now: Instant) {
        while let Some(event) = self.client.poll_event() {
            match event {
                Event::AllocateResponse(_, relayed) if self.is_pending() => {
                    self.state = State::Allocated(relayed);
                    self.news.push_back(News::Allocated { relayed });
                }
                Event::AllocateError(_, e) if self.is_pending() => {
                    self.fail(format!("allocation refused: {e}"));
                }
                Event::TransactionTimeout(tid) => {
                    if matches!(&self.state, State::Allocating(tids) if tids.contains(&tid)) {
                        self.fail("the TURN server did not answer".to_owned());
                    } else if let Some(peer) = self.requested.remove(&tid) {
                        self.refuse(now, peer);
                    }
                }
                Event::CreatePermissionResponse(tid, _) => {
                    if let (Some(peer), Some(relayed)) =
                        (self.requested.remove(&tid), self.relayed())
                    {
                        self.permit(now, relayed, peer);
                    }
                }
                Event::CreatePermissionError(tid, e) => {
                    if let Some(peer) = self.requested.remove(&tid) {
                        tracing::debug!(url = %self.url, %peer, error = %e, "TURN permission refused");
                        // A stale nonce (438) was renewed by the client:
                        // the next packet asks again at once.
                        if e == Error::ErrTryAgain {
                            self.held.remove(&peer);
                        } else {
                            self.refuse(now, peer);
                        }
                    }
                }
                Event::DataIndicationOrChannelData(_, from, data) => {
                    if let Some(relayed) = self.relayed() {
                        self.news.push_back(News::Data {
                            relayed,
                            from,
                            data,
                        });
                    }
                }
                _ => {}
            }
        }
    }

    fn permit(&mut self, now: Instant, relayed: SocketAddr, peer: SocketAddr) {
        self.permitted.insert(peer);
        self.refused_until.remove(&peer);
        for data in self.held.remove(&peer).unwrap_or_default() {
            self.relay_to(now, relayed, peer, &data);
        }
    }

    fn refuse(&mut self, now: Instant, peer: SocketAddr) {
        self.held.remove(&peer);
        self.refused_until.insert(peer, now + RETRY_REFUSED_AFTER);
    }

    fn relay_to(&mut self, now: Instant, relayed: SocketAddr, peer: SocketAddr, data: &[u8]) {
        if let Err(e) = self
            .client
            .relay(relayed)
            .and_then(|mut relay| relay.send_to(now, data, peer))
        {
            tracing::trace!(url = %self.url, %peer, error = %e, "TURN send failed");
        }
    }

    fn fail(&mut self, reason: String) {
        self.state = State::Done;
        self.news.push_back(News::Failed { reason });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::stun::attributes::{ATTR_NONCE, ATTR_REALM};
    use rtc::stun::error_code::{CODE_FORBIDDEN, CODE_UNAUTHORIZED};
    use rtc::stun::message::{
        CLASS_ERROR_RESPONSE, CLASS_INDICATION, CLASS_SUCCESS_RESPONSE, METHOD_ALLOCATE,
        METHOD_CHANNEL_BIND, METHOD_CREATE_PERMISSION, METHOD_DATA, METHOD_REFRESH, METHOD_SEND,
        Message, MessageType, Setter,
    };
    use rtc::stun::textattrs::TextAttribute;
    use rtc::turn::proto::data::Data;
    use rtc::turn::proto::lifetime::Lifetime;
    use rtc::turn::proto::peeraddr::PeerAddress;
    use rtc::turn::proto::relayaddr::RelayedAddress;

    const BASE: &str = "10.0.0.2:5000";
    const SERVER: &str = "198.51.100.1:3478";
    const RELAYED: &str = "198.51.100.1:49152";
    const PEER: &str = "203.0.113.9:61000";

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn decode(transmit: &Transmit) -> Message {
        let mut msg = Message {
            raw: transmit.data.clone(),
            ..Message::default()
        };
        msg.decode().unwrap();
        msg
    }

    fn message(setters: Vec<Box<dyn Setter>>) -> BytesMut {
        let mut msg = Message::new();
        msg.build(&setters).unwrap();
        BytesMut::from(&msg.raw[..])
    }

    /// The one request the allocation sent; fails if it sent none or more.
    fn sent(allocation: &mut Allocation) -> Message {
        let transmit = allocation.poll_transmit().expect("a request");
        assert_eq!((transmit.local, transmit.to), (addr(BASE), addr(SERVER)));
        assert!(allocation.poll_transmit().is_none());
        decode(&transmit)
    }

    /// A server that challenges the first Allocate and grants the second.
    fn allocated(now: Instant) -> Allocation {
        let mut allocation =
            Allocation::start(now, "turn:t", addr(BASE), addr(SERVER), "user", "pass").unwrap();
        assert!(allocation.is_pending());
        let first = sent(&mut allocation);
        assert_eq!(first.typ.method, METHOD_ALLOCATE);
        allocation.handle(
            now,
            message(vec![
                Box::new(first.transaction_id),
                Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_ERROR_RESPONSE)),
                Box::new(CODE_UNAUTHORIZED),
                Box::new(TextAttribute::new(ATTR_NONCE, "nonce".into())),
                Box::new(TextAttribute::new(ATTR_REALM, "clinicall.test".into())),
            ]),
        );
        let second = sent(&mut allocation);
        assert_eq!(second.typ.method, METHOD_ALLOCATE);
        let relayed = addr(RELAYED);
        allocation.handle(
            now,
            message(vec![
                Box::new(second.transaction_id),
                Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_SUCCESS_RESPONSE)),
                Box::new(RelayedAddress {
                    ip: relayed.ip(),
                    port: relayed.port(),
                }),
                Box::new(Lifetime(Duration::from_secs(600))),
            ]),
        );
        assert!(matches!(
            allocation.poll_news(),
            Some(News::Allocated { relayed: r }) if r == relayed
        ));
        assert_eq!(allocation.relayed(), Some(relayed));
        allocation
    }

    fn answer(request: &Message, class: rtc::stun::message::MessageClass) -> BytesMut {
        let mut setters: Vec<Box<dyn Setter>> = vec![
            Box::new(request.transaction_id),
            Box::new(MessageType::new(request.typ.method, class)),
        ];
        if class == CLASS_ERROR_RESPONSE {
            setters.push(Box::new(CODE_FORBIDDEN));
        }
        message(setters)
    }

    #[test]
    fn packets_wait_for_their_permission_then_go_through_the_relay() {
        let now = Instant::now();
        let mut allocation = allocated(now);
        let peer = addr(PEER);

        allocation.send(now, peer, BytesMut::from(&b"check 1"[..]));
        allocation.send(now, peer, BytesMut::from(&b"check 2"[..]));
        // One request for both; nothing reaches the server before it.
        let request = sent(&mut allocation);
        assert_eq!(request.typ.method, METHOD_CREATE_PERMISSION);
        let mut asked = PeerAddress::default();
        rtc::stun::message::Getter::get_from(&mut asked, &request).unwrap();
        assert_eq!(SocketAddr::new(asked.ip, asked.port), peer);

        allocation.handle(now, answer(&request, CLASS_SUCCESS_RESPONSE));
        let out: Vec<Message> = std::iter::from_fn(|| allocation.poll_transmit())
            .map(|t| decode(&t))
            .collect();
        // The held packets go out as Send indications (in order), and a
        // channel is bound for what follows.
        let sends: Vec<Vec<u8>> = out
            .iter()
            .filter(|m| m.typ == MessageType::new(METHOD_SEND, CLASS_INDICATION))
            .map(|m| {
                let mut data = Data::default();
                rtc::stun::message::Getter::get_from(&mut data, m).unwrap();
                data.0
            })
            .collect();
        assert_eq!(sends, [b"check 1".to_vec(), b"check 2".to_vec()]);
        assert!(out.iter().any(|m| m.typ.method == METHOD_CHANNEL_BIND));

        // What the peer sends arrives as data from the peer, at our relayed
        // address.
        allocation.handle(
            now,
            message(vec![
                Box::new(rtc::stun::message::TransactionId::new()),
                Box::new(MessageType::new(METHOD_DATA, CLASS_INDICATION)),
                Box::new(Data(b"answer".to_vec())),
                Box::new(PeerAddress {
                    ip: peer.ip(),
                    port: peer.port(),
                }),
            ]),
        );
        let Some(News::Data {
            relayed,
            from,
            data,
        }) = allocation.poll_news()
        else {
            panic!("no data")
        };
        assert_eq!(
            (relayed, from, &data[..]),
            (addr(RELAYED), peer, &b"answer"[..])
        );
    }

    #[test]
    fn a_refused_peer_is_not_asked_again_at_once() {
        let now = Instant::now();
        let mut allocation = allocated(now);
        let peer = addr(PEER);
        allocation.send(now, peer, BytesMut::from(&b"check"[..]));
        let request = sent(&mut allocation);
        allocation.handle(now, answer(&request, CLASS_ERROR_RESPONSE));
        assert!(allocation.poll_transmit().is_none(), "held packets dropped");

        // ICE keeps checking every 10 ms: no request storm…
        allocation.send(
            now + Duration::from_millis(10),
            peer,
            BytesMut::from(&b"c"[..]),
        );
        assert!(allocation.poll_transmit().is_none());
        // …but a later try asks again.
        allocation.send(now + RETRY_REFUSED_AFTER, peer, BytesMut::from(&b"c"[..]));
        assert_eq!(sent(&mut allocation).typ.method, METHOD_CREATE_PERMISSION);
    }

    #[test]
    fn release_sends_a_zero_lifetime_refresh() {
        let now = Instant::now();
        let mut allocation = allocated(now);
        allocation.release(now);
        let refresh = sent(&mut allocation);
        assert_eq!(refresh.typ.method, METHOD_REFRESH);
        let mut lifetime = Lifetime::default();
        rtc::stun::message::Getter::get_from(&mut lifetime, &refresh).unwrap();
        assert_eq!(lifetime.0, Duration::ZERO);
        assert!(allocation.is_done());
        assert_eq!(allocation.poll_timeout(), None);
    }

    #[test]
    fn a_wrong_credential_fails_the_allocation() {
        let now = Instant::now();
        let mut allocation =
            Allocation::start(now, "turn:t", addr(BASE), addr(SERVER), "user", "pass").unwrap();
        let first = sent(&mut allocation);
        allocation.handle(
            now,
            message(vec![
                Box::new(first.transaction_id),
                Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_ERROR_RESPONSE)),
                Box::new(CODE_UNAUTHORIZED),
                Box::new(TextAttribute::new(ATTR_NONCE, "nonce".into())),
                Box::new(TextAttribute::new(ATTR_REALM, "clinicall.test".into())),
            ]),
        );
        let second = sent(&mut allocation);
        allocation.handle(
            now,
            message(vec![
                Box::new(second.transaction_id),
                Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_ERROR_RESPONSE)),
                Box::new(CODE_UNAUTHORIZED),
            ]),
        );
        assert!(matches!(allocation.poll_news(), Some(News::Failed { .. })));
        assert!(allocation.is_done());
    }
}
