//! Server-reflexive addresses: a STUN Binding request (RFC 5389) from one
//! of the call's sockets to a STUN server, answered with the address the
//! server saw it come from (what a NAT maps the socket to).
//!
//! Pure: time is an argument, bytes go out through [`Queries::poll_transmit`]
//! and answers come in through [`Queries::handle`]. The request leaves from
//! the very socket that carries the call, so the mapping is the one the
//! peer will see; its answer therefore arrives mixed with ICE traffic and
//! is told apart by its transaction id alone (RFC 5389 §7.3.3).

use super::Transmit;
use rtc::stun::message::{
    BINDING_ERROR, BINDING_REQUEST, BINDING_SUCCESS, Getter, Message, Setter, TransactionId,
    is_stun_message,
};
use rtc::stun::xoraddr::XorMappedAddress;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// First retransmission timeout; it doubles after each send (RFC 5389
/// §7.2.1 recommends 500 ms).
const FIRST_RTO: Duration = Duration::from_millis(500);
/// A server that has not answered by then is taken to be unreachable
/// (sends at 0, 0.5 and 1.5 s). RFC 5389's full schedule lasts 39.5 s;
/// a call cannot wait that long for a candidate, and host (and relay)
/// candidates do not wait for it anyway.
const GIVE_UP_AFTER: Duration = Duration::from_secs(3);

/// How one Binding request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The server saw `base` as `mapped`.
    Mapped {
        url: String,
        base: SocketAddr,
        mapped: SocketAddr,
    },
    /// No usable answer (an error response, or none in time).
    Failed {
        url: String,
        base: SocketAddr,
        reason: String,
    },
}

#[derive(Debug)]
struct Query {
    url: String,
    base: SocketAddr,
    server: SocketAddr,
    tid: TransactionId,
    raw: Vec<u8>,
    give_up_at: Instant,
    next_send: Instant,
    rto: Duration,
}

/// The Binding requests under way.
#[derive(Debug, Default)]
pub(crate) struct Queries {
    queries: Vec<Query>,
    transmits: Vec<Transmit>,
}

impl Queries {
    /// Asks `server` (from the socket bound to `base`) what it sees.
    pub(crate) fn start(
        &mut self,
        now: Instant,
        url: &str,
        base: SocketAddr,
        server: SocketAddr,
    ) -> Result<(), rtc::shared::error::Error> {
        let (tid, raw) = binding_request()?;
        self.transmits.push(Transmit {
            local: base,
            to: server,
            data: raw.clone(),
        });
        self.queries.push(Query {
            url: url.to_owned(),
            base,
            server,
            tid,
            raw,
            give_up_at: now + GIVE_UP_AFTER,
            next_send: now + FIRST_RTO,
            rto: FIRST_RTO * 2,
        });
        Ok(())
    }

    /// A datagram that arrived on the socket bound to `local`: the answer
    /// to one of our requests (consumed), or `None` when it is not ours.
    pub(crate) fn handle(&mut self, local: SocketAddr, data: &[u8]) -> Option<Outcome> {
        if self.queries.is_empty() {
            return None; // the usual case, for every media packet
        }
        let (tid, answer) = parse_binding_response(data)?;
        let index = self
            .queries
            .iter()
            .position(|q| q.tid == tid && q.base == local)?;
        let query = self.queries.swap_remove(index);
        Some(match answer {
            Ok(mapped) => Outcome::Mapped {
                url: query.url,
                base: query.base,
                mapped,
            },
            Err(reason) => Outcome::Failed {
                url: query.url,
                base: query.base,
                reason,
            },
        })
    }

    /// Retransmits what is due and gives up on what is too late.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Vec<Outcome> {
        let mut ended = Vec::new();
        let mut i = 0;
        while i < self.queries.len() {
            let query = &mut self.queries[i];
            if now >= query.give_up_at {
                let query = self.queries.swap_remove(i);
                ended.push(Outcome::Failed {
                    url: query.url,
                    base: query.base,
                    reason: format!("no answer within {GIVE_UP_AFTER:?}"),
                });
                continue;
            }
            if now >= query.next_send {
                self.transmits.push(Transmit {
                    local: query.base,
                    to: query.server,
                    data: query.raw.clone(),
                });
                query.next_send = now + query.rto;
                query.rto *= 2;
            }
            i += 1;
        }
        ended
    }

    /// When [`Self::handle_timeout`] next has something to do.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.queries
            .iter()
            .map(|q| q.next_send.min(q.give_up_at))
            .min()
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.transmits.is_empty() {
            None
        } else {
            Some(self.transmits.remove(0))
        }
    }

    /// No request is waiting for its answer.
    pub(crate) fn is_idle(&self) -> bool {
        self.queries.is_empty()
    }

    /// Forgets every request (their sockets are gone).
    pub(crate) fn clear(&mut self) {
        self.queries.clear();
        self.transmits.clear();
    }
}

