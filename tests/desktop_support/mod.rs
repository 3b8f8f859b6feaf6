//! What the desktop app's WebDriver tests share: a private X display
//! (Xvfb), a private D-Bus session (the single-instance plugin and
//! notifications use it) with an unlocked keyring, tauri-driver in front of WebKitWebDriver, and a
//! WebDriver session on the real app binary with its own settings folder.
//! Everything is started here on free ports and stopped on drop.

#![allow(dead_code)] // each test uses a different part

pub mod webdriver;

use webdriver::{Element, Session};

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The app under test, built by cargo for this package's tests.
pub const APP: &str = env!("CARGO_BIN_EXE_clinicall");

/// Where screenshots of the key screens go (kept after the run).
pub fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts/desktop");
    std::fs::create_dir_all(&dir).expect("artifacts folder");
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn tool(name: &str) -> PathBuf {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo/bin")))
        .chain(std::env::var_os("CARGO_HOME").map(|h| Path::new(&h).join("bin")));
    for dir in candidates {
        let path = dir.join(name);
        if path.is_file() {
            return path;
        }
    }
    panic!("{name} is not installed: run `cargo xtask setup`")
}

/// A private X server.
pub struct Display {
    child: Child,
    /// `:N`
    pub name: String,
}

impl Display {
    pub async fn start() -> Display {
        // A display number nobody uses: its lock file is absent.
        let number = (100..400)
            .map(|n| n + std::process::id() % 200)
            .find(|n| !Path::new(&format!("/tmp/.X{n}-lock")).exists())
            .expect("a free display number");
        let name = format!(":{number}");
        let child = Command::new(tool("Xvfb"))
            .args([
                &name,
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
                "-noreset",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("Xvfb starts");
        let socket = format!("/tmp/.X11-unix/X{number}");
        wait_until(Duration::from_secs(10), || Path::new(&socket).exists()).await;
        Display { child, name }
    }
}

/// A private D-Bus session bus.
pub struct Bus {
    child: Child,
    /// `DBUS_SESSION_BUS_ADDRESS`
    pub address: String,
}

impl Bus {
    pub async fn start() -> Bus {
        let mut child = Command::new(tool("dbus-daemon"))
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("dbus-daemon starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let address = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("dbus-daemon prints its address")
            .unwrap()
            .expect("an address line");
        Bus { child, address }
    }
}

fn tracing_free_log(message: &str) {
    eprintln!("desktop test: {message}");
}

async fn wait_until(limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "not ready in {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts an unlocked GNOME Keyring (the Secret Service) on the private
/// bus, as a desktop session has one: the app keeps the chat cache's key
/// there. Before the app starts: otherwise the first use of the bus name
/// starts a locked keyring by D-Bus activation, which has no collection to
/// store in. It exits with the bus.
async fn unlock_keyring(env: &[(String, String)]) {
    let mut daemon = Command::new(tool("gnome-keyring-daemon"))
        .args(["--unlock", "--components=secrets"])
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("gnome-keyring-daemon starts (package gnome-keyring)");
    let mut stdin = daemon.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, b"throw-away-password")
        .await
        .unwrap();
    drop(stdin);
    // It forks the daemon, which answers on the bus, and exits.
    let status = tokio::time::timeout(Duration::from_secs(20), daemon.wait())
        .await
        .expect("gnome-keyring-daemon started in time")
        .unwrap();
    assert!(status.success(), "gnome-keyring-daemon failed: {status}");
}

/// How the app is started.
pub struct AppConfig {
    /// Written as the app's `settings.json`.
    pub settings: Value,
    /// Extra environment for the app.
    pub env: Vec<(String, String)>,
    /// Extra command-line arguments for the app (such as a
    /// `clinicall://` link), passed through tauri-driver's
    /// `tauri:options.args`.
    pub args: Vec<String>,
}

impl AppConfig {
    /// Settings for a test against `server`: synthetic media (there is no
    /// camera here), no sound output.
    pub fn for_server(server: &str) -> AppConfig {
        AppConfig {
            settings: json!({
                "server": server,
                "video_input": { "kind": "test_pattern" },
                "audio_input": { "kind": "tone" },
                "audio_output": { "kind": "none" },
                "notifications": true,
            }),
            env: Vec::new(),
            args: Vec::new(),
        }
    }
}

/// The real app under WebDriver.
pub struct App {
    pub client: Session,
    driver: Child,
    _bus: Bus,
    display: Display,
    pub home: tempfile::TempDir,
    /// The environment the app runs in.
    env: Vec<(String, String)>,
    /// Lines the app printed on stdout.
    pub stdout: Lines,
    /// Lines the app logged on stderr.
    pub stderr: Lines,
}

/// Lines of a child's output, collected as they come.
pub type Lines = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

fn collect_lines(out: impl tokio::io::AsyncRead + Unpin + Send + 'static, echo: bool) -> Lines {
    let collected = Lines::default();
    let sink = collected.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(out).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if echo {
                eprintln!("{line}");
            }
            sink.lock().unwrap().push(line);
        }
    });
    collected
}

