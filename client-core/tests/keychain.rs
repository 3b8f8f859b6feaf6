//! `KeychainTokenStore` and the chat cache's `KeychainKeySource` against
//! real keychains: GNOME Keyring's Secret
//! Service on a private D-Bus session, and the kernel's session keyring.
//!
//! A keychain is reached through the process environment
//! (`DBUS_SESSION_BUS_ADDRESS`, the session keyring), which a test cannot
//! change for itself (`std::env::set_var` is unsafe, and the workspace
//! forbids unsafe code). So each test, run normally, starts the environment
//! (`dbus-run-session` with an unlocked `gnome-keyring-daemon` over a
//! throw-away home, or `keyctl session`) and runs *this same test* again
//! inside it, once per step, in separate processes; the child sees
//! `CLINICALL_KEYCHAIN_STEP`, does that one step with the real store and
//! prints the outcome, which the parent checks. Separate processes show the
//! token really lives in the keychain, not in the process.
//!
//! Needs `dbus-run-session` (dbus), `gnome-keyring-daemon` (gnome-keyring)
//! and `keyctl` (keyutils): `cargo xtask setup keychain`. Without them the
//! tests fail, naming what is missing.

mod common;

use clinicall_client_core::cache::{CacheConfig, ChatCache, KeySource, KeychainKeySource};
use clinicall_client_core::protocol::chat::ChatMessage;
use clinicall_client_core::protocol::{ConversationId, MessageId, UserId};
use clinicall_client_core::signaling::{
    AuthSession, KeychainBackend, KeychainTokenStore, RestError, TokenStore,
};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Set in a child: the one step to do.
const STEP: &str = "CLINICALL_KEYCHAIN_STEP";
/// Set in a child: `secret-service` or `kernel`.
const BACKEND: &str = "CLINICALL_KEYCHAIN_BACKEND";
/// Set in a child: the account whose entry the steps use.
const ACCOUNT: &str = "CLINICALL_KEYCHAIN_ACCOUNT";
/// Prefix of the line a child prints with its step's outcome.
const REPORT: &str = "keychain-step ";

const SERVER: &str = "https://clinic.example.test";

/// A keychain session (and its steps) that takes longer is hung.
const SESSION_LIMIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------- child side

/// In a child process: does the step asked for and returns `true`; in the
/// parent (no step asked): `false`.
fn ran_as_child() -> bool {
    let Ok(step) = std::env::var(STEP) else {
        return false;
    };
    let backend = match std::env::var(BACKEND).as_deref() {
        Ok("kernel") => KeychainBackend::KernelKeyring,
        _ => KeychainBackend::SecretService,
    };
    let outcome = match step.as_str() {
        "login-logout" => login_logout(backend),
        step if step.starts_with("cache-") => cache_step(backend, step),
        step => store_step(backend, step),
    };
    println!("{REPORT}{step}: {outcome}");
    true
}

/// `load`, `save=<token>` or `clear` on the test account's entry.
fn store_step(backend: KeychainBackend, step: &str) -> String {
    let email = std::env::var(ACCOUNT).expect("the parent names the account");
    let store = match KeychainTokenStore::with_backend(backend, SERVER, &email) {
        Ok(store) => store,
        Err(e) => return format!("error: {e}"),
    };
    let outcome = match step.split_once('=') {
        Some(("save", token)) => store.save(token).map(|()| "saved".to_owned()),
        None if step == "load" => store.load().map(|token| format!("{token:?}")),
        None if step == "clear" => store.clear().map(|()| "cleared".to_owned()),
        _ => panic!("unknown step {step:?}"),
    };
    outcome.unwrap_or_else(|e| format!("error: {e}"))
}

