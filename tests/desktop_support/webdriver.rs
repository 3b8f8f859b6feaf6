//! A small W3C WebDriver client over reqwest: the handful of commands the
//! desktop tests use (new session, find, click, type, execute script,
//! screenshot, delete session).
//!
//! Why not fantoccini: with tauri-driver in front of WebKitWebDriver its
//! session request never completed here, and what the tests need is a few
//! JSON requests, so the protocol is spoken directly.

use serde_json::{Value, json};
use std::time::Duration;

/// The W3C element reference key.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One WebDriver session.
#[derive(Clone)]
pub struct Session {
    http: reqwest::Client,
    base: String,
}

/// An element on the page.
#[derive(Clone, Debug)]
pub struct Element(String);

/// A WebDriver error reply (or a transport failure).
#[derive(Debug)]
pub struct WebDriverError(pub String);

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

type Result<T> = std::result::Result<T, WebDriverError>;

async fn send(request: reqwest::RequestBuilder) -> Result<Value> {
    // tauri-driver sometimes drops a connection mid-request (hyper
    // "IncompleteMessage" on its side); WebDriver commands used here are
    // safe to resend.
    let mut attempt = 0;
    let response = loop {
        let try_request = request
            .try_clone()
            .ok_or_else(|| WebDriverError("request cannot be resent".into()))?;
        match try_request.send().await {
            Ok(response) => break response,
            Err(e) if attempt < 3 => {
                attempt += 1;
                eprintln!("desktop test: WebDriver request failed ({e:?}); retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(WebDriverError(format!("request failed: {e:?}"))),
        }
    };
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|e| WebDriverError(format!("reply is not JSON: {e}")))?;
    let value = body.get("value").cloned().unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(WebDriverError(format!(
            "{}: {}",
            value["error"].as_str().unwrap_or("error"),
            value["message"].as_str().unwrap_or_default()
        )));
    }
    Ok(value)
}

impl Session {
    /// Starts a session on the driver at `url` with `capabilities`.
    pub async fn start(url: &str, capabilities: Value) -> Result<Session> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            // tauri-driver closes connections between requests; a pooled
            // one would fail the next request.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| WebDriverError(e.to_string()))?;
        let value = send(
            http.post(format!("{url}/session"))
                .json(&json!({ "capabilities": { "alwaysMatch": capabilities } })),
        )
        .await?;
        let id = value["sessionId"]
            .as_str()
            .ok_or_else(|| WebDriverError(format!("no session id in {value}")))?;
        Ok(Session {
            http,
            base: format!("{url}/session/{id}"),
        })
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        send(self.http.post(format!("{}{path}", self.base)).json(&body)).await
    }

    /// The first element matching `css`, if any.
    pub async fn find(&self, css: &str) -> Result<Option<Element>> {
        match self
            .post("/element", json!({ "using": "css selector", "value": css }))
            .await
        {
            Ok(value) => Ok(value[ELEMENT_KEY].as_str().map(|id| Element(id.into()))),
            Err(e) if e.0.starts_with("no such element") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Clicks `element`.
    pub async fn click(&self, element: &Element) -> Result<()> {
        self.post(&format!("/element/{}/click", element.0), json!({}))
            .await
            .map(drop)
    }

    /// Types `text` into `element`.
    pub async fn send_keys(&self, element: &Element, text: &str) -> Result<()> {
        self.post(
            &format!("/element/{}/value", element.0),
            json!({ "text": text }),
        )
        .await
        .map(drop)
    }

    /// The element's rendered text.
    pub async fn text(&self, element: &Element) -> Result<String> {
        let value = send(
            self.http
                .get(format!("{}/element/{}/text", self.base, element.0)),
        )
        .await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// Runs `script` (a function body) in the page and returns its value.
    pub async fn execute(&self, script: &str) -> Result<Value> {
        self.post("/execute/sync", json!({ "script": script, "args": [] }))
            .await
    }

    /// Ends the session (closing the app).
    pub async fn close(&self) -> Result<()> {
        send(self.http.delete(&self.base)).await.map(drop)
    }
}
