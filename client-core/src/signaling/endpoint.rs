//! Where the server is, and whether we may talk to it in clear.
//!
//! The user types a server base URL (`https://clinic.example`, or
//! `http://127.0.0.1:8787` for a local test server). REST paths and the
//! signaling WebSocket are derived from it. Tokens and passwords travel on
//! both, so plain `http://`/`ws://` is refused unless the host is loopback or
//! the caller opted in with `allow_insecure` (PRODUCT: "the client refuses
//! plain ws:// to a non-loopback host unless told otherwise"). This check is
//! pure and runs before any socket is opened.

use super::Error;
use std::net::IpAddr;
use url::{Host, Url};

/// Path of the signaling WebSocket under the server base URL.
pub const WS_PATH: &str = "api/v1/ws";

/// Parses a server base URL (`http`, `https`, `ws` or `wss`) and checks the
/// transport rule.
pub fn parse_base(base: &str, allow_insecure: bool) -> Result<Url, Error> {
    let url = Url::parse(base).map_err(|e| Error::InvalidUrl(format!("{base}: {e}")))?;
    check_transport(&url, allow_insecure)?;
    Ok(url)
}

/// Refuses unencrypted schemes to a non-loopback host unless
/// `allow_insecure`, and schemes that are not HTTP or WebSocket at all.
pub fn check_transport(url: &Url, allow_insecure: bool) -> Result<(), Error> {
    match url.scheme() {
        "https" | "wss" => Ok(()),
        "http" | "ws" => {
            if allow_insecure || is_loopback(url) {
                Ok(())
            } else {
                Err(Error::InsecureTransport {
                    host: url.host_str().unwrap_or_default().to_owned(),
                })
            }
        }
        other => Err(Error::InvalidUrl(format!(
            "unsupported scheme {other:?} (expected https or http)"
        ))),
    }
}

/// Whether the URL's host is this machine: `localhost`, `127.0.0.0/8` or
/// `::1` (also written as an IPv4-mapped address).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => {
            IpAddr::V6(ip).is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        None => false,
    }
}

/// The signaling WebSocket URL for a server base URL: `http` becomes `ws`,
/// `https` becomes `wss`, and [`WS_PATH`] is appended to the base path
/// (so a server behind `https://host/clinic/` works). Applies the transport
/// rule.
pub fn websocket_url(base: &Url, allow_insecure: bool) -> Result<Url, Error> {
    check_transport(base, allow_insecure)?;
    let mut url = join(base, WS_PATH)?;
    let scheme = match base.scheme() {
        "https" | "wss" => "wss",
        _ => "ws",
    };
    url.set_scheme(scheme)
        .map_err(|()| Error::InvalidUrl(format!("cannot use {scheme} with {base}")))?;
    Ok(url)
}

/// `path` (relative, no leading slash) under the base URL's path. REST
/// calls use it too.
pub fn join(base: &Url, path: &str) -> Result<Url, Error> {
    if base.cannot_be_a_base() {
        return Err(Error::InvalidUrl(format!("{base} cannot be a base URL")));
    }
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    let prefix = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{prefix}/{path}"));
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(base: &str, allow: bool) -> Result<String, Error> {
        websocket_url(&Url::parse(base).unwrap(), allow).map(String::from)
    }

    #[test]
    fn derives_websocket_urls() {
        assert_eq!(
            ws("http://127.0.0.1:8787", false).unwrap(),
            "ws://127.0.0.1:8787/api/v1/ws"
        );
        assert_eq!(
            ws("https://clinic.example", false).unwrap(),
            "wss://clinic.example/api/v1/ws"
        );
        assert_eq!(
            ws("https://clinic.example/signal/?x=1", false).unwrap(),
            "wss://clinic.example/signal/api/v1/ws"
        );
        assert_eq!(
            ws("http://localhost:1/", false).unwrap(),
            "ws://localhost:1/api/v1/ws"
        );
        assert_eq!(
            ws("http://[::1]:9/", false).unwrap(),
            "ws://[::1]:9/api/v1/ws"
        );
    }

    #[test]
    fn refuses_clear_text_to_other_hosts() {
        for base in [
            "http://10.1.2.3:8787",
            "http://clinic.example",
            "ws://192.168.0.10/",
            "http://[2001:db8::1]/",
            "http://localhost.evil.example/",
            "http://0.0.0.0:8787",
        ] {
            assert!(
                matches!(ws(base, false), Err(Error::InsecureTransport { .. })),
                "{base}"
            );
            assert!(ws(base, true).is_ok(), "{base} with allow_insecure");
        }
    }

    #[test]
    fn refuses_other_schemes() {
        assert!(matches!(
            parse_base("ftp://clinic.example", true),
            Err(Error::InvalidUrl(_))
        ));
        assert!(matches!(
            parse_base("not a url", true),
            Err(Error::InvalidUrl(_))
        ));
    }

    #[test]
    fn loopback_forms() {
        for (url, expected) in [
            ("http://127.0.0.1/", true),
            ("http://127.9.9.9/", true),
            ("http://LOCALHOST/", true),
            ("http://[::ffff:127.0.0.1]/", true),
            ("http://[::2]/", false),
            ("http://128.0.0.1/", false),
        ] {
            assert_eq!(is_loopback(&Url::parse(url).unwrap()), expected, "{url}");
        }
    }
}