/// The chat cache's key in the keychain: `cache-key` (is there one),
/// `cache-write` (open the cache, creating key and database, and store a
/// message), `cache-read` (open it again and read the message back) and
/// `cache-wipe` (logout: delete the cache and its key).
fn cache_step(backend: KeychainBackend, step: &str) -> String {
    let email = std::env::var(ACCOUNT).expect("the parent names the account");
    let keys = match KeychainKeySource::with_backend(backend, SERVER, &email) {
        Ok(keys) => Arc::new(keys),
        Err(e) => return format!("error: {e}"),
    };
    if step == "cache-key" {
        return match keys.load() {
            Ok(Some(key)) => format!("present ({} hex digits)", key.to_hex().len()),
            Ok(None) => "none".to_owned(),
            Err(e) => format!("error: {e}"),
        };
    }
    let home = std::path::PathBuf::from(std::env::var("HOME").unwrap());
    let me = UserId(uuid::Uuid::from_u128(1));
    let conversation = ConversationId(uuid::Uuid::from_u128(2));
    let config = CacheConfig::new(home.join("chat-cache"), me);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let cache = match ChatCache::open(config, keys.clone()).await {
            Ok(cache) => cache,
            Err(e) => return format!("error: {e}"),
        };
        let outcome = match step {
            "cache-write" => {
                let message = ChatMessage {
                    conversation_id: conversation,
                    seq: 1,
                    id: MessageId::random(),
                    sender: me,
                    body: CACHED_TEXT.into(),
                    attachments: Vec::new(),
                    sent_at_ms: 0,
                };
                cache.apply_messages(vec![message]).await.unwrap();
                "written".to_owned()
            }
            "cache-read" => {
                let page = cache.messages_page(conversation, None, 1).await.unwrap();
                format!("read {:?}", page.messages[0].body)
            }
            "cache-wipe" => {
                cache.wipe(keys).await.unwrap();
                return "wiped".to_owned();
            }
            _ => panic!("unknown step {step:?}"),
        };
        cache.close().await.unwrap();
        outcome
    })
}

/// What `cache-write` stores.
const CACHED_TEXT: &str = "cached in an encrypted file";

/// A real login and logout against a real signaling server (started in
/// this child) with the refresh token in the keychain.
fn login_logout(backend: KeychainBackend) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = common::TestServer::start().await;
        let patient = server.patient("Pat").await;
        let base = server.base_url();
        let store =
            || Arc::new(KeychainTokenStore::with_backend(backend, &base, &patient.email).unwrap());

        let auth = AuthSession::new(server.rest.clone(), store());
        auth.login(&patient.email, common::PASSWORD).await.unwrap();
        let kept = store()
            .load()
            .unwrap()
            .expect("the refresh token is in the keychain");
        assert!(!kept.is_empty());

        // As the app does at its next start: a new session over the
        // keychain signs in with no password.
        let restarted = AuthSession::new(server.rest.clone(), store());
        assert_eq!(restarted.me().await.unwrap().id, patient.id);
        // That refresh spent the token; the keychain holds the new one.
        let rotated = store().load().unwrap().expect("still signed in");
        assert_ne!(rotated, kept);

        restarted.logout().await.unwrap();
        assert_eq!(store().load().unwrap(), None, "logout clears the keychain");
        let after = AuthSession::new(server.rest.clone(), store());
        assert!(matches!(
            after.access_token().await,
            Err(RestError::NotSignedIn)
        ));
        "ok".to_owned()
    })
}

// --------------------------------------------------------------- parent side

/// A throw-away home for the keyring daemon and an account name of its
/// own. The name is new each run: keyutils also links keys into the user's
/// persistent keyring, which outlives `keyctl session`, so a run that died
/// half-way must not leave an entry the next run would find.
struct TestKeychain {
    home: tempfile::TempDir,
    account: String,
}

impl TestKeychain {
    fn new() -> Self {
        TestKeychain {
            home: tempfile::tempdir().unwrap(),
            account: format!("pat-{}@example.test", uuid::Uuid::new_v4().simple()),
        }
    }
}

/// Runs `shell` (a `sh -c` script whose "$@" is this test binary's command
/// line for `test`, and each further argument a step) under `wrapper`,
/// and returns each step's reported outcome.
fn run_steps(
    wrapper: &[&str],
    shell: &str,
    keychain: &TestKeychain,
    backend: &str,
    test: &str,
    steps: &[&str],
) -> Vec<String> {
    let home = keychain.home.path();
    let exe = std::env::current_exe().unwrap();
    let mut command = Command::new(wrapper[0]);
    command
        .args(&wrapper[1..])
        .args(["sh", "-c", shell, "sh"])
        .arg(&exe)
        .arg(test)
        .args(steps)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env(BACKEND, backend)
        .env(ACCOUNT, &keychain.account)
        // Nothing of the caller's desktop session may leak in.
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("DISPLAY")
        .env_remove("GNOME_KEYRING_CONTROL")
        .env_remove(STEP)
        .stdin(Stdio::null())
        // Its own process group, so a hung session can be ended whole.
        .process_group(0);
    std::fs::create_dir_all(home.join("run")).unwrap();
    set_private(&home.join("run"));
    let output = wait_limited(command, wrapper[0]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{wrapper:?} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let outcomes: Vec<String> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix(REPORT))
        .map(str::to_owned)
        .collect();
    assert_eq!(outcomes.len(), steps.len(), "{stdout}");
    outcomes
}