/// A new Binding request: its transaction id and bytes.
fn binding_request() -> Result<(TransactionId, Vec<u8>), rtc::shared::error::Error> {
    let mut msg = Message::new();
    let setters: [Box<dyn Setter>; 2] = [Box::new(TransactionId::new()), Box::new(BINDING_REQUEST)];
    msg.build(&setters)?;
    Ok((msg.transaction_id, msg.raw))
}

/// A Binding response's transaction id and the mapped address it carries
/// (or why there is none); `None` for anything else.
fn parse_binding_response(data: &[u8]) -> Option<(TransactionId, Result<SocketAddr, String>)> {
    if !is_stun_message(data) {
        return None;
    }
    let mut msg = Message {
        raw: data.to_vec(),
        ..Message::default()
    };
    msg.decode().ok()?;
    if msg.typ == BINDING_SUCCESS {
        let mut mapped = XorMappedAddress::default();
        let answer = mapped
            .get_from(&msg)
            .map(|()| SocketAddr::new(mapped.ip, mapped.port))
            .map_err(|e| format!("no XOR-MAPPED-ADDRESS: {e}"));
        Some((msg.transaction_id, answer))
    } else if msg.typ == BINDING_ERROR {
        Some((msg.transaction_id, Err("error response".to_owned())))
    } else {
        None
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What a STUN server answers to `request`: `mapped` as the address it
    /// saw.
    pub(crate) fn answer(request: &[u8], mapped: SocketAddr) -> Vec<u8> {
        let mut req = Message {
            raw: request.to_vec(),
            ..Message::default()
        };
        req.decode().unwrap();
        let mut msg = Message::new();
        let setters: [Box<dyn Setter>; 3] = [
            Box::new(req.transaction_id),
            Box::new(BINDING_SUCCESS),
            Box::new(XorMappedAddress {
                ip: mapped.ip(),
                port: mapped.port(),
            }),
        ];
        msg.build(&setters).unwrap();
        msg.raw
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_answer_is_matched_by_transaction_id_on_its_socket() {
        let now = Instant::now();
        let (base, server) = (addr("10.0.0.2:5000"), addr("198.51.100.1:3478"));
        let mut queries = Queries::default();
        queries.start(now, "stun:s", base, server).unwrap();
        let sent = queries.poll_transmit().unwrap();
        assert_eq!((sent.local, sent.to), (base, server));
        assert!(queries.poll_transmit().is_none());

        let mapped = addr("203.0.113.9:61000");
        let response = answer(&sent.data, mapped);
        // The same answer on another socket, or an ICE check's answer
        // (another transaction), is not ours.
        assert_eq!(queries.handle(addr("10.0.0.3:5000"), &response), None);
        let (_, other) = binding_request().unwrap();
        assert_eq!(queries.handle(base, &answer(&other, mapped)), None);
        assert_eq!(queries.handle(base, b"\x80\x60 RTP, not STUN"), None);

        assert_eq!(
            queries.handle(base, &response),
            Some(Outcome::Mapped {
                url: "stun:s".into(),
                base,
                mapped
            })
        );
        assert!(queries.is_idle());
        // A duplicate (a retransmission's answer) is no longer ours.
        assert_eq!(queries.handle(base, &response), None);
    }

    #[test]
    fn requests_are_resent_at_doubling_intervals_then_given_up() {
        let t0 = Instant::now();
        let base = addr("10.0.0.2:5000");
        let mut queries = Queries::default();
        queries
            .start(t0, "stun:s", base, addr("198.51.100.1:3478"))
            .unwrap();
        let first = queries.poll_transmit().unwrap();

        let mut sends = vec![Duration::ZERO];
        let mut ended = Vec::new();
        while let Some(at) = queries.poll_timeout() {
            ended.extend(queries.handle_timeout(at));
            while let Some(again) = queries.poll_transmit() {
                assert_eq!(again.data, first.data, "the same transaction");
                sends.push(at - t0);
            }
        }
        let ms = |v: u64| Duration::from_millis(v);
        assert_eq!(sends, [ms(0), ms(500), ms(1500)]);
        assert_eq!(ended.len(), 1);
        assert!(matches!(&ended[0], Outcome::Failed { base: b, .. } if *b == base));
        assert!(queries.is_idle());
    }

    #[test]
    fn an_error_response_fails_the_query() {
        let now = Instant::now();
        let base = addr("10.0.0.2:5000");
        let mut queries = Queries::default();
        queries
            .start(now, "stun:s", base, addr("198.51.100.1:3478"))
            .unwrap();
        let sent = queries.poll_transmit().unwrap();
        let mut req = Message {
            raw: sent.data,
            ..Message::default()
        };
        req.decode().unwrap();
        let mut error = Message::new();
        let setters: [Box<dyn Setter>; 2] = [Box::new(req.transaction_id), Box::new(BINDING_ERROR)];
        error.build(&setters).unwrap();
        assert!(matches!(
            queries.handle(base, &error.raw),
            Some(Outcome::Failed { .. })
        ));
    }
}
