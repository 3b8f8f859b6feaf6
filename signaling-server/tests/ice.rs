//! The STUN/TURN servers in `welcome`: static ones from the config, and
//! short-lived TURN credentials a coturn with `use-auth-secret` accepts.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clinicall_protocol::{IceServer, Resume, Role, ServerMessage};
use clinicall_signaling_server::Config;
use clinicall_signaling_server::config::IceServerEntry;
use common::*;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn ice_servers(client: &Client) -> Vec<IceServer> {
    match &client.welcome {
        ServerMessage::Welcome { ice_servers, .. } => ice_servers.clone(),
        other => panic!("expected welcome, got {other:?}"),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn stun() -> IceServerEntry {
    IceServerEntry {
        urls: vec!["stun:stun.example.org:3478".into()],
        username: None,
        credential: None,
    }
}

fn static_turn() -> IceServerEntry {
    IceServerEntry {
        urls: vec![
            "turn:relay.example.org:3478?transport=udp".into(),
            "turns:relay.example.org:5349".into(),
        ],
        username: Some("clinic".into()),
        credential: Some("static-password".into()),
    }
}

fn expected(entry: &IceServerEntry) -> IceServer {
    IceServer {
        urls: entry.urls.clone(),
        username: entry.username.clone(),
        credential: entry.credential.clone(),
    }
}

#[tokio::test]
async fn without_ice_settings_the_welcome_has_no_servers() {
    let server = TestServer::start().await;
    let user = server.user(Role::Patient, "Pat").await;
    let client = server.connect(&user).await;
    assert!(ice_servers(&client).is_empty());
}

#[tokio::test]
async fn welcome_carries_the_configured_static_servers() {
    let server = TestServer::start_with(|c| c.ice.servers = vec![stun(), static_turn()]).await;
    let user = server.user(Role::Doctor, "Dr Ada").await;
    let client = server.connect(&user).await;
    let want = vec![expected(&stun()), expected(&static_turn())];
    assert_eq!(ice_servers(&client), want);

    // A resumed session's welcome carries them too.
    let (session_id, last_seq) = client.drop_abruptly();
    let resume = Resume {
        session_id,
        last_seq,
    };
    let client = Client::connect(server.addr, &user.token, Some(resume)).await;
    assert!(client.resumed());
    assert_eq!(ice_servers(&client), want);
}

#[tokio::test]
async fn turn_credentials_are_an_hmac_of_the_username_and_expire_after_the_ttl() {
    const SECRET: &str = "coturn-static-auth-secret";
    let ttl = Duration::from_secs(600);
    let server = TestServer::start_with(|c| {
        c.ice.servers = vec![stun()];
        c.ice.turn_secret = Some(SECRET.into());
        c.ice.turn_urls = vec![
            "turn:turn.example.org:3478?transport=udp".into(),
            "turns:turn.example.org:5349".into(),
        ];
        c.ice.turn_credential_ttl = ttl;
    })
    .await;
    let user = server.user(Role::Patient, "Pat").await;

    let before = unix_now();
    let client = server.connect(&user).await;
    let after = unix_now();
    let servers = ice_servers(&client);
    let [static_stun, turn] = servers.as_slice() else {
        panic!("expected the STUN server and a TURN entry: {servers:?}");
    };
    assert_eq!(*static_stun, expected(&stun()));
    assert_eq!(turn.urls, server.config.ice.turn_urls);

    // coturn's TURN REST username: "<expiry>:<user id>".
    let username = turn.username.as_deref().expect("TURN username");
    let (expiry, user_id) = username.split_once(':').expect("expiry:user");
    assert_eq!(user_id, user.id().to_string());
    let expiry: u64 = expiry.parse().expect("Unix seconds");
    assert!(
        (before + ttl.as_secs()..=after + ttl.as_secs()).contains(&expiry),
        "expiry {expiry} is not now + {ttl:?} (now was {before}..={after})"
    );

    // What coturn checks: the credential is base64(HMAC-SHA1(secret, username)).
    let credential = turn.credential.as_deref().expect("TURN credential");
    let mac_bytes = STANDARD.decode(credential).expect("base64 credential");
    let mut mac = Hmac::<Sha1>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(username.as_bytes());
    mac.verify_slice(&mac_bytes)
        .expect("credential is the HMAC-SHA1 of the username");

    // Another user gets their own credentials.
    let other = server.user(Role::Doctor, "Dr Ada").await;
    let other_client = server.connect(&other).await;
    let other_turn = ice_servers(&other_client).pop().unwrap();
    assert!(
        (other_turn.username.as_deref().unwrap()).ends_with(&format!(":{}", other.id())),
        "{other_turn:?}"
    );
    assert_ne!(other_turn.credential, turn.credential);
}

/// Loads the configuration as the binary does, with these environment
/// variables set and no file.
// figment::Jail's closure signature returns its large error type; not ours to shrink.
#[allow(clippy::result_large_err)]
fn load_with_env(vars: &[(&str, &str)]) -> Config {
    let mut loaded = None;
    figment::Jail::expect_with(|jail| {
        for (name, value) in vars {
            jail.set_env(name, value);
        }
        loaded = Some(Config::load(None).expect("configuration loads"));
        Ok(())
    });
    loaded.unwrap()
}

#[tokio::test]
async fn ice_settings_from_the_environment_reach_the_welcome() {
    let loaded = load_with_env(&[
        (
            "CLINICALL_ICE__SERVERS",
            r#"[{urls=["stun:stun.example.org:3478"]}]"#,
        ),
        ("CLINICALL_ICE__TURN_SECRET", "secret-from-env"),
        (
            "CLINICALL_ICE__TURN_URLS",
            r#"["turns:turn.example.org:5349"]"#,
        ),
        ("CLINICALL_ICE__TURN_CREDENTIAL_TTL", "2h"),
    ]);
    let server = TestServer::start_with(|c| c.ice = loaded.ice).await;
    let user = server.user(Role::Patient, "Pat").await;
    let before = unix_now();
    let client = server.connect(&user).await;
    let after = unix_now();
    let servers = ice_servers(&client);
    let [stun_server, turn] = servers.as_slice() else {
        panic!("{servers:?}");
    };
    assert_eq!(*stun_server, expected(&stun()));
    assert_eq!(turn.urls, ["turns:turn.example.org:5349"]);
    let username = turn.username.as_deref().unwrap();
    let expiry: u64 = username.split_once(':').unwrap().0.parse().unwrap();
    assert!(
        (before + 2 * 3600..=after + 2 * 3600).contains(&expiry),
        "{username}"
    );
    let mut mac = Hmac::<Sha1>::new_from_slice(b"secret-from-env").unwrap();
    mac.update(username.as_bytes());
    let credential = STANDARD
        .decode(turn.credential.as_deref().unwrap())
        .unwrap();
    mac.verify_slice(&credential)
        .expect("signed with the secret from the environment");
}
