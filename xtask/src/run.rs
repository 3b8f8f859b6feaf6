//! `cargo xtask run`: Clinicall on this machine.
//!
//! Builds the signaling server and the headless client (release), starts
//! the server as a child with demo accounts and its data in
//! `./.clinicall/`, waits for `/readyz`, and shows a demo call between the
//! demo doctor and the demo patient as two headless clients, one line per
//! second per side. Then the server stays in the foreground until Ctrl-C
//! (or, with `--demo-only`, stops at once).
//!
//! Ctrl-C reaches the whole foreground process group: the server shuts down
//! gracefully on its own SIGINT. We catch SIGINT and SIGTERM too (instead
//! of dying), forward SIGTERM to the server and wait for it, so neither a
//! Ctrl-C nor a `kill` of this process leaves a child behind.

use crate::headless::{
    CallRun, ClientSpec, Event, Observer, Pids, Side, human_stats, human_summary,
};
use crate::server::{ServerProcess, ensure_port_free};
use crate::{bin, build_bins, random_hex, setup, step, toml_string, workspace_root, write_private};
use anyhow::{Context, Result, bail};
use clap::Args;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Where `cargo xtask run` serves unless `.clinicall/server.toml` says
/// otherwise.
const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8787);
/// Length of the demo call.
const DEMO_CALL_SECONDS: u64 = 8;
/// The clients' `--timeout` for the demo call: sign-in, setup and the call,
/// with room for a slow first start.
const DEMO_TIMEOUT_SECONDS: u64 = 60;
/// What the demo doctor writes to the demo patient before calling.
const DEMO_GREETING: &str = "Hello Pat, I am calling you now about your test results.";
/// What the demo patient answers to every chat message.
const DEMO_REPLY: &str = "Thank you, doctor! (automatic reply from the demo patient)";

/// A demo account `serve --demo` creates (signaling-server/src/demo.rs).
struct DemoAccount {
    email: &'static str,
    password: &'static str,
    display_name: &'static str,
}

const DOCTOR: DemoAccount = DemoAccount {
    email: "doctor@demo.clinicall",
    password: "demo-doctor-1",
    display_name: "Dr. Ada Lovelace",
};
const PATIENT: DemoAccount = DemoAccount {
    email: "patient@demo.clinicall",
    password: "demo-patient-1",
    display_name: "Pat Patient",
};
const ADMIN: DemoAccount = DemoAccount {
    email: "admin@demo.clinicall",
    password: "demo-admin-1",
    display_name: "Demo Admin",
};

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Stop the server and exit after the demo call (non-zero if the call
    /// failed) instead of serving until Ctrl-C.
    #[arg(long)]
    demo_only: bool,
    /// Show the headless demo call even where there is a display, instead
    /// of opening the desktop app.
    #[arg(long)]
    headless: bool,
}

/// Whether a desktop session is there to open the app in.
fn has_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

