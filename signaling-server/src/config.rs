//! Server configuration: one TOML file, overridable by environment variables
//! (`CLINICALL_<SECTION>__<KEY>`, for example `CLINICALL_SERVER__LISTEN`),
//! then by command-line flags. Every setting has a default that works for a
//! single clinic box on loopback.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole configuration. The TOML file mirrors this structure.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Network settings.
    pub server: ServerSection,
    /// Where data lives.
    pub storage: StorageSection,
    /// Accounts and tokens.
    pub auth: AuthSection,
    /// Call signaling timing.
    pub calls: CallsSection,
    /// Who sees whom.
    pub presence: PresenceSection,
    /// Abuse limits.
    pub limits: LimitsSection,
    /// STUN/TURN servers for the clients' calls.
    pub ice: IceSection,
    /// Chat attachments.
    pub chat: ChatSection,
    /// Logging.
    pub log: LogSection,
}

/// `[server]`
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    /// Address and port to listen on. Loopback by default: put a TLS proxy
    /// in front, or change it deliberately.
    pub listen: SocketAddr,
    /// How long to wait for connections to close on shutdown.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Reverse proxies (exact addresses) whose `X-Forwarded-For` header is
    /// believed, so per-client limits see the client, not the proxy.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
            shutdown_grace: Duration::from_secs(5),
            trusted_proxies: Vec::new(),
        }
    }
}

/// `[storage]`
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSection {
    /// SQLite database file; created with its schema if missing.
    pub database: PathBuf,
}

impl Default for StorageSection {
    fn default() -> Self {
        Self {
            database: PathBuf::from("clinicall.sqlite3"),
        }
    }
}

/// `[auth]`
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSection {
    /// Secret that signs access tokens (at least 32 bytes). If unset, a
    /// random one is made at each start, which signs everyone out on
    /// restart: set it in production.
    pub jwt_secret: Option<String>,
    /// Lifetime of an access token.
    #[serde(with = "humantime_serde")]
    pub access_token_ttl: Duration,
    /// Lifetime of a refresh token (each refresh issues a new one).
    #[serde(with = "humantime_serde")]
    pub refresh_token_ttl: Duration,
    /// argon2id memory cost in KiB (OWASP's recommendation is 19456).
    pub argon2_memory_kib: u32,
    /// argon2id iterations.
    pub argon2_iterations: u32,
    /// If set together with the password, this admin is created at start
    /// when no account has this email.
    pub bootstrap_admin_email: Option<String>,
    /// Password for `bootstrap_admin_email`.
    pub bootstrap_admin_password: Option<String>,
}

// Hand-written so the secret and the bootstrap password never reach a log.
impl std::fmt::Debug for AuthSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSection")
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "<set>"))
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("argon2_memory_kib", &self.argon2_memory_kib)
            .field("argon2_iterations", &self.argon2_iterations)
            .field("bootstrap_admin_email", &self.bootstrap_admin_email)
            .finish_non_exhaustive()
    }
}

impl Default for AuthSection {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            argon2_memory_kib: 19456,
            argon2_iterations: 2,
            bootstrap_admin_email: None,
            bootstrap_admin_password: None,
        }
    }
}

/// `[calls]`
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CallsSection {
    /// How long a call rings before it ends unanswered.
    #[serde(with = "humantime_serde")]
    pub ring_timeout: Duration,
}

impl Default for CallsSection {
    fn default() -> Self {
        Self {
            ring_timeout: Duration::from_secs(30),
        }
    }
}

/// `[presence]`
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PresenceSection {
    /// How long a dropped connection's session (and its calls) is kept for
    /// the client to resume. Short, so a vanished party frees the other.
    #[serde(with = "humantime_serde")]
    pub resume_grace: Duration,
    /// Patients see (and may call) every doctor, not only those they have a
    /// care relation with. On until appointments define "my doctors".
    pub patients_see_all_doctors: bool,
    /// Interval of WebSocket pings; a connection silent for three intervals
    /// is dropped.
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
}

impl Default for PresenceSection {
    fn default() -> Self {
        Self {
            resume_grace: Duration::from_secs(10),
            patients_see_all_doctors: true,
            heartbeat_interval: Duration::from_secs(20),
        }
    }
}