/// The app's environment: the test's display and bus, a private home and
/// config folder, software rendering, and the test's extra variables.
fn app_env(
    display: &Display,
    bus: &Bus,
    home: &Path,
    config_dir: &Path,
    extra: &[(String, String)],
) -> Vec<(String, String)> {
    let path = |p: &Path| p.display().to_string();
    let mut env = vec![
        ("DISPLAY".into(), display.name.clone()),
        ("DBUS_SESSION_BUS_ADDRESS".into(), bus.address.clone()),
        ("HOME".into(), path(home)),
        ("XDG_CONFIG_HOME".into(), path(&home.join("xdg-config"))),
        ("XDG_DATA_HOME".into(), path(&home.join("xdg-data"))),
        ("XDG_CACHE_HOME".into(), path(&home.join("xdg-cache"))),
        ("CLINICALL_CONFIG_DIR".into(), path(config_dir)),
        // Software rendering under Xvfb; far less CPU without DMABUF.
        ("WEBKIT_DISABLE_DMABUF_RENDERER".into(), "1".into()),
        (
            "RUST_LOG".into(),
            "warn,clinicall_desktop=info,rtc=error,rtc_ice=error,rtc_dtls=error".into(),
        ),
    ];
    env.extend(extra.iter().cloned());
    env
}

impl App {
    /// Starts a display, a bus, tauri-driver and the app.
    pub async fn launch(config: AppConfig) -> App {
        let display = Display::start().await;
        let bus = Bus::start().await;
        let home = tempfile::tempdir().unwrap();
        let config_dir = home.path().join("config");
        std::fs::create_dir_all(&config_dir).unwrap();
        std::fs::write(
            config_dir.join("settings.json"),
            config.settings.to_string(),
        )
        .unwrap();

        let env = app_env(&display, &bus, home.path(), &config_dir, &config.env);
        unlock_keyring(&env).await;
        let (port, native_port) = (free_port(), free_port());
        let mut driver = Command::new(tool("tauri-driver"));
        driver
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .args(["--native-driver", "/usr/bin/WebKitWebDriver"])
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut driver = driver.spawn().expect("tauri-driver starts");
        let stdout = collect_lines(driver.stdout.take().unwrap(), false);
        // The app's log, kept for assertions and passed on to the test's
        // own output.
        let stderr = collect_lines(driver.stderr.take().unwrap(), true);

        let url = format!("http://127.0.0.1:{port}");
        wait_until(Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
        .await;
        // tauri-driver listens before its WebKitWebDriver is ready; the
        // first requests can fail while it starts.
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            let caps = json!({
                "browserName": "wry",
                "tauri:options": { "application": APP, "args": &config.args },
            });
            match Session::start(&url, caps).await {
                Ok(session) => break session,
                Err(e) if Instant::now() < deadline => {
                    tracing_free_log(&format!("WebDriver not ready yet: {e}"));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no WebDriver session on the app: {e}"),
            }
        };
        App {
            client,
            driver,
            _bus: bus,
            display,
            home,
            env,
            stdout,
            stderr,
        }
    }

    /// Starts the app binary a second time, as a user would, in the same
    /// session (display, bus, home) as this one, and waits up to `limit`
    /// for it to exit. `None`: still running at the limit (then killed).
    pub async fn launch_again(&self, limit: Duration) -> Option<std::process::ExitStatus> {
        self.launch_again_with(&[], limit).await
    }

    /// [`launch_again`](Self::launch_again) with command-line arguments
    /// (a `clinicall://` link, as the OS passes it).
    pub async fn launch_again_with(
        &self,
        args: &[&str],
        limit: Duration,
    ) -> Option<std::process::ExitStatus> {
        let mut second = Command::new(APP)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the app binary starts");
        tokio::time::timeout(limit, second.wait())
            .await
            .ok()
            .map(|status| status.expect("waiting for the second launch"))
    }

    /// Whether the app has logged a line containing `needle`.
    pub fn logged(&self, needle: &str) -> bool {
        self.stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(needle))
    }