pub fn run(args: RunArgs) -> Result<()> {
    step("setup");
    let open_app = has_display() && !args.demo_only && !args.headless;
    if open_app {
        setup::ensure(&["build", "codecs", "audio", "camera", "keychain", "desktop"])?;
    } else {
        setup::ensure(&["build", "codecs"])?;
    }
    // Two builds, so the server gets exactly its own features, as in
    // production (not ones unified with the client's).
    step("building the signaling server and the headless client (release)");
    let server = bin(
        &build_bins(true, &["clinicall-signaling-server"])?,
        "signaling-server",
    )?
    .clone();
    let headless = bin(
        &build_bins(true, &["clinicall-headless"])?,
        "clinicall-headless",
    )?
    .clone();

    let local = prepare_local_server(&server)?;
    let addr = local.addr;
    ensure_port_free(
        addr,
        &format!("Stop it, or change `listen` in {}.", local.config.display()),
    )?;

    // From here on a signal sets `stop` instead of killing us, so the
    // server child is always stopped and waited for.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("installing the Ctrl-C handler")?;
    }

    step(&format!(
        "starting signaling-server on {addr} with demo accounts"
    ));
    let mut server = ServerProcess::spawn(local.command, &server.display().to_string())?;
    server
        .wait_ready(addr, Duration::from_secs(60))
        .with_context(|| format!("starting the server on {addr}"))?;

    if open_app {
        return open_desktop_app(&headless, addr, &local.data_dir, server, &stop);
    }

    let demo_ok = demo_call(&headless, addr, &local.data_dir, &stop)?;

    if args.demo_only || stop.load(Ordering::SeqCst) {
        step("stopping the server");
        server.stop();
        if stop.load(Ordering::SeqCst) {
            bail!("interrupted");
        }
        if !demo_ok {
            bail!("the demo call failed");
        }
        return Ok(());
    }

    eprintln!(
        "\nxtask: server at http://{addr} with demo accounts\n\
         \x20   {:<24} password {:<15} ({}, doctor)\n\
         \x20   {:<24} password {:<15} ({}, patient)\n\
         \x20   {:<24} password {:<15} ({}, admin)\n\
         xtask: try your own call: CLINICALL_PASSWORD={} {} --server http://{addr} --email {} --answer\n\
         xtask: data in {}; Ctrl-C stops the server.",
        DOCTOR.email,
        DOCTOR.password,
        DOCTOR.display_name,
        PATIENT.email,
        PATIENT.password,
        PATIENT.display_name,
        ADMIN.email,
        ADMIN.password,
        ADMIN.display_name,
        PATIENT.password,
        headless.display(),
        PATIENT.email,
        local.data_dir.display(),
    );
    loop {
        if stop.load(Ordering::SeqCst) {
            step("stopping the server");
            let status = server.stop();
            eprintln!(
                "xtask: server stopped{}",
                status.map_or(String::new(), |s| format!(" ({s})"))
            );
            return Ok(());
        }
        if let Some(status) = server.exited() {
            bail!("the server exited on its own ({status})");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs the demo call and prints how it went; `Ok(false)` if it failed.
fn demo_call(
    headless: &Path,
    addr: SocketAddr,
    data_dir: &Path,
    stop: &AtomicBool,
) -> Result<bool> {
    step(&format!(
        "demo call: {} calls {} for {DEMO_CALL_SECONDS} s, both as headless clients on loopback",
        DOCTOR.display_name, PATIENT.display_name,
    ));
    let size = (640, 480);
    let call = CallRun {
        headless,
        server_url: format!("http://{addr}"),
        caller: ClientSpec {
            label: "doctor",
            email: DOCTOR.email.into(),
            password: DOCTOR.password.into(),
            video_size: size,
            fps: 30,
            args: vec![
                "--call-name".into(),
                PATIENT.display_name.into(),
                "--say".into(),
                DEMO_GREETING.into(),
                "--hang-up-after".into(),
                DEMO_CALL_SECONDS.to_string(),
            ],
        },
        callee: ClientSpec {
            label: "patient",
            email: PATIENT.email.into(),
            password: PATIENT.password.into(),
            video_size: size,
            fps: 30,
            args: vec![
                "--answer".into(),
                "--reply".into(),
                DEMO_REPLY.into(),
                "--tone-hz".into(),
                "660".into(),
            ],
        },
        name: "demo",
        log_dir: data_dir,
        timeout_s: DEMO_TIMEOUT_SECONDS,
        stop: Some(stop),
    };
    let result = call.run(&mut Printer { size })?;
    for side in [&result.caller, &result.callee] {
        for summary in &side.summaries {
            println!("{}", human_summary(side.label, summary));
        }
    }
    if result.interrupted {
        eprintln!("xtask: demo call interrupted");
        return Ok(false);
    }
    for side in [&result.caller, &result.callee] {
        let level = if side.ok() { "" } else { "FAILED: " };
        eprintln!(
            "xtask: {level}{} client: {}; log in {}",
            side.label,
            side.describe(),
            side.log.display()
        );
    }
    let ok = result.ok();
    eprintln!(
        "xtask: demo call {}",
        if ok { "succeeded" } else { "FAILED" }
    );
    Ok(ok)
}

/// Prints each `stats` line as a human line, and call progress.
struct Printer {
    size: (u32, u32),
}

impl Observer for Printer {
    fn on_event(&mut self, _side: Side, label: &str, event: &Event, _pids: Pids) {
        match event {
            Event::Stats(s) => println!("{}", human_stats(label, self.size, s)),
            Event::CallConnected => println!("[{label}] call connected"),
            Event::Ended(reason) => println!("[{label}] call ended: {reason}"),
            Event::Text(text) => println!("[{label}] {text}"),
            Event::Other(line) if line["event"] == "chat_message" => {
                println!(
                    "[{label}] chat: {}",
                    line["body"].as_str().unwrap_or_default()
                );
            }
            _ => {}
        }
    }
}

/// The local server: how to start it and where.
struct LocalServer {
    command: Command,
    addr: SocketAddr,
    config: PathBuf,
    data_dir: PathBuf,
}

/// Creates `./.clinicall/` and its `server.toml` (with a fresh JWT secret)
/// if needed, and returns the command that serves with demo accounts.
fn prepare_local_server(server: &Path) -> Result<LocalServer> {
    let root = workspace_root();
    let data = root.join(".clinicall");
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let config = data.join("server.toml");
    if !config.exists() {
        let text = local_server_config(&data.join("server.sqlite3"), &random_hex(32)?);
        write_private(&config, &text)?;
        eprintln!("xtask: wrote {}", config.display());
    }
    let text = std::fs::read_to_string(&config)
        .with_context(|| format!("reading {}", config.display()))?;
    // The environment overrides the file, as in the server.
    let listen = std::env::var("CLINICALL_SERVER__LISTEN")
        .ok()
        .or_else(|| configured_listen(&text));
    let addr = match listen {
        Some(listen) => connect_addr(
            listen
                .parse()
                .with_context(|| format!("the server's listen address {listen:?}"))?,
        ),
        None => DEFAULT_LISTEN,
    };
    let mut command = Command::new(server);
    command
        .arg("--config")
        .arg(&config)
        .args(["serve", "--demo"])
        .current_dir(&root);
    Ok(LocalServer {
        command,
        addr,
        config,
        data_dir: data,
    })
}

/// The config `cargo xtask run` writes on first use.
fn local_server_config(database: &Path, jwt_secret: &str) -> String {
    format!(
        "# Written by `cargo xtask run` on first use; edit freely, it is not overwritten.\n\
         [server]\n\
         listen = {}\n\
         \n\
         [storage]\n\
         database = {}\n\
         \n\
         [auth]\n\
         jwt_secret = {}\n",
        toml_string(&DEFAULT_LISTEN.to_string()),
        toml_string(&database.to_string_lossy()),
        toml_string(jwt_secret),
    )
}

/// `server.listen` from a server.toml, read line by line (enough for the
/// file we write; anything fancier falls back to the default).
fn configured_listen(toml: &str) -> Option<String> {
    let mut section = "";
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.trim_matches(['[', ']', ' ']);
        } else if section == "server"
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "listen"
        {
            let value = value.split('#').next().unwrap_or("").trim();
            return Some(value.trim_matches(['"', '\'']).to_owned());
        }
    }
    None
}

