//! A local signaling server as a child process: started by `run` and the
//! benchmarks, probed through `/readyz`, and always stopped (gracefully
//! first) so no error path leaves one running.

use anyhow::{Context, Result, bail};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// How long a stopped server gets to shut down gracefully before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A server child that is stopped when dropped.
pub struct ServerProcess {
    child: Child,
}

impl ServerProcess {
    /// Starts `cmd` as a child.
    pub fn spawn(mut cmd: Command, what: &str) -> Result<Self> {
        let child = cmd.spawn().with_context(|| format!("starting {what}"))?;
        Ok(Self { child })
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the server has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM (graceful), then SIGKILL after a grace period. Returns the
    /// exit status when there is one.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        if let Some(status) = self.exited() {
            return Some(status);
        }
        terminate(self.child.id());
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!(
            "xtask: the server (pid {}) did not stop within {STOP_GRACE:?}; killing it",
            self.child.id()
        );
        let _ = self.child.kill();
        self.child.wait().ok()
    }

    /// Polls `GET /readyz` until it answers 200, the server exits, or the
    /// timeout passes.
    pub fn wait_ready(&mut self, addr: SocketAddr, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("the server exited before it was ready ({status})");
            }
            if http_get_status(addr, "/readyz") == Some(200) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("the server was not ready after {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends SIGTERM to a process through `kill(1)` (the workspace forbids the
/// `unsafe` a direct `kill(2)` would need).
/// A command running the server binary with its output in `log_path` and
/// none of our environment's `CLINICALL_*` settings (a benchmark's or a
/// demo's configuration must not be overridden from outside).
pub fn isolated_server_command(
    server: &std::path::Path,
    log_path: &std::path::Path,
) -> Result<Command> {
    let log = std::fs::File::create(log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    let mut cmd = Command::new(server);
    cmd.stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("CLINICALL_") {
            cmd.env_remove(key);
        }
    }
    Ok(cmd)
}

pub fn terminate(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Fails with a clear message when something already listens on `addr`.
pub fn ensure_port_free(addr: SocketAddr, hint: &str) -> Result<()> {
    match TcpListener::bind(addr) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            let who = if http_get_status(addr, "/readyz").is_some() {
                "an HTTP server (perhaps another `cargo xtask run` or a signaling-server you started)"
            } else {
                "another program"
            };
            bail!("{addr} is already in use by {who}. {hint}")
        }
        Err(e) => Err(e).with_context(|| format!("checking that {addr} is free")),
    }
}

/// The status code of a plain HTTP/1.1 GET, or `None` if there is no
/// answer.
pub fn http_get_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = [0u8; 64];
    let mut len = 0;
    while len < head.len() {
        match stream.read(&mut head[len..]) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                if head[..len].contains(&b'\n') {
                    break;
                }
            }
            Err(_) => return None,
        }
    }
    parse_status_line(&String::from_utf8_lossy(&head[..len]))
}

/// `200` from `HTTP/1.1 200 OK\r\n...`.
fn parse_status_line(response: &str) -> Option<u16> {
    let line = response.lines().next()?;
    let mut parts = line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_parsing() {
        assert_eq!(
            parse_status_line("HTTP/1.1 200 OK\r\ncontent-length: 0"),
            Some(200)
        );
        assert_eq!(
            parse_status_line("HTTP/1.1 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(parse_status_line("SSH-2.0-OpenSSH"), None);
        assert_eq!(parse_status_line(""), None);
    }

    #[test]
    fn readyz_probe_reads_a_real_response() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 256];
            while !request.ends_with(b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "request ended early");
                request.extend_from_slice(&buf[..n]);
            }
            let request = String::from_utf8(request).unwrap();
            s.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
                .unwrap();
            request
        });
        assert_eq!(http_get_status(addr, "/readyz"), Some(503));
        assert!(
            server
                .join()
                .unwrap()
                .starts_with("GET /readyz HTTP/1.1\r\n")
        );
        // Nothing listens there any more.
        assert_eq!(http_get_status(addr, "/readyz"), None);
    }

    #[test]
    fn a_busy_port_is_reported() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let err = ensure_port_free(addr, "Stop it first.")
            .unwrap_err()
            .to_string();
        assert!(err.contains("already in use"), "{err}");
        assert!(err.contains("Stop it first."), "{err}");
        drop(listener);
        ensure_port_free(addr, "").unwrap();
    }
}
