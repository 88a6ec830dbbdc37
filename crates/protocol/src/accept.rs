//! Opening a protocol connection: the master accepts a worker, the worker connects to a master.

use std::time::Duration;

use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{header, HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::auth::{parse_basic_authorization, AuthError, Credentials};
use crate::connection::{Connection, IncomingRequest, Side};
use crate::quick_ack::QuickAck;
use crate::untrusted::Untrusted;

/// How long the WebSocket upgrade may take by default, so a silent peer cannot hold a task
/// (and a file descriptor) forever.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// WebSocket settings of both sides. tungstenite zero-fills its whole read buffer on every read,
/// so its default of 128 KiB was most of an idle worker's cost to the master; 16 KiB reads still
/// take log chunks in a few syscalls, and the buffer grows for larger frames.
fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(16 << 10)
}

/// The largest message the master takes from a worker. tungstenite's default (64 MiB) let one
/// message of a hostile worker cost gigabytes: each msgpack value decodes to 40 bytes, so 64 MiB
/// of one-byte values became 2.5 GiB. The largest honest message is an `update` of the stock
/// worker's 64 KiB output buffer plus one read (≤ 128 KiB of text), whose newline offsets and
/// times add up to 14 bytes per line: under 2 MiB; the master's upload blocks are 64 KiB.
pub const MAX_WORKER_MESSAGE: usize = 4 << 20;

/// The master's side: [`websocket_config`] with messages from workers bounded.
fn master_websocket_config() -> WebSocketConfig {
    websocket_config()
        .max_message_size(Some(MAX_WORKER_MESSAGE))
        .max_frame_size(Some(MAX_WORKER_MESSAGE))
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The master refused the worker's credentials (already logged by [`accept_worker`]).
    #[error("worker refused: {0}")]
    Refused(AuthError),
    /// The master answered the worker's upgrade with an HTTP error (401: wrong credentials).
    #[error("the master refused the connection with HTTP {status}")]
    Rejected {
        /// The HTTP status.
        status: u16,
    },
    /// The peer did not speak WebSocket correctly.
    #[error("WebSocket handshake failed: {0}")]
    WebSocket(String),
    /// The handshake took longer than allowed ([`HANDSHAKE_TIMEOUT`] unless told otherwise).
    #[error("the WebSocket handshake did not complete in time")]
    Timeout,
    /// The TCP connection failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A worker that passed authentication, with its connection.
#[derive(Debug)]
pub struct Accepted {
    /// The worker name it authenticated as.
    pub name: String,
    /// The master's end of the connection.
    pub connection: Connection,
    /// Requests from the worker (updates, completions, transfers).
    pub incoming: mpsc::UnboundedReceiver<IncomingRequest>,
}

/// Upgrades a TCP connection from a worker, checking its Basic credentials with `check`
/// (true to accept). Refusals answer 401 (missing, unknown, wrong) or 400 (malformed) and are
/// logged here. `check` is `Unpin` because tungstenite keeps the callback in its future;
/// closures and `fn`s are. Sets TCP_NODELAY and acknowledges reads at once ([`QuickAck`]):
/// commands are small request/response exchanges. The upgrade must complete within
/// [`HANDSHAKE_TIMEOUT`].
pub async fn accept_worker<F>(stream: TcpStream, check: F) -> Result<Accepted, HandshakeError>
where
    F: FnOnce(&Credentials) -> bool + Unpin,
{
    accept_worker_within(stream, HANDSHAKE_TIMEOUT, check).await
}

/// [`accept_worker`], with the upgrade bounded by `timeout` instead of [`HANDSHAKE_TIMEOUT`].
pub async fn accept_worker_within<F>(
    stream: TcpStream,
    timeout: Duration,
    check: F,
) -> Result<Accepted, HandshakeError>
where
    F: FnOnce(&Credentials) -> bool + Unpin,
{
    stream.set_nodelay(true)?;
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "unknown peer".to_string());
    let mut outcome: Option<Result<String, AuthError>> = None;
    // The large error type is tungstenite's callback signature, not a choice made here.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, response: Response| {
        let header = request
            .headers()
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes);
        let checked = parse_basic_authorization(header).and_then(|credentials| {
            if check(&credentials) {
                Ok(credentials.name)
            } else {
                Err(AuthError::Refused {
                    name: credentials.name,
                })
            }
        });
        let result = match &checked {
            Ok(_) => Ok(response),
            Err(e) => Err(refusal(e)),
        };
        outcome = Some(checked);
        result
    };
    let upgrade = tokio_tungstenite::accept_hdr_async_with_config(
        QuickAck::new(stream),
        callback,
        Some(master_websocket_config()),
    );
    let upgraded = tokio::time::timeout(timeout, upgrade).await;
    match (upgraded, outcome) {
        (Err(_), _) => {
            tracing::warn!(%peer, "worker handshake timed out after {timeout:?}");
            Err(HandshakeError::Timeout)
        }
        (Ok(_), Some(Err(e))) => {
            tracing::warn!(%peer, status = e.http_status(), "worker refused: {e}");
            Err(HandshakeError::Refused(e))
        }
        (Ok(Err(e)), _) => {
            tracing::warn!(%peer, "worker handshake failed: {}", Untrusted(&e.to_string()));
            Err(HandshakeError::WebSocket(e.to_string()))
        }
        (Ok(Ok(websocket)), Some(Ok(name))) => {
            tracing::info!(%peer, worker = %Untrusted(&name), "worker connected");
            let (connection, incoming) = Connection::start(websocket, Side::Master, peer);
            Ok(Accepted {
                name,
                connection,
                incoming,
            })
        }
        (Ok(Ok(_)), None) => Err(HandshakeError::WebSocket(
            "upgrade completed without authentication".to_string(),
        )),
    }
}

fn refusal(error: &AuthError) -> ErrorResponse {
    let status = StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::UNAUTHORIZED);
    let mut response = ErrorResponse::new(Some(error.to_string()));
    *response.status_mut() = status;
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"buildbot\""),
        );
    }
    response
}

/// Connects to a master as a worker: TCP with TCP_NODELAY, then the WebSocket upgrade with
/// Basic credentials, as the stock worker does (`ws://host:port/`).
pub async fn connect_to_master(
    address: impl ToSocketAddrs + std::fmt::Display,
    credentials: &Credentials,
) -> Result<(Connection, mpsc::UnboundedReceiver<IncomingRequest>), HandshakeError> {
    let url = format!("ws://{address}/");
    let stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| HandshakeError::WebSocket(e.to_string()))?;
    let authorization = HeaderValue::from_str(&credentials.to_header_value())
        .map_err(|e| HandshakeError::WebSocket(e.to_string()))?;
    request
        .headers_mut()
        .insert(header::AUTHORIZATION, authorization);
    let handshake = tokio_tungstenite::client_async_with_config(
        request,
        QuickAck::new(stream),
        Some(websocket_config()),
    );
    let (websocket, _) = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Err(_) => return Err(HandshakeError::Timeout),
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response))) => {
            return Err(HandshakeError::Rejected {
                status: response.status().as_u16(),
            })
        }
        Ok(Err(e)) => return Err(HandshakeError::WebSocket(e.to_string())),
        Ok(Ok(upgraded)) => upgraded,
    };
    Ok(Connection::start(websocket, Side::Worker, url))
}