fn set_private(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
}

fn wait_limited(mut command: Command, program: &str) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program} ({e}): the keychain tests need dbus, gnome-keyring and \
                 keyutils (`cargo xtask setup keychain`)"
            )
        });
    let group = child.id();
    let started = Instant::now();
    let waiter = std::thread::spawn(move || child.wait_with_output());
    while !waiter.is_finished() {
        if started.elapsed() > SESSION_LIMIT {
            // The whole group: the wrapper, the shell, the test child and
            // any keyring daemon it started.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{group}")])
                .status();
            let output = waiter.join().unwrap().unwrap();
            panic!(
                "{program} hung; killed. stdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    waiter.join().unwrap().unwrap()
}

/// For `dbus-run-session`: unlocks (creating on first use) the login
/// keyring of this home with a known password, then runs each step in its
/// own process.
const SECRET_SERVICE_SESSION: &str = r#"
set -e
exe=$1; test=$2; shift 2
printf %s throw-away-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null
for step in "$@"; do
    CLINICALL_KEYCHAIN_STEP=$step "$exe" --exact "$test" --nocapture --test-threads=1 --quiet
done
"#;

/// For `keyctl session -`: each step in its own process, all in the one
/// new session keyring.
const PLAIN_SESSION: &str = r#"
set -e
exe=$1; test=$2; shift 2
for step in "$@"; do
    CLINICALL_KEYCHAIN_STEP=$step "$exe" --exact "$test" --nocapture --test-threads=1 --quiet
done
"#;

fn secret_service(keychain: &TestKeychain, test: &str, steps: &[&str]) -> Vec<String> {
    run_steps(
        &["dbus-run-session", "--"],
        SECRET_SERVICE_SESSION,
        keychain,
        "secret-service",
        test,
        steps,
    )
}

fn kernel_keyring(keychain: &TestKeychain, test: &str, steps: &[&str]) -> Vec<String> {
    run_steps(
        &["keyctl", "session", "-"],
        PLAIN_SESSION,
        keychain,
        "kernel",
        test,
        steps,
    )
}

/// Every file under `dir` that contains `needle` in clear.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            found.push(path);
        }
    }
    found
}

#[test]
fn secret_service_keeps_the_token_across_processes_and_restarts_until_cleared() {
    if ran_as_child() {
        return;
    }
    let test = "secret_service_keeps_the_token_across_processes_and_restarts_until_cleared";
    let keychain = TestKeychain::new();
    let home = keychain.home.path();
    let token = "refresh-token-7f3a9c";

    let first = secret_service(
        &keychain,
        test,
        &[
            "load",
            &format!("save={token}"),
            "load",
            "save=rotated-42",
            "load",
        ],
    );
    assert_eq!(
        first,
        [
            "load: None".to_owned(),
            format!("save={token}: saved"),
            format!("load: Some(\"{token}\")"),
            "save=rotated-42: saved".to_owned(),
            "load: Some(\"rotated-42\")".to_owned(),
        ]
    );

    // A new bus and a new keyring daemon over the same home, as after a
    // reboot: the daemon kept it, encrypted, in its keyring file.
    let keyrings = home.join("data/keyrings");
    assert!(
        std::fs::read_dir(&keyrings).is_ok_and(|mut d| d.next().is_some()),
        "gnome-keyring wrote no keyring under {}",
        keyrings.display()
    );
    assert_eq!(
        files_containing(home, b"rotated-42"),
        Vec::<std::path::PathBuf>::new(),
        "the token must never be on disk in clear"
    );
    let second = secret_service(&keychain, test, &["load", "clear", "load", "clear"]);
    assert_eq!(
        second,
        [
            "load: Some(\"rotated-42\")",
            "clear: cleared",
            "load: None",
            // Clearing what is not there is not an error (logout twice).
            "clear: cleared",
        ]
    );
}

