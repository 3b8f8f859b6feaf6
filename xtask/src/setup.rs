//! `cargo xtask setup`: the system packages a fresh Debian or Ubuntu machine
//! needs, as named groups. A feature that needs more (WebKitGTK for the
//! desktop app, PulseAudio for audio tests) adds a group here and asks for
//! it from the commands that need it.

use anyhow::{Context, Result, bail};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A named set of apt packages needed for one purpose.
#[derive(Debug)]
pub struct PackageGroup {
    /// Name used on the command line (`cargo xtask setup --group NAME`).
    pub name: &'static str,
    /// What needs it, shown when something is missing.
    pub purpose: &'static str,
    /// Debian package names.
    pub packages: &'static [&'static str],
}

/// Every group, in installation order.
pub const GROUPS: &[PackageGroup] = &[
    PackageGroup {
        name: "build",
        purpose: "C compiler and pkg-config for crates with native code (bundled SQLite, TLS), and OpenSSL's libcrypto for SQLCipher (the chat cache; Cargo gives the whole workspace's SQLite the same features)",
        packages: &["build-essential", "pkg-config", "libssl-dev"],
    },
    PackageGroup {
        name: "codecs",
        purpose: "VP8 and Opus for call media (libvpx, libopus, found through pkg-config)",
        packages: &["libvpx-dev", "libopus-dev"],
    },
    PackageGroup {
        name: "turn",
        purpose: "coturn TURN server for the relay end-to-end test",
        packages: &["coturn"],
    },
    PackageGroup {
        name: "audio",
        purpose: "ALSA headers for cpal, and a PulseAudio null sink that tests play into and record from",
        packages: &[
            "libasound2-dev",
            "pulseaudio",
            "pulseaudio-utils",
            "libasound2-plugins",
        ],
    },
    PackageGroup {
        name: "camera",
        purpose: "libclang for nokhwa's V4L2 bindings (bindgen)",
        packages: &["libclang1-14", "libclang-dev"],
    },
    PackageGroup {
        name: "keychain",
        purpose: "Secret Service (gnome-keyring under a private D-Bus session) and kernel keyrings for the keychain tests",
        packages: &["gnome-keyring", "dbus-x11", "libdbus-1-dev", "keyutils"],
    },
    PackageGroup {
        name: "desktop",
        purpose: "WebKitGTK and GTK for the Tauri app; Xvfb, WebKitWebDriver, xdotool, ImageMagick and GNOME Keyring (the chat cache's key) for its end-to-end tests",
        packages: &[
            "libwebkit2gtk-4.1-dev",
            "libgtk-3-dev",
            "libayatana-appindicator3-dev",
            "librsvg2-dev",
            "libssl-dev",
            "xvfb",
            "xauth",
            "webkit2gtk-driver",
            "xdotool",
            "imagemagick",
            "gnome-keyring",
        ],
    },
];

/// Names of the groups building and testing the whole workspace needs.
pub fn all_group_names() -> Vec<&'static str> {
    GROUPS.iter().map(|g| g.name).collect()
}

/// Looks up groups by name.
pub fn groups_named(names: &[&str]) -> Result<Vec<&'static PackageGroup>> {
    names
        .iter()
        .map(|name| {
            GROUPS.iter().find(|g| g.name == *name).with_context(|| {
                format!(
                    "no package group {name:?} (known: {})",
                    all_group_names().join(", ")
                )
            })
        })
        .collect()
}

/// Makes sure every package of the named groups is installed, installing
/// what is missing when we are root or have sudo.
pub fn ensure(names: &[&str]) -> Result<()> {
    let groups = groups_named(names)?;
    let wanted: Vec<&str> = groups
        .iter()
        .flat_map(|g| g.packages.iter().copied())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let Some(installed) = query_installed(&wanted)? else {
        eprintln!(
            "xtask setup: no dpkg-query here (not Debian/Ubuntu?); make sure the equivalents of these are installed: {}",
            wanted.join(" ")
        );
        return Ok(());
    };
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|p| !installed.contains(*p))
        .collect();
    if missing.is_empty() {
        eprintln!(
            "xtask setup: system packages present ({})",
            groups.iter().map(|g| g.name).collect::<Vec<_>>().join(", ")
        );
        return Ok(());
    }
    for g in &groups {
        let absent: Vec<&str> = g
            .packages
            .iter()
            .copied()
            .filter(|p| missing.contains(p))
            .collect();
        if !absent.is_empty() {
            eprintln!(
                "xtask setup: group {:?} ({}) is missing: {}",
                g.name,
                g.purpose,
                absent.join(" ")
            );
        }
    }
    let install_line = format!(
        "apt-get update && apt-get install -y --no-install-recommends {}",
        missing.join(" ")
    );
    let prefix: Vec<String> = if is_root() {
        Vec::new()
    } else if find_in_path("sudo").is_some() {
        vec!["sudo".into()]
    } else {
        bail!(
            "missing system packages: {}\ninstall them as root with:\n    {install_line}",
            missing.join(" ")
        );
    };
    // Never run two apt commands at once; these run one after the other.
    let apt = |args: &[&str]| -> Result<()> {
        let mut argv: Vec<String> = prefix.clone();
        argv.extend(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"].map(String::from));
        argv.extend(args.iter().map(|s| s.to_string()));
        eprintln!("xtask setup: running {}", argv.join(" "));
        let status = Command::new(&argv[0])
            .args(&argv[1..])
            .status()
            .with_context(|| format!("starting {}", argv[0]))?;
        if !status.success() {
            bail!(
                "{} failed ({status}); to install by hand:\n    {install_line}",
                argv.join(" ")
            );
        }
        Ok(())
    };
    apt(&["update"])?;
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend(missing.iter().copied());
    apt(&install)?;

    let installed = query_installed(&wanted)?.unwrap_or_default();
    let still: Vec<&str> = missing
        .iter()
        .copied()
        .filter(|p| !installed.contains(*p))
        .collect();
    if !still.is_empty() {
        bail!("still missing after apt-get install: {}", still.join(" "));
    }
    eprintln!("xtask setup: installed {}", missing.join(" "));
    Ok(())
}