/// `[limits]`
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsSection {
    /// Sustained WebSocket messages per second per connection.
    pub messages_per_second: u32,
    /// Messages a connection may send back to back before the sustained
    /// rate applies (the bucket size; at least `messages_per_second`).
    pub message_burst: u32,
    /// Login, registration and refresh requests per minute per client IP
    /// (0 turns the limit off, for benchmarks).
    pub auth_requests_per_minute: u32,
    /// Largest REST request body, in bytes.
    pub max_body_bytes: usize,
    /// Time a new WebSocket has to send its `hello`.
    #[serde(with = "humantime_serde")]
    pub hello_timeout: Duration,
    /// Sessions (devices) one user may have at once.
    pub max_sessions_per_user: usize,
}

impl Default for LimitsSection {
    fn default() -> Self {
        Self {
            messages_per_second: 50,
            message_burst: 100,
            auth_requests_per_minute: 30,
            max_body_bytes: 16 * 1024,
            hello_timeout: Duration::from_secs(10),
            max_sessions_per_user: 8,
        }
    }
}

/// `[ice]`: the STUN/TURN servers every `welcome` carries.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IceSection {
    /// Servers sent as they are, static credentials included. None by
    /// default: clients then use host candidates only, which is fine on a
    /// LAN.
    pub servers: Vec<IceServerEntry>,
    /// The TURN server's shared secret (coturn `static-auth-secret` with
    /// `use-auth-secret`). When set, each welcome also carries a TURN entry
    /// for `turn_urls` with credentials that expire after
    /// `turn_credential_ttl`.
    pub turn_secret: Option<String>,
    /// TURN URLs the short-lived credentials are for.
    pub turn_urls: Vec<String>,
    /// How long short-lived TURN credentials stay valid for starting a
    /// relay (a relay in use outlives them). Clients keep the credentials
    /// of their latest welcome, so this bounds how long after connecting a
    /// client can still start a relayed call.
    #[serde(with = "humantime_serde")]
    pub turn_credential_ttl: Duration,
}

/// One entry of `[[ice.servers]]`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IceServerEntry {
    /// `stun:`, `stuns:`, `turn:` or `turns:` URLs of one server.
    pub urls: Vec<String>,
    /// TURN username (required with a `turn:`/`turns:` URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN password (required with a `turn:`/`turns:` URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

// Hand-written so TURN secrets and passwords never reach a log.
impl std::fmt::Debug for IceSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceSection")
            .field("servers", &self.servers)
            .field("turn_secret", &self.turn_secret.as_ref().map(|_| "<set>"))
            .field("turn_urls", &self.turn_urls)
            .field("turn_credential_ttl", &self.turn_credential_ttl)
            .finish()
    }
}

impl std::fmt::Debug for IceServerEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceServerEntry")
            .field("urls", &self.urls)
            .field("username", &self.username)
            .field("credential", &self.credential.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl Default for IceSection {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            turn_secret: None,
            turn_urls: Vec::new(),
            turn_credential_ttl: Duration::from_secs(3600),
        }
    }
}

impl IceSection {
    /// Refuses settings a WebRTC stack would reject or that would do
    /// nothing, so they fail at start rather than in a patient's call.
    fn check(&self) -> Result<(), String> {
        for (i, server) in self.servers.iter().enumerate() {
            let at = format!("ice.servers[{i}]");
            if server.urls.is_empty() {
                return Err(format!("{at}.urls must name at least one URL"));
            }
            for url in &server.urls {
                check_ice_url(&format!("{at}.urls"), url, ICE_SCHEMES)?;
            }
            // Browsers refuse a TURN URL without both (RTCPeerConnection
            // throws InvalidAccessError); other stacks fail at allocation.
            let turn = server.urls.iter().any(|u| is_turn_url(u));
            if turn && (server.username.is_none() || server.credential.is_none()) {
                return Err(format!(
                    "{at} has a turn: URL, so it needs username and credential"
                ));
            }
        }
        match (&self.turn_secret, self.turn_urls.is_empty()) {
            (Some(secret), _) if secret.is_empty() => {
                return Err("ice.turn_secret must not be empty".into());
            }
            (Some(_), true) => {
                return Err("ice.turn_secret needs ice.turn_urls (the TURN server's URLs)".into());
            }
            (None, false) => {
                return Err(
                    "ice.turn_urls needs ice.turn_secret (the TURN server's static-auth-secret)"
                        .into(),
                );
            }
            _ => {}
        }
        for url in &self.turn_urls {
            check_ice_url("ice.turn_urls", url, TURN_SCHEMES)?;
        }
        if self.turn_secret.is_some() && self.turn_credential_ttl < Duration::from_secs(1) {
            return Err("ice.turn_credential_ttl must be at least 1s".into());
        }
        Ok(())
    }
}

