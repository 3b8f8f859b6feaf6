//! Describing gathered addresses as ICE candidates.

use rtc::peer_connection::transport::{
    CandidateConfig, CandidateRelayConfig, CandidateServerReflexiveConfig, RTCIceCandidate,
    RTCIceCandidateInit,
};
use rtc::shared::error::Error;
use std::net::SocketAddr;

/// A server-reflexive candidate: `mapped` is how the STUN server at `url`
/// saw the socket bound to `base`.
pub(crate) fn server_reflexive(
    mapped: SocketAddr,
    base: SocketAddr,
    url: &str,
) -> Result<RTCIceCandidateInit, Error> {
    let candidate = CandidateServerReflexiveConfig {
        base_config: config(mapped),
        rel_addr: base.ip().to_string(),
        rel_port: base.port(),
        url: Some(url.to_owned()),
    }
    .new_candidate_server_reflexive()?;
    with_url(RTCIceCandidate::from(&candidate).to_json()?, url)
}

/// A relay candidate: `relayed` is the address the TURN server at `url`
/// allocated for us. `related` is the socket it was allocated from, or
/// `None` to hide it (a relay-only client does not reveal its own
/// addresses; browsers send `0.0.0.0 0` then too).
pub(crate) fn relay(
    relayed: SocketAddr,
    related: Option<SocketAddr>,
    url: &str,
) -> Result<RTCIceCandidateInit, Error> {
    let related = related.unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
    let candidate = CandidateRelayConfig {
        base_config: config(relayed),
        rel_addr: related.ip().to_string(),
        rel_port: related.port(),
        url: Some(url.to_owned()),
    }
    .new_candidate_relay()?;
    with_url(RTCIceCandidate::from(&candidate).to_json()?, url)
}

fn config(address: SocketAddr) -> CandidateConfig {
    CandidateConfig {
        network: "udp".to_owned(),
        address: address.ip().to_string(),
        port: address.port(),
        component: 1,
        ..Default::default()
    }
}

/// The stack's stats report where a candidate came from only if we say so
/// when adding it (it did not gather it itself).
fn with_url(mut init: RTCIceCandidateInit, url: &str) -> Result<RTCIceCandidateInit, Error> {
    init.url = Some(url.to_owned());
    Ok(init)
}

/// Whether a server-reflexive address adds anything: not when it is one of
/// our host addresses (no NAT in between, as on loopback: the peer gets
/// that one as a host candidate already), nor when another server already
/// reported it for the same socket.
pub(crate) fn is_new_server_reflexive(
    mapped: SocketAddr,
    base: SocketAddr,
    hosts: &[SocketAddr],
    gathered: &[(SocketAddr, SocketAddr)],
) -> bool {
    !hosts.contains(&mapped) && !gathered.contains(&(base, mapped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn server_reflexive_names_its_base_and_server() {
        let init = server_reflexive(
            addr("203.0.113.9:61000"),
            addr("10.0.0.2:5000"),
            "stun:stun.example.org",
        )
        .unwrap();
        let c = &init.candidate;
        assert!(
            c.contains(" 203.0.113.9 61000 typ srflx raddr 10.0.0.2 rport 5000"),
            "{c}"
        );
        assert!(c.contains(" udp "), "{c}");
        assert_eq!(init.url.as_deref(), Some("stun:stun.example.org"));
    }

    #[test]
    fn relay_shows_or_hides_the_socket_it_came_from() {
        let relayed = addr("198.51.100.7:49160");
        let init = relay(relayed, Some(addr("10.0.0.2:5000")), "turn:t").unwrap();
        assert!(
            init.candidate
                .contains(" 198.51.100.7 49160 typ relay raddr 10.0.0.2 rport 5000"),
            "{}",
            init.candidate
        );
        let hidden = relay(relayed, None, "turn:t").unwrap();
        assert!(
            hidden.candidate.contains("typ relay raddr 0.0.0.0 rport 0"),
            "{}",
            hidden.candidate
        );
        assert_eq!(hidden.url.as_deref(), Some("turn:t"));
    }

    #[test]
    fn a_mapped_address_equal_to_a_host_or_already_known_is_skipped() {
        let base = addr("127.0.0.1:5000");
        let hosts = [base, addr("10.0.0.2:6000")];
        // Loopback: the server sees the socket as it is.
        assert!(!is_new_server_reflexive(base, base, &hosts, &[]));
        // Behind a NAT: new, once.
        let mapped = addr("203.0.113.9:61000");
        assert!(is_new_server_reflexive(mapped, base, &hosts, &[]));
        assert!(!is_new_server_reflexive(
            mapped,
            base,
            &hosts,
            &[(base, mapped)]
        ));
        // The same mapping reported for another socket is another candidate.
        assert!(is_new_server_reflexive(
            mapped,
            hosts[1],
            &hosts,
            &[(base, mapped)]
        ));
    }
}