/// Which of `packages` dpkg reports as installed; `None` without dpkg.
fn query_installed(packages: &[&str]) -> Result<Option<BTreeSet<String>>> {
    if find_in_path("dpkg-query").is_none() {
        return Ok(None);
    }
    // Unknown packages make dpkg-query exit 1 and complain on stderr; the
    // known ones are still listed on stdout, which is all we read.
    let output = Command::new("dpkg-query")
        .arg("-W")
        .arg("-f=${Package}\t${Status}\n")
        .args(packages)
        .stderr(Stdio::null())
        .output()
        .context("running dpkg-query")?;
    Ok(Some(parse_installed(&String::from_utf8_lossy(
        &output.stdout,
    ))))
}

/// Parses `dpkg-query -W -f='${Package}\t${Status}\n'` output into the set
/// of packages whose status is fully installed. The status has three words,
/// want / error flag / state: `install ok installed` counts;
/// `deinstall ok config-files` (removed, configuration left) and
/// `install ok half-configured` do not.
pub fn parse_installed(output: &str) -> BTreeSet<String> {
    output
        .lines()
        .filter_map(|line| {
            let (package, status) = line.split_once('\t')?;
            let words: Vec<&str> = status.split_whitespace().collect();
            (words.len() == 3 && words[1] == "ok" && words[2] == "installed")
                .then(|| package.trim().to_owned())
        })
        .collect()
}

/// Whether this process runs as root (effective uid 0).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| effective_uid(&s))
        .or_else(|| {
            let out = Command::new("id").arg("-u").output().ok()?;
            String::from_utf8_lossy(&out.stdout).trim().parse().ok()
        })
        == Some(0)
}

/// The effective uid from a `/proc/PID/status` text (`Uid:` real,
/// effective, saved, filesystem).
pub fn effective_uid(status: &str) -> Option<u32> {
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line["Uid:".len()..].split_whitespace().nth(1)?.parse().ok()
}

/// The first executable called `name` on `PATH`.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fully_installed_packages_count() {
        let out = "build-essential\tinstall ok installed\n\
                   pkg-config\tdeinstall ok config-files\n\
                   libfoo-dev\tinstall ok half-configured\n\
                   libbar\thold ok installed\n\
                   garbage line\n";
        let got = parse_installed(out);
        assert!(got.contains("build-essential"));
        assert!(got.contains("libbar"), "held packages are installed");
        assert!(!got.contains("pkg-config"));
        assert!(!got.contains("libfoo-dev"));
        assert_eq!(got.len(), 2);
        assert!(parse_installed("").is_empty());
    }

    #[test]
    fn reads_effective_uid() {
        let status = "Name:\tcargo\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\n";
        assert_eq!(effective_uid(status), Some(0));
        assert_eq!(effective_uid("Uid:\t1000\t1000\t1000\t1000\n"), Some(1000));
        assert_eq!(effective_uid("Name:\tx\n"), None);
    }

    #[test]
    fn groups_resolve_by_name() {
        let groups = groups_named(&["build"]).unwrap();
        assert!(groups[0].packages.contains(&"pkg-config"));
        // SQLCipher links libcrypto for every build of the workspace.
        assert!(groups[0].packages.contains(&"libssl-dev"));
        let err = groups_named(&["nope"]).unwrap_err().to_string();
        assert!(err.contains("build"), "{err}");
        // Every group has packages and a unique name.
        let names: BTreeSet<_> = GROUPS.iter().map(|g| g.name).collect();
        assert_eq!(names.len(), GROUPS.len());
        assert!(GROUPS.iter().all(|g| !g.packages.is_empty()));
    }
}
