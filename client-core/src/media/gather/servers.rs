//! Which of the welcome's ICE servers we can gather from, and how.
//!
//! We reach servers over UDP from the call's own sockets only: `stun:`
//! for server-reflexive candidates and `turn:` (UDP) with credentials for
//! relay candidates. `stuns:`, `turns:` and TURN over TCP need a TLS or
//! TCP connection per server, which the session does not have; they are
//! skipped (logged) rather than failing the call.

use clinicall_protocol::IceServer;
use rtc::ice::url::{ProtoType, SchemeType, Url};
use std::net::{IpAddr, SocketAddr};

/// One server to gather from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// The URL as the welcome gave it (reported with the candidate).
    pub(crate) url: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) kind: Kind,
}

/// What a [`Target`] gives us.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A STUN server: our server-reflexive address.
    Stun,
    /// A TURN server: a relayed address, with these long-term credentials.
    Turn {
        username: String,
        credential: String,
    },
}

// Hand-written so TURN credentials never reach a log.
impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kind::Stun => f.write_str("Stun"),
            Kind::Turn { username, .. } => f
                .debug_struct("Turn")
                .field("username", username)
                .finish_non_exhaustive(),
        }
    }
}

impl Target {
    /// The address when the URL names an IP (no lookup needed).
    pub(crate) fn literal(&self) -> Option<SocketAddr> {
        self.host
            .parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, self.port))
    }
}

/// The targets among `servers`, in order, without duplicates. With
/// `relay_only`, STUN servers are left out: a server-reflexive address
/// would not be offered anyway.
pub(crate) fn targets(servers: &[IceServer], relay_only: bool) -> Vec<Target> {
    let mut targets: Vec<Target> = Vec::new();
    for server in servers {
        for raw in &server.urls {
            let Some(target) = target(raw, server) else {
                continue;
            };
            if relay_only && target.kind == Kind::Stun {
                continue;
            }
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
    }
    targets
}

fn target(raw: &str, server: &IceServer) -> Option<Target> {
    let url = match Url::parse_url(raw) {
        Ok(url) => url,
        Err(e) => {
            tracing::warn!(url = raw, error = %e, "ignoring an ICE server URL we cannot parse");
            return None;
        }
    };
    let kind = match (url.scheme, url.proto) {
        (SchemeType::Stun, _) => Kind::Stun,
        (SchemeType::Turn, ProtoType::Udp) => {
            let (Some(username), Some(credential)) = (&server.username, &server.credential) else {
                tracing::warn!(url = raw, "ignoring a TURN server without credentials");
                return None;
            };
            Kind::Turn {
                username: username.clone(),
                credential: credential.clone(),
            }
        }
        _ => {
            tracing::info!(
                url = raw,
                "skipping an ICE server: only stun: and turn: over UDP are supported"
            );
            return None;
        }
    };
    Some(Target {
        url: raw.to_owned(),
        host: url.host,
        port: url.port,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(urls: &[&str], credentials: bool) -> IceServer {
        IceServer {
            urls: urls.iter().map(|u| (*u).to_owned()).collect(),
            username: credentials.then(|| "1700000000:alice".to_owned()),
            credential: credentials.then(|| "c2VjcmV0".to_owned()),
        }
    }

    #[test]
    fn stun_and_udp_turn_are_used_the_rest_is_skipped() {
        let servers = [
            server(&["stun:stun.example.org", "stuns:stun.example.org"], false),
            server(
                &[
                    "turn:198.51.100.7:3479?transport=udp",
                    "turn:turn.example.org",
                    "turn:turn.example.org?transport=tcp",
                    "turns:turn.example.org:5349",
                    "not a url",
                ],
                true,
            ),
        ];
        let found = targets(&servers, false);
        let summary: Vec<(&str, u16, bool)> = found
            .iter()
            .map(|t| (t.host.as_str(), t.port, t.kind == Kind::Stun))
            .collect();
        assert_eq!(
            summary,
            [
                ("stun.example.org", 3478, true),
                ("198.51.100.7", 3479, false),
                ("turn.example.org", 3478, false),
            ]
        );
        assert_eq!(
            found[1].literal(),
            Some("198.51.100.7:3479".parse().unwrap())
        );
        assert_eq!(found[2].literal(), None, "a host name needs a lookup");
        assert_eq!(
            found[1].kind,
            Kind::Turn {
                username: "1700000000:alice".into(),
                credential: "c2VjcmV0".into()
            }
        );
    }

    #[test]
    fn relay_only_drops_stun_turn_needs_credentials_and_duplicates_go() {
        let servers = [
            server(&["stun:127.0.0.1:3478", "turn:127.0.0.1:3478"], false),
            server(&["turn:127.0.0.1:3478", "turn:127.0.0.1:3478"], true),
        ];
        let found = targets(&servers, true);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(matches!(found[0].kind, Kind::Turn { .. }));
        assert_eq!(targets(&servers, false).len(), 2);
    }

    #[test]
    fn credentials_stay_out_of_debug_output() {
        let found = targets(&[server(&["turn:127.0.0.1"], true)], false);
        let shown = format!("{found:?}");
        assert!(shown.contains("alice"), "{shown}");
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
    }
}
