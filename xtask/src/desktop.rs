//! The desktop app's build steps: the UI (npm, Vite), tauri-driver for
//! the WebDriver tests, and opening the app.

use crate::setup::find_in_path;
use crate::{run_checked, step, workspace_root};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Command;

/// Oldest Node.js the UI's tools (Vite 6, Vitest 3) run on.
const MIN_NODE_MAJOR: u32 = 18;

fn ui_dir() -> PathBuf {
    workspace_root().join("ui")
}

/// Checks Node.js and npm are there and new enough.
fn check_node() -> Result<()> {
    let Some(node) = find_in_path("node") else {
        bail!(
            "Node.js {MIN_NODE_MAJOR}+ and npm are needed to build the desktop app's UI: \
             `apt-get install nodejs npm` (Debian 12 and Ubuntu 24.04 ship new enough ones)"
        );
    };
    if find_in_path("npm").is_none() {
        bail!(
            "npm is missing (Node.js is at {}): `apt-get install npm`",
            node.display()
        );
    }
    let version = Command::new(&node)
        .arg("--version")
        .output()
        .context("node --version")?;
    let text = String::from_utf8_lossy(&version.stdout);
    let major: u32 = text
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < MIN_NODE_MAJOR {
        bail!(
            "Node.js {} is too old for the UI's tools; {MIN_NODE_MAJOR} or newer is needed",
            text.trim()
        );
    }
    Ok(())
}

fn npm(args: &[&str]) -> Command {
    let mut cmd = Command::new("npm");
    cmd.args(args).current_dir(ui_dir());
    cmd
}

/// Installs the UI's npm packages (when package.json or the lock file
/// changed since) and builds `ui/dist`, which the app embeds.
pub fn build_ui() -> Result<()> {
    check_node()?;
    let dir = ui_dir();
    let stamp = dir.join("node_modules/.package-lock.json");
    let newer = |a: &PathBuf, b: &PathBuf| -> bool {
        let time = |p: &PathBuf| p.metadata().and_then(|m| m.modified()).ok();
        match (time(a), time(b)) {
            (Some(a), Some(b)) => a > b,
            _ => true,
        }
    };
    if !stamp.exists()
        || newer(&dir.join("package.json"), &stamp)
        || newer(&dir.join("package-lock.json"), &stamp)
    {
        step("npm install (ui/)");
        // `npm ci` refuses lock entries for other platforms' CLI binaries
        // that this registry does not serve; `install` takes the lock too.
        run_checked(npm(&["install", "--no-audit", "--no-fund"]), "npm install")?;
    }
    step("building the UI (tsc, vite)");
    run_checked(npm(&["run", "build"]), "npm run build")
}

/// Runs the UI's unit tests (Vitest).
pub fn ui_tests() -> Result<()> {
    run_checked(npm(&["test"]), "npm test (vitest)")
}

/// Path of tauri-driver, installing it with cargo when missing.
pub fn ensure_tauri_driver() -> Result<PathBuf> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|h| h.join("bin/tauri-driver"));
    if let Some(found) = find_in_path("tauri-driver").or(cargo_bin.filter(|p| p.is_file())) {
        return Ok(found);
    }
    step("installing tauri-driver (WebDriver for the app's end-to-end tests)");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // Its own target folder: the workspace's would be locked by our build.
    cmd.args(["install", "tauri-driver", "--locked", "--version", "^2.0"]);
    run_checked(cmd, "cargo install tauri-driver")?;
    find_in_path("tauri-driver")
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/tauri-driver"))
        })
        .filter(|p| p.is_file())
        .context("tauri-driver installed but not found")
}
