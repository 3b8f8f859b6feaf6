//! The STUN/TURN servers each `welcome` carries.
//!
//! Static servers from `[ice] servers` go out as they are. With
//! `turn_secret` set, every welcome also carries a TURN entry with
//! short-lived credentials, as coturn's "TURN REST API" (`use-auth-secret`,
//! draft-uberti-behave-turn-rest) defines them:
//!
//! - username = `<expiry as Unix seconds>:<user id>`;
//! - credential = base64(HMAC-SHA1(secret, username)).
//!
//! The TURN server recomputes the HMAC with the same secret and refuses the
//! username once its expiry has passed, so the two servers share nothing but
//! the secret, and a credential that leaks from a client is only good until
//! it expires. Clients take the servers from their latest welcome, so a
//! reconnect or resume always brings fresh credentials.
//!
//! Pure: the time is an argument.

use crate::config::IceSection;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clinicall_protocol::{IceServer, UserId};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::time::Duration;

/// What to put in `welcome.ice_servers`, built once from the config.
#[derive(Clone, Default)]
pub struct IceServers {
    fixed: Vec<IceServer>,
    turn: Option<TurnRest>,
}

#[derive(Clone)]
struct TurnRest {
    secret: Vec<u8>,
    urls: Vec<String>,
    ttl: Duration,
}

// Hand-written so the secret and static passwords never reach a log.
impl std::fmt::Debug for IceServers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceServers")
            .field("fixed", &self.fixed)
            .field("turn_urls", &self.turn.as_ref().map(|t| &t.urls))
            .field("turn_ttl", &self.turn.as_ref().map(|t| t.ttl))
            .finish_non_exhaustive()
    }
}

impl IceServers {
    /// From a checked `[ice]` section.
    pub fn from_config(ice: &IceSection) -> Self {
        let fixed = ice
            .servers
            .iter()
            .map(|s| IceServer {
                urls: s.urls.clone(),
                username: s.username.clone(),
                credential: s.credential.clone(),
            })
            .collect();
        let turn = ice.turn_secret.as_ref().map(|secret| TurnRest {
            secret: secret.as_bytes().to_vec(),
            urls: ice.turn_urls.clone(),
            ttl: ice.turn_credential_ttl,
        });
        Self { fixed, turn }
    }

    /// The servers for one welcome to `user` at Unix time `now_secs`: the
    /// static ones, then the TURN entry with credentials valid until
    /// `now_secs + ttl`.
    pub fn for_user(&self, user: UserId, now_secs: u64) -> Vec<IceServer> {
        let mut servers = self.fixed.clone();
        if let Some(turn) = &self.turn {
            let expires = now_secs.saturating_add(turn.ttl.as_secs());
            let username = format!("{expires}:{user}");
            servers.push(IceServer {
                urls: turn.urls.clone(),
                credential: Some(turn_rest_credential(&turn.secret, &username)),
                username: Some(username),
            });
        }
        servers
    }
}

/// base64(HMAC-SHA1(secret, username)): the password a TURN server with
/// `use-auth-secret` expects for `username`.
pub fn turn_rest_credential(secret: &[u8], username: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(username.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IceServerEntry;

    #[test]
    fn credential_is_base64_hmac_sha1() {
        // The HMAC-SHA1 example everyone checks against (Wikipedia), and
        // one in the TURN REST shape; both computed with Python's hmac.
        assert_eq!(
            turn_rest_credential(b"key", "The quick brown fox jumps over the lazy dog"),
            "3nybhbi3iqa8ino29wqQcBydtNk="
        );
        assert_eq!(
            turn_rest_credential(
                b"north-wind",
                "1700003600:0192f0c4-6a8e-7b1e-9d44-5e2a1c3b4d5f"
            ),
            "vALaITMmtTVucdKLa4Ae0V7mqi8="
        );
    }

    #[test]
    fn static_servers_then_a_fresh_turn_entry() {
        let user: UserId = "0192f0c4-6a8e-7b1e-9d44-5e2a1c3b4d5f".parse().unwrap();
        let ice = IceSection {
            servers: vec![IceServerEntry {
                urls: vec!["stun:stun.example.org:3478".into()],
                username: None,
                credential: None,
            }],
            turn_secret: Some("north-wind".into()),
            turn_urls: vec!["turn:turn.example.org:3478".into()],
            turn_credential_ttl: Duration::from_secs(3600),
        };
        let servers = IceServers::from_config(&ice).for_user(user, 1_700_000_000);
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0].urls, ["stun:stun.example.org:3478"]);
        assert_eq!(servers[0].username, None);
        assert_eq!(servers[1].urls, ["turn:turn.example.org:3478"]);
        assert_eq!(
            servers[1].username.as_deref(),
            Some("1700003600:0192f0c4-6a8e-7b1e-9d44-5e2a1c3b4d5f")
        );
        assert_eq!(
            servers[1].credential.as_deref(),
            Some("vALaITMmtTVucdKLa4Ae0V7mqi8=")
        );
    }

    #[test]
    fn nothing_configured_means_no_servers_and_debug_hides_secrets() {
        assert!(
            IceServers::from_config(&IceSection::default())
                .for_user(UserId::random(), 0)
                .is_empty()
        );
        let ice = IceSection {
            servers: vec![IceServerEntry {
                urls: vec!["turn:turn.example.org".into()],
                username: Some("clinic".into()),
                credential: Some("static-password".into()),
            }],
            turn_secret: Some("shared-secret".into()),
            turn_urls: vec!["turns:turn.example.org:5349".into()],
            ..IceSection::default()
        };
        let debug = format!("{:?}", IceServers::from_config(&ice));
        assert!(!debug.contains("static-password"), "{debug}");
        assert!(!debug.contains("shared-secret"), "{debug}");
        assert!(debug.contains("turns:turn.example.org:5349"), "{debug}");
    }
}