/// Where to connect to a server listening on `listen` (loopback when it
/// listens on every address).
fn connect_addr(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), listen.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), listen.port())
        }
        _ => listen,
    }
}

/// Opens the desktop app signed out on the local server, with the demo
/// patient answering calls as a headless client, until the window closes
/// or Ctrl-C.
fn open_desktop_app(
    headless: &Path,
    addr: SocketAddr,
    data_dir: &Path,
    mut server: ServerProcess,
    stop: &AtomicBool,
) -> Result<()> {
    crate::desktop::build_ui()?;
    step("building the desktop app (release; the first build takes a while)");
    let app = bin(&build_bins(true, &["clinicall-desktop"])?, "clinicall")?.clone();
    let app_dir = data_dir.join("app");
    std::fs::create_dir_all(&app_dir)?;
    let settings = app_dir.join("settings.json");
    if !settings.exists() {
        let text = serde_json::json!({ "server": format!("http://{addr}") }).to_string();
        std::fs::write(&settings, text)?;
    }
    let mut patient = Command::new(headless);
    patient
        .args([
            "--server",
            &format!("http://{addr}"),
            "--email",
            PATIENT.email,
        ])
        .args(["--answer", "--calls", "1000", "--timeout", "86400"])
        .args(["--reply", DEMO_REPLY])
        .env("CLINICALL_PASSWORD", PATIENT.password)
        .stdout(std::process::Stdio::null());
    let _patient = ServerProcess::spawn(patient, "the demo patient (headless)")?;
    eprintln!(
        "\nxtask: server at http://{addr}; sign in to the app as {} (password {}) and call {}, \
         who answers as a headless client (test pattern and tone) and replies to chat messages.\n\
         xtask: closing the window or Ctrl-C stops everything.",
        DOCTOR.email, DOCTOR.password, PATIENT.display_name
    );
    let mut window = Command::new(&app);
    window.env("CLINICALL_CONFIG_DIR", &app_dir);
    let mut window = ServerProcess::spawn(window, "the desktop app")?;
    loop {
        if stop.load(Ordering::SeqCst) || window.exited().is_some() {
            step("stopping");
            window.stop();
            server.stop();
            return Ok(());
        }
        if let Some(status) = server.exited() {
            bail!("the server exited on its own ({status})");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_strings_escape_quotes_and_backslashes() {
        assert_eq!(toml_string(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        let config = local_server_config(Path::new("/tmp/x y/server.sqlite3"), "abc123");
        assert!(
            config.contains("database = \"/tmp/x y/server.sqlite3\""),
            "{config}"
        );
        assert!(config.contains("jwt_secret = \"abc123\""), "{config}");
    }

    #[test]
    fn listen_address_comes_from_the_server_section() {
        let written = local_server_config(Path::new("/d/s.sqlite3"), "x");
        assert_eq!(
            configured_listen(&written).as_deref(),
            Some("127.0.0.1:8787")
        );
        let edited = "[storage]\nlisten = \"nope\"\n[server]\n  listen = '0.0.0.0:9000' # all\n";
        assert_eq!(configured_listen(edited).as_deref(), Some("0.0.0.0:9000"));
        assert_eq!(configured_listen("[server]\n"), None);
        assert_eq!(
            connect_addr("0.0.0.0:9000".parse().unwrap()),
            "127.0.0.1:9000".parse().unwrap()
        );
        assert_eq!(
            connect_addr("[::]:9000".parse().unwrap()),
            "[::1]:9000".parse().unwrap()
        );
        assert_eq!(
            connect_addr("127.0.0.2:1".parse().unwrap()),
            "127.0.0.2:1".parse().unwrap()
        );
    }
}
