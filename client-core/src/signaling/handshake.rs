//! Opening one signaling socket: upgrade with the bearer token, `hello`,
//! `welcome`. Refusals are sorted into "the credentials are the problem"
//! (refresh, or sign out) and everything else (retry later).

use super::rest::{RestError, error_from_body};
use clinicall_protocol::{ClientEnvelope, ClientMessage, ErrorCode, ServerEnvelope, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use url::Url;

/// A signaling socket.
pub(super) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why a socket could not be opened.
#[derive(Debug)]
pub(super) enum Refused {
    /// The server refused the credentials with this code.
    Credentials(ErrorCode),
    /// Anything else: network, timeout, server trouble.
    Other(String),
}

/// Connects, says `hello` and returns the socket with the `welcome` frame.
pub(super) async fn open(
    url: &Url,
    access_token: &str,
    hello: ClientMessage,
) -> Result<(Ws, ServerEnvelope), Refused> {
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| Refused::Other(e.to_string()))?;
    let bearer = HeaderValue::from_str(&format!("Bearer {access_token}"))
        .map_err(|_| Refused::Credentials(ErrorCode::Unauthenticated))?;
    request.headers_mut().insert("Authorization", bearer);
    // `true`: TCP_NODELAY. Signaling frames are small and each one waits on
    // the last; Nagle's algorithm would hold them for the peer's delayed ack.
    let (mut ws, _) = match tokio_tungstenite::connect_async_with_config(request, None, true).await
    {
        Ok(ok) => ok,
        Err(tungstenite::Error::Http(resp)) => return Err(http_refusal(&resp)),
        Err(e) => return Err(Refused::Other(e.to_string())),
    };
    let text = serde_json::to_string(&ClientEnvelope::new(hello))
        .map_err(|e| Refused::Other(e.to_string()))?;
    ws.send(Message::Text(text.into()))
        .await
        .map_err(|e| Refused::Other(e.to_string()))?;
    loop {
        let frame = match ws.next().await {
            Some(Ok(frame)) => frame,
            Some(Err(e)) => return Err(Refused::Other(e.to_string())),
            None => return Err(Refused::Other("closed during handshake".into())),
        };
        let text = match frame {
            Message::Text(text) => text,
            Message::Close(close) => {
                return Err(Refused::Other(format!(
                    "closed during handshake: {close:?}"
                )));
            }
            _ => continue,
        };
        let env: ServerEnvelope = serde_json::from_str(text.as_str())
            .map_err(|e| Refused::Other(format!("bad handshake frame: {e}")))?;
        return match env.msg {
            ServerMessage::Welcome { .. } => Ok((ws, env)),
            ServerMessage::Error { code, message, .. } => Err(classify(code, message)),
            other => Err(Refused::Other(format!("expected welcome, got {other:?}"))),
        };
    }
}

/// A non-101 answer to the upgrade: the server refuses a bad bearer token
/// with 401 and its JSON error body.
fn http_refusal(resp: &tungstenite::http::Response<Option<Vec<u8>>>) -> Refused {
    let status = resp.status().as_u16();
    let body = resp.body().as_deref().unwrap_or_default();
    match error_from_body(status, body) {
        RestError::Api { code, message, .. } => classify(code, message),
        // The body may be cut short; a 401 is about credentials anyway.
        _ if status == 401 => Refused::Credentials(ErrorCode::Unauthenticated),
        _ => Refused::Other(format!("upgrade refused with HTTP {status}")),
    }
}

fn classify(code: ErrorCode, message: String) -> Refused {
    match code {
        ErrorCode::Unauthenticated | ErrorCode::TokenExpired | ErrorCode::SessionRevoked => {
            Refused::Credentials(code)
        }
        _ => Refused::Other(format!("{}: {message}", code.as_str())),
    }
}
