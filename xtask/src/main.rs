//! Project automation, run as `cargo xtask <command>` (an alias in
//! `.cargo/config.toml`):
//!
//! - `setup`: install the system packages a fresh Debian/Ubuntu machine needs;
//! - `test`: setup, then every test; with `--lint` or `CI` set also rustfmt
//!   and clippy (this is what `.ci/run` runs);
//! - `run`: build the server and the headless client, run the server
//!   locally with demo accounts and show a demo call;
//! - `bench signaling`: the signaling relay load benchmark;
//! - `bench call`: call setup, media latency, CPU and memory of the client;
//! - `bench chat`: chat send-to-deliver latency;
//! - `bench appointments`: booking, contention, sync and directory search.

mod bench;
mod desktop;
mod headless;
mod run;
mod server;
mod setup;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

/// Clinicall's project tasks.
#[derive(Parser, Debug)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Check for the system packages the project needs and install what is
    /// missing (apt-get, as root or through sudo).
    Setup {
        /// Only these package groups (default: all).
        #[arg(long = "group", value_name = "NAME")]
        groups: Vec<String>,
    },
    /// Run setup, the workspace's tests and doc tests, and (with --lint or
    /// when CI is set) rustfmt and clippy. Fails if any step fails.
    Test {
        /// Also check formatting and run clippy with warnings denied.
        #[arg(long)]
        lint: bool,
    },
    /// Build the server and the headless client (release), start the
    /// server with demo accounts (data in ./.clinicall/), show a demo call
    /// between two headless clients, then serve until Ctrl-C.
    Run(run::RunArgs),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(bench::BenchCmd),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Setup { groups } => {
            let names: Vec<&str> = if groups.is_empty() {
                setup::all_group_names()
            } else {
                groups.iter().map(String::as_str).collect()
            };
            setup::ensure(&names)
        }
        Cmd::Test { lint } => test(lint),
        Cmd::Run(args) => run::run(args),
        Cmd::Bench(cmd) => bench::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (this crate's parent directory).
fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The cargo that runs us (`cargo xtask` sets `CARGO`), or the one on PATH.
fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(workspace_root());
    cmd
}

/// Prints a step banner.
fn step(what: &str) {
    eprintln!("\n==> xtask: {what}");
}

/// Runs a command to completion, failing on a non-zero exit.
fn run_checked(mut cmd: Command, what: &str) -> Result<()> {
    let status = cmd.status().with_context(|| format!("starting {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// Whether the `CI` environment variable asks for CI behaviour.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

fn test(lint: bool) -> Result<()> {
    step("setup");
    setup::ensure(&setup::all_group_names())?;
    desktop::ensure_tauri_driver()?;
    // The app embeds ui/dist at compile time: build it before cargo.
    desktop::build_ui()?;
    let mut steps: Vec<(&str, Vec<&str>)> = vec![
        (
            "cargo test --workspace --all-targets",
            vec!["test", "--workspace", "--all-targets"],
        ),
        (
            "cargo test --workspace --doc",
            vec!["test", "--workspace", "--doc"],
        ),
    ];
    if lint || in_ci() {
        steps.push(("cargo fmt --all --check", vec!["fmt", "--all", "--check"]));
        steps.push((
            "cargo clippy --workspace --all-targets -- -D warnings",
            vec![
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        ));
    }
    // Every step runs even after a failure, so one run reports all problems.
    let total = steps.len() + 1;
    let mut failed = Vec::new();
    step(&format!("[1/{total}] UI unit tests (vitest)"));
    if let Err(e) = desktop::ui_tests() {
        eprintln!("xtask: {e:#}");
        failed.push("vitest");
    }
    for (i, (name, args)) in steps.into_iter().enumerate() {
        step(&format!("[{}/{total}] {name}", i + 2));
        let mut cmd = cargo();
        cmd.args(args);
        if let Err(e) = run_checked(cmd, name) {
            eprintln!("xtask: {e:#}");
            failed.push(name);
        }
    }
    if failed.is_empty() {
        eprintln!("\nxtask test: all {total} steps passed");
        Ok(())
    } else {
        bail!(
            "{} of {total} steps failed: {}",
            failed.len(),
            failed.join("; ")
        )
    }
}

/// Builds binaries with cargo and returns their paths by binary name.
/// Diagnostics and progress go to the terminal as usual.
fn build_bins(release: bool, packages: &[&str]) -> Result<BTreeMap<String, PathBuf>> {
    let mut cmd = cargo();
    cmd.arg("build");
    if release {
        cmd.arg("--release");
    }
    for p in packages {
        cmd.args(["-p", p]);
    }
    cmd.args(["--bins", "--message-format=json-render-diagnostics"])
        .stdout(Stdio::piped());
    let what = format!("cargo build -p {}", packages.join(" -p "));
    let output = cmd
        .spawn()
        .with_context(|| format!("starting {what}"))?
        .wait_with_output()?;
    if !output.status.success() {
        bail!("{what} failed ({})", output.status);
    }
    Ok(parse_bin_artifacts(&String::from_utf8_lossy(
        &output.stdout,
    )))
}

/// Executables from cargo's JSON messages, by binary name.
fn parse_bin_artifacts(json_lines: &str) -> BTreeMap<String, PathBuf> {
    json_lines
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|v| v["reason"] == "compiler-artifact")
        .filter(|v| {
            v["target"]["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k == "bin"))
        })
        .filter_map(|v| {
            Some((
                v["target"]["name"].as_str()?.to_owned(),
                PathBuf::from(v["executable"].as_str()?),
            ))
        })
        .collect()
}

/// The binary `name` from a build, or an error naming what was built.
fn bin<'a>(bins: &'a BTreeMap<String, PathBuf>, name: &str) -> Result<&'a PathBuf> {
    bins.get(name).with_context(|| {
        format!(
            "the build produced no `{name}` binary (got: {})",
            bins.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    })
}

/// `s` as a TOML basic string. JSON string escapes are a subset of TOML's.
fn toml_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// `n` random bytes as lowercase hex, from the kernel.
fn random_hex(n: usize) -> Result<String> {
    use std::io::Read;
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes a file only its owner can read (it holds secrets).
fn write_private(path: &Path, contents: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_binaries_in_cargo_json() {
        let lines = r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"clinicall_protocol"},"executable":null}
{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"signaling-server"},"executable":"/t/release/signaling-server"}
{"reason":"build-finished","success":true}
not json
{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"loadgen"},"executable":"/t/release/loadgen"}"#;
        let bins = parse_bin_artifacts(lines);
        assert_eq!(bins.len(), 2);
        assert_eq!(bins["loadgen"], PathBuf::from("/t/release/loadgen"));
        assert!(bin(&bins, "signaling-server").is_ok());
        assert!(bin(&bins, "desktop").is_err());
    }

    #[test]
    fn random_hex_is_random_and_sized() {
        let a = random_hex(32).unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, random_hex(32).unwrap());
    }
}
