//! REST side of the benchmark: admin login, creating the doctors and
//! patients, and logging each of them in.

use anyhow::{Context, Result, bail};
use clinicall_protocol::rest::{Account, ErrorBody, LoginRequest, NewUser, TokenPair};
use clinicall_protocol::{Role, UserId};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// The server a benchmark runs against, and the admin that creates its
/// users (command-line arguments shared by the benchmark binaries).
#[derive(clap::Args, Debug)]
pub struct Target {
    /// Base URL of the server. REST goes to <server>/api/v1/..., the
    /// WebSocket to ws://<same host>/api/v1/ws. Plain http only.
    #[arg(long, default_value = "http://127.0.0.1:8787")]
    pub server: String,

    /// Email of an existing admin account, used to create the benchmark's
    /// doctors and patients.
    #[arg(long, env = "CLINICALL_BENCH_ADMIN_EMAIL")]
    pub admin_email: String,

    /// Password of that admin account.
    #[arg(long, env = "CLINICALL_BENCH_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: String,
}

/// A logged-in benchmark user.
#[derive(Clone, Debug)]
pub struct Creds {
    /// The account's id.
    pub id: UserId,
    /// Its access token, for the WebSocket's `Authorization` header.
    pub token: String,
}

/// Talks to one server's REST API.
pub struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    /// A client for the server at `base` (`http://host:port`).
    pub fn new(base: &str, concurrency: usize) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(concurrency)
            .tcp_nodelay(true)
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// The HTTP client (for other requests on the same connection pool)
    /// and the base URL, without a trailing slash.
    #[allow(dead_code)] // apptbench's; loadgen has no use for it
    pub fn client(&self) -> (&reqwest::Client, &str) {
        (&self.http, &self.base)
    }

    /// `POST /api/v1/auth/login`.
    pub async fn login(&self, email: &str, password: &str) -> Result<TokenPair> {
        let body = LoginRequest {
            email: email.to_owned(),
            password: password.to_owned(),
        };
        self.post("/api/v1/auth/login", None, &body, StatusCode::OK)
            .await
            .with_context(|| format!("logging in as {email}"))
    }

    /// Logs in as the target's admin and returns the access token; fails
    /// if the account is not an admin.
    pub async fn admin_login(&self, target: &Target) -> Result<String> {
        let admin = self
            .login(&target.admin_email, &target.admin_password)
            .await
            .context("admin login")?;
        if admin.account.role != Role::Admin {
            bail!(
                "{} is a {}, not an admin",
                target.admin_email,
                admin.account.role.as_str()
            );
        }
        Ok(admin.access_token)
    }

    /// `POST /api/v1/admin/users`.
    pub async fn create_user(&self, admin_token: &str, user: &NewUser) -> Result<Account> {
        self.post(
            "/api/v1/admin/users",
            Some(admin_token),
            user,
            StatusCode::CREATED,
        )
        .await
        .with_context(|| format!("creating {}", user.email))
    }

    /// `POST /api/v1/admin/care-relations`: the doctor looks after the
    /// patient (which makes them contacts when the server is configured
    /// with `presence.patients_see_all_doctors = false`).
    pub async fn add_care_relation(
        &self,
        admin_token: &str,
        doctor: UserId,
        patient: UserId,
    ) -> Result<()> {
        let body = serde_json::json!({ "doctor_id": doctor, "patient_id": patient });
        self.post::<_, serde::de::IgnoredAny>(
            "/api/v1/admin/care-relations",
            Some(admin_token),
            &body,
            StatusCode::NO_CONTENT,
        )
        .await
        .with_context(|| format!("relating doctor {doctor} and patient {patient}"))?;
        Ok(())
    }

    /// POSTs JSON and decodes the expected reply, retrying a few times when
    /// the server says it is rate limiting or unavailable.
    async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: &B,
        expect: StatusCode,
    ) -> Result<R> {
        let url = format!("{}{path}", self.base);
        let mut backoff = Duration::from_millis(200);
        for attempt in 1.. {
            let mut request = self.http.post(&url).json(body);
            if let Some(token) = bearer {
                request = request.bearer_auth(token);
            }
            let response = request
                .send()
                .await
                .with_context(|| format!("POST {url}"))?;
            let status = response.status();
            if status == expect {
                let bytes = response.bytes().await?;
                // A 204 has no body; decode it as JSON `null`.
                let body: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
                return serde_json::from_slice(body)
                    .with_context(|| format!("decoding the reply to POST {url}"));
            }
            let retryable = status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::SERVICE_UNAVAILABLE;
            let text = response.text().await.unwrap_or_default();
            if retryable && attempt < 6 {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                continue;
            }
            match serde_json::from_str::<ErrorBody>(&text) {
                Ok(err) => bail!(
                    "POST {url}: HTTP {status}: {}: {}",
                    err.error.code.as_str(),
                    err.error.message
                ),
                Err(_) => bail!("POST {url}: HTTP {status}: {text:.200}"),
            }
        }
        unreachable!("the retry loop returns or bails")
    }
}

/// Creates `pairs` doctors and `pairs` patients through the admin API and
/// logs each in, at most `concurrency` at a time. Returns them interleaved:
/// doctor of pair `i` at `2 * i`, its patient at `2 * i + 1`.
pub async fn provision(
    api: &Api,
    admin_token: &str,
    run_id: &str,
    pairs: usize,
    concurrency: usize,
    care_relations: bool,
) -> Result<Vec<Creds>> {
    let password = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let total = pairs * 2;
    let mut results = futures_util::stream::iter(0..total)
        .map(|index| {
            let password = password.clone();
            async move {
                let (role, pair) = if index.is_multiple_of(2) {
                    (Role::Doctor, index / 2)
                } else {
                    (Role::Patient, index / 2)
                };
                let user = NewUser {
                    email: format!("bench-{run_id}-{}-{pair}@loadgen.test", role.as_str()),
                    password,
                    display_name: format!("Bench {} {pair}", role.as_str()),
                    role: Some(role),
                };
                let account = api.create_user(admin_token, &user).await?;
                let tokens = api.login(&user.email, &user.password).await?;
                if tokens.account.id != account.id {
                    bail!("login of {} returned another account", user.email);
                }
                Ok::<_, anyhow::Error>((
                    index,
                    Creds {
                        id: account.id,
                        token: tokens.access_token,
                    },
                ))
            }
        })
        .buffer_unordered(concurrency.max(1));

    let mut creds: Vec<Option<Creds>> = vec![None; total];
    let mut done = 0usize;
    let mut last_report = tokio::time::Instant::now();
    while let Some(result) = results.next().await {
        let (index, c) = result?;
        creds[index] = Some(c);
        done += 1;
        if last_report.elapsed() >= Duration::from_secs(2) {
            eprintln!("loadgen: accounts {done}/{total}");
            last_report = tokio::time::Instant::now();
        }
    }
    let creds: Vec<Creds> = creds.into_iter().flatten().collect();
    if care_relations {
        let mut relations = futures_util::stream::iter(creds.chunks_exact(2))
            .map(|pair| api.add_care_relation(admin_token, pair[0].id, pair[1].id))
            .buffer_unordered(concurrency.max(1));
        while let Some(result) = relations.next().await {
            result?;
        }
    }
    Ok(creds)
}