const ICE_SCHEMES: &[&str] = &["stun:", "stuns:", "turn:", "turns:"];
const TURN_SCHEMES: &[&str] = &["turn:", "turns:"];

fn is_turn_url(url: &str) -> bool {
    TURN_SCHEMES.iter().any(|s| url.starts_with(s))
}

fn check_ice_url(field: &str, url: &str, schemes: &[&str]) -> Result<(), String> {
    let Some(server) = schemes.iter().find_map(|s| url.strip_prefix(s)) else {
        return Err(format!(
            "{field}: {url:?} must start with {}",
            schemes.join(", ")
        ));
    };
    if server.is_empty() || url.contains(char::is_whitespace) {
        return Err(format!("{field}: {url:?} is not a valid URL"));
    }
    Ok(())
}

/// `[chat]`
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ChatSection {
    /// Largest attachment upload, in bytes. Checked against Content-Length
    /// before the body is read, and again while it streams in.
    pub max_attachment_bytes: u64,
    /// Where attachment files (and their thumbnails) are kept, named by
    /// their SHA-256. Unset: an `attachments` folder beside the database.
    /// Back it up with the database.
    pub attachments_dir: Option<PathBuf>,
}

impl Default for ChatSection {
    fn default() -> Self {
        Self {
            max_attachment_bytes: 10 * 1024 * 1024,
            attachments_dir: None,
        }
    }
}

impl Config {
    /// The attachments folder: `chat.attachments_dir`, or `attachments`
    /// beside the database file.
    pub fn attachments_dir(&self) -> PathBuf {
        self.chat.attachments_dir.clone().unwrap_or_else(|| {
            self.storage
                .database
                .parent()
                .unwrap_or(Path::new(""))
                .join("attachments")
        })
    }
}

/// `[log]`
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogSection {
    /// Filter in `tracing` syntax, for example `info` or
    /// `info,clinicall_signaling_server=debug`.
    pub filter: String,
    /// `json` (one object per line) or `text`.
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, for log shippers.
    Json,
    /// Human-readable lines.
    Text,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            filter: "info".into(),
            format: LogFormat::Json,
        }
    }
}