    /// Waits (up to 30 s) for an element matching `css`.
    pub async fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.client.find(css).await {
                Ok(Some(element)) => return element,
                Ok(None) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Ok(None) => {
                    self.screenshot("missing-element").await;
                    panic!("no {css} on screen in 30 s")
                }
                Err(e) => panic!("finding {css}: {e}"),
            }
        }
    }

    /// Whether an element matching `css` is on screen now.
    pub async fn exists(&self, css: &str) -> bool {
        self.client.find(css).await.expect("find").is_some()
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.client
            .click(&element)
            .await
            .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
    }

    /// Types into the element matching `css`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.client
            .send_keys(&element, text)
            .await
            .unwrap_or_else(|e| panic!("cannot type into {css}: {e}"));
    }

    /// The text of the element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        self.client.text(&element).await.expect("element text")
    }

    /// Runs `script` in the page and returns its value.
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `script` returns `true`.
    pub async fn wait_true(&self, limit: Duration, script: &str) {
        let deadline = Instant::now() + limit;
        loop {
            if self.eval(script).await == Value::Bool(true) {
                return;
            }
            if Instant::now() > deadline {
                self.screenshot("timeout").await;
                panic!("not true within {limit:?}: {script}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a screenshot of the display as `<name>.png` in the
    /// artifacts (ImageMagick's `import`: WebKitWebDriver's own screenshot
    /// command stalled under Xvfb here).
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let path = artifacts_dir().join(format!("{name}.png"));
        let status = Command::new(tool("import"))
            .args(["-display", &self.display.name, "-window", "root"])
            .arg(&path)
            .status()
            .await
            .expect("import runs");
        assert!(status.success(), "screenshot {name} failed");
        path
    }

    /// Waits until the contact `user_id` shows as online.
    pub async fn contact_online(&self, user_id: &str) {
        self.wait_true(
            Duration::from_secs(30),
            &format!(
                "return document.querySelector('[data-user-id=\"{user_id}\"]')?.dataset.online === 'true'"
            ),
        )
        .await;
    }

    /// Clicks "Call" on the contact `user_id` and waits for the call window.
    pub async fn call_contact(&self, user_id: &str) {
        self.click(&format!("[data-user-id=\"{user_id}\"] button.call"))
            .await;
        self.find("#call-window").await;
    }

    /// Signs in through the sign-in screen.
    pub async fn sign_in(&self, email: &str, password: &str, remember: bool) {
        self.type_into("#email", email).await;
        self.type_into("#password", password).await;
        let checked = self
            .eval("return document.querySelector('#remember').checked")
            .await;
        if checked != Value::Bool(remember) {
            self.click("#remember").await;
        }
        self.click("#sign-in").await;
    }

    /// The driver's process id (the app runs under it).
    pub fn driver_pid(&self) -> u32 {
        self.driver.id().expect("the driver runs")
    }

    /// Ends the WebDriver session (closing the app) and the driver.
    pub async fn close(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill().await;
    }
}