#[test]
fn kernel_keyring_keeps_the_token_for_the_session_until_cleared() {
    if ran_as_child() {
        return;
    }
    let test = "kernel_keyring_keeps_the_token_for_the_session_until_cleared";
    let keychain = TestKeychain::new();
    let outcomes = kernel_keyring(
        &keychain,
        test,
        &["load", "save=kernel-token-1", "load", "clear", "load"],
    );
    assert_eq!(
        outcomes,
        [
            "load: None",
            "save=kernel-token-1: saved",
            "load: Some(\"kernel-token-1\")",
            "clear: cleared",
            "load: None",
        ]
    );
}

#[test]
fn without_a_secret_service_the_store_says_there_is_no_keychain() {
    if ran_as_child() {
        return;
    }
    let test = "without_a_secret_service_the_store_says_there_is_no_keychain";
    let keychain = TestKeychain::new();
    // A session bus address where nothing listens.
    let nowhere = format!(
        "unix:path={}",
        keychain.home.path().join("no-bus").display()
    );
    let outcomes = run_steps(
        &["env", &format!("DBUS_SESSION_BUS_ADDRESS={nowhere}")],
        PLAIN_SESSION,
        &keychain,
        "secret-service",
        test,
        &["save=never-stored", "load"],
    );
    for outcome in &outcomes {
        assert!(
            outcome.contains("error: token store: no keychain is available (the Secret Service"),
            "{outcome}"
        );
        assert!(
            outcome.contains("asked for your password each time"),
            "{outcome}"
        );
    }
    assert_eq!(
        files_containing(keychain.home.path(), b"never-stored"),
        Vec::<std::path::PathBuf>::new(),
        "no fallback to a file"
    );
}

#[test]
fn login_keeps_the_token_in_the_keychain_and_logout_removes_it() {
    if ran_as_child() {
        return;
    }
    let test = "login_keeps_the_token_in_the_keychain_and_logout_removes_it";
    let outcomes = secret_service(&TestKeychain::new(), test, &["login-logout"]);
    assert_eq!(outcomes, ["login-logout: ok"]);
}

/// The steps every backend runs for the cache key, and what each reports.
/// The refresh token is saved first and read last: the cache key is a
/// separate entry, and wiping the cache leaves the token alone.
const CACHE_STEPS: [(&str, &str); 8] = [
    ("save=token-beside-the-key", "saved"),
    ("cache-key", "none"),
    ("cache-write", "written"),
    ("cache-key", "present (64 hex digits)"),
    ("cache-read", "read \"cached in an encrypted file\""),
    ("cache-wipe", "wiped"),
    ("cache-key", "none"),
    ("load", "Some(\"token-beside-the-key\")"),
];

fn cache_steps() -> Vec<&'static str> {
    CACHE_STEPS.iter().map(|(step, _)| *step).collect()
}

fn check_cache_steps(outcomes: Vec<String>, keychain: &TestKeychain) {
    let expected: Vec<String> = CACHE_STEPS
        .iter()
        .map(|(step, outcome)| format!("{step}: {outcome}"))
        .collect();
    assert_eq!(outcomes, expected);
    let cache = keychain.home.path().join("chat-cache");
    let left: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(left, Vec::<std::path::PathBuf>::new(), "wipe left files");
}

#[test]
fn secret_service_keeps_the_chat_cache_key_until_the_cache_is_wiped() {
    if ran_as_child() {
        return;
    }
    let test = "secret_service_keeps_the_chat_cache_key_until_the_cache_is_wiped";
    let keychain = TestKeychain::new();
    let outcomes = secret_service(&keychain, test, &cache_steps());
    check_cache_steps(outcomes, &keychain);
    // The key, in whatever form, only in the keyring daemon's encrypted
    // file; the message text nowhere in clear.
    assert_eq!(
        files_containing(keychain.home.path(), CACHED_TEXT.as_bytes()),
        Vec::<std::path::PathBuf>::new()
    );
}

#[test]
fn kernel_keyring_keeps_the_chat_cache_key_until_the_cache_is_wiped() {
    if ran_as_child() {
        return;
    }
    let test = "kernel_keyring_keeps_the_chat_cache_key_until_the_cache_is_wiped";
    let keychain = TestKeychain::new();
    let outcomes = kernel_keyring(&keychain, test, &cache_steps());
    check_cache_steps(outcomes, &keychain);
}