/// The help text listing every setting, shown by `--help`.
pub const SETTINGS_HELP: &str = "\
SETTINGS (TOML file given by --config; each can be overridden by an environment
variable CLINICALL_<SECTION>__<KEY>, e.g. CLINICALL_SERVER__LISTEN=0.0.0.0:8787):

  [server]
  listen = \"127.0.0.1:8787\"        address to serve HTTP and WebSocket on
  shutdown_grace = \"5s\"            wait for connections to close on shutdown
  trusted_proxies = [\"127.0.0.1\"]  reverse proxies whose X-Forwarded-For is believed
                                   (for per-client sign-in limits); none by default
  [storage]
  database = \"clinicall.sqlite3\"   SQLite file, created with its schema if missing
  [auth]
  jwt_secret = \"...\"               signs access tokens (>= 32 bytes); random per
                                   start if unset, which signs everyone out on restart
  access_token_ttl = \"15m\"         lifetime of an access token
  refresh_token_ttl = \"30days\"     lifetime of a refresh token (rotated on use)
  argon2_memory_kib = 19456        argon2id memory cost
  argon2_iterations = 2            argon2id time cost
  bootstrap_admin_email = \"...\"    create this admin at start if missing ...
  bootstrap_admin_password = \"...\" ... with this password
  [calls]
  ring_timeout = \"30s\"             unanswered calls end after this
  [presence]
  resume_grace = \"10s\"             a dropped session (and its call) is kept this long
  patients_see_all_doctors = true  patients see and may call every doctor
  heartbeat_interval = \"20s\"       WebSocket ping interval; 3 missed = dropped
  [limits]
  messages_per_second = 50         per WebSocket connection, sustained
  message_burst = 100              per WebSocket connection, burst
  auth_requests_per_minute = 30    login/register/refresh per client IP (0 = off)
  max_body_bytes = 16384           largest REST request body
  hello_timeout = \"10s\"            time a new WebSocket has to say hello
  max_sessions_per_user = 8        devices one user may have signed in at once
  [ice]                            STUN/TURN servers sent to clients in every welcome;
                                   none by default (host candidates only, fine on a LAN)
  servers = [{urls = [\"stun:stun.example.org:3478\"]}]
                                   static servers; a turn: URL needs username and
                                   credential too
  turn_secret = \"...\"              TURN shared secret (coturn static-auth-secret):
                                   each welcome carries short-lived TURN credentials
  turn_urls = [\"turns:turn.example.org:5349\"]
                                   the TURN URLs those credentials are for
  turn_credential_ttl = \"1h\"       lifetime of the short-lived TURN credentials
  [chat]
  max_attachment_bytes = 10485760  largest chat attachment upload (10 MiB)
  attachments_dir = \"...\"          where attachment files are kept; default: an
                                   `attachments` folder beside the database (back
                                   it up together with the database)
  [log]
  filter = \"info\"                  tracing filter
  format = \"json\"                  json or text
";

/// Why configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file, an environment variable or a flag has a bad value.
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    /// Values that parse but cannot work together.
    #[error("invalid configuration: {0}")]
    Inconsistent(String),
}

impl Config {
    /// Loads defaults, then the TOML file (if given; it must exist), then
    /// `CLINICALL_*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Inconsistent(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        // These name the file and a CLI password, not settings.
        figment = figment.merge(
            Env::prefixed("CLINICALL_")
                .ignore(&["CONFIG", "NEW_PASSWORD"])
                .split("__"),
        );
        let config: Config = figment.extract().map_err(Box::new)?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if let Some(secret) = &self.auth.jwt_secret
            && secret.len() < 32
        {
            return Err(ConfigError::Inconsistent(
                "auth.jwt_secret must be at least 32 bytes".into(),
            ));
        }
        if self.auth.bootstrap_admin_email.is_some() != self.auth.bootstrap_admin_password.is_some()
        {
            return Err(ConfigError::Inconsistent(
                "auth.bootstrap_admin_email and auth.bootstrap_admin_password go together".into(),
            ));
        }
        if self.limits.max_sessions_per_user == 0 {
            return Err(ConfigError::Inconsistent(
                "limits.max_sessions_per_user must be at least 1".into(),
            ));
        }
        if self.limits.messages_per_second == 0 {
            return Err(ConfigError::Inconsistent(
                "limits.messages_per_second must be at least 1".into(),
            ));
        }
        if self.auth.argon2_memory_kib < 8 || self.auth.argon2_iterations == 0 {
            return Err(ConfigError::Inconsistent(
                "auth.argon2_memory_kib must be >= 8 and auth.argon2_iterations >= 1".into(),
            ));
        }
        self.ice.check().map_err(ConfigError::Inconsistent)?;
        if self.chat.max_attachment_bytes == 0 {
            return Err(ConfigError::Inconsistent(
                "chat.max_attachment_bytes must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
// figment::Jail's closure signature returns its large error type; not ours to shrink.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn file_overrides_defaults_and_env_overrides_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "server.toml",
                r#"
                [server]
                listen = "127.0.0.1:9000"
                [calls]
                ring_timeout = "45s"
                "#,
            )?;
            jail.set_env("CLINICALL_CALLS__RING_TIMEOUT", "5s");
            let config = Config::load(Some(Path::new("server.toml"))).unwrap();
            assert_eq!(config.server.listen.port(), 9000);
            assert_eq!(config.calls.ring_timeout, Duration::from_secs(5));
            assert_eq!(config.limits, LimitsSection::default());
            Ok(())
        });
    }

    #[test]
    fn ice_settings_come_from_the_file_and_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "server.toml",
                r#"
                [[ice.servers]]
                urls = ["stun:stun.example.org:3478"]
                [[ice.servers]]
                urls = ["turn:relay.example.org:3478?transport=udp", "turn:relay.example.org:3478?transport=tcp"]
                username = "clinic"
                credential = "static-password"
                [ice]
                turn_urls = ["turns:turn.example.org:5349"]
                "#,
            )?;
            // The secret stays out of the file, as the admin guide advises.
            jail.set_env("CLINICALL_ICE__TURN_SECRET", "shared-secret");
            jail.set_env("CLINICALL_ICE__TURN_CREDENTIAL_TTL", "10m");
            let config = Config::load(Some(Path::new("server.toml"))).unwrap();
            assert_eq!(config.ice.servers.len(), 2);
            assert_eq!(config.ice.servers[1].username.as_deref(), Some("clinic"));
            assert_eq!(config.ice.turn_secret.as_deref(), Some("shared-secret"));
            assert_eq!(config.ice.turn_urls, ["turns:turn.example.org:5349"]);
            assert_eq!(config.ice.turn_credential_ttl, Duration::from_secs(600));
            let debug = format!("{config:?}");
            assert!(!debug.contains("shared-secret"), "{debug}");
            assert!(!debug.contains("static-password"), "{debug}");

            // Lists can come from the environment too.
            jail.set_env(
                "CLINICALL_ICE__SERVERS",
                r#"[{urls=["stun:env.example.org"]}]"#,
            );
            jail.set_env("CLINICALL_ICE__TURN_URLS", r#"["turn:env.example.org"]"#);
            let config = Config::load(Some(Path::new("server.toml"))).unwrap();
            assert_eq!(config.ice.servers.len(), 1);
            assert_eq!(config.ice.servers[0].urls, ["stun:env.example.org"]);
            assert_eq!(config.ice.turn_urls, ["turn:env.example.org"]);
            Ok(())
        });
    }

    #[test]
    fn inconsistent_ice_settings_are_refused() {
        figment::Jail::expect_with(|jail| {
            let cases = [
                (
                    "[ice]\nturn_secret = \"s\"\n",
                    "ice.turn_secret needs ice.turn_urls",
                ),
                (
                    "[ice]\nturn_urls = [\"turn:t.example.org\"]\n",
                    "ice.turn_urls needs ice.turn_secret",
                ),
                (
                    "[ice]\nturn_secret = \"\"\nturn_urls = [\"turn:t.example.org\"]\n",
                    "must not be empty",
                ),
                (
                    "[ice]\nturn_secret = \"s\"\nturn_urls = [\"stun:t.example.org\"]\n",
                    "must start with turn:, turns:",
                ),
                (
                    "[ice]\nturn_secret = \"s\"\nturn_urls = [\"turn:t\"]\nturn_credential_ttl = \"0s\"\n",
                    "at least 1s",
                ),
                (
                    "[[ice.servers]]\nurls = [\"https://stun.example.org\"]\n",
                    "must start with stun:, stuns:, turn:, turns:",
                ),
                ("[[ice.servers]]\nurls = [\"stun:\"]\n", "not a valid URL"),
                ("[[ice.servers]]\nurls = []\n", "at least one URL"),
                (
                    "[[ice.servers]]\nurls = [\"turns:t.example.org\"]\nusername = \"u\"\n",
                    "needs username and credential",
                ),
            ];
            for (i, (toml, expected)) in cases.iter().enumerate() {
                let file = format!("bad-{i}.toml");
                jail.create_file(&file, toml)?;
                let err = Config::load(Some(Path::new(&file))).unwrap_err();
                assert!(err.to_string().contains(expected), "{toml}: {err}");
            }
            // A typo in a server entry is refused like any unknown key.
            jail.create_file(
                "typo.toml",
                "[[ice.servers]]\nurls = [\"stun:s.example.org\"]\npassword = \"x\"\n",
            )?;
            assert!(Config::load(Some(Path::new("typo.toml"))).is_err());
            Ok(())
        });
    }

    #[test]
    fn chat_settings_default_beside_the_database_and_come_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "server.toml",
                "[storage]\ndatabase = \"/srv/clinic/db.sqlite3\"\n",
            )?;
            let config = Config::load(Some(Path::new("server.toml"))).unwrap();
            assert_eq!(config.chat.max_attachment_bytes, 10 * 1024 * 1024);
            assert_eq!(
                config.attachments_dir(),
                Path::new("/srv/clinic/attachments")
            );
            jail.set_env("CLINICALL_CHAT__MAX_ATTACHMENT_BYTES", "1024");
            jail.set_env("CLINICALL_CHAT__ATTACHMENTS_DIR", "/data/files");
            let config = Config::load(Some(Path::new("server.toml"))).unwrap();
            assert_eq!(config.chat.max_attachment_bytes, 1024);
            assert_eq!(config.attachments_dir(), Path::new("/data/files"));
            jail.set_env("CLINICALL_CHAT__MAX_ATTACHMENT_BYTES", "0");
            assert!(Config::load(Some(Path::new("server.toml"))).is_err());
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_short_secrets_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("typo.toml", "[server]\nlisten_on = \"x\"\n")?;
            assert!(Config::load(Some(Path::new("typo.toml"))).is_err());
            jail.create_file("weak.toml", "[auth]\njwt_secret = \"short\"\n")?;
            let err = Config::load(Some(Path::new("weak.toml"))).unwrap_err();
            assert!(err.to_string().contains("32 bytes"), "{err}");
            assert!(Config::load(Some(Path::new("missing.toml"))).is_err());
            Ok(())
        });
    }
}
