//! Request/response multiplexing over one WebSocket, for either side.
//!
//! Two tasks per connection: a reader that decodes frames, matches responses to the pending
//! requests and hands incoming requests to the owner, and a writer that owns the sink so a slow
//! peer never blocks the reader. Any malformed or unexpected frame closes this connection only.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::frame::{Frame, FrameError};
use crate::message::{Direction, Request, Response};
use crate::sequence::{PendingRequests, SeqNumber, SequenceCounter};
use crate::untrusted::Untrusted;
use rmpv::Value;

/// Which end of the protocol this process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Sends commands, receives updates.
    Master,
    /// Runs commands, sends updates.
    Worker,
}

impl Side {
    fn receives(self) -> Direction {
        match self {
            Side::Master => Direction::ToMaster,
            Side::Worker => Direction::ToWorker,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Side::Master => "master",
            Side::Worker => "worker",
        }
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CloseReason {
    /// The other side closed the WebSocket or the TCP connection.
    #[error("closed by the other side")]
    PeerClosed,
    /// This side closed it.
    #[error("closed by this side: {0}")]
    Local(String),
    /// The other side sent a malformed or unexpected frame.
    #[error("protocol error: {0}")]
    Protocol(FrameError),
    /// The WebSocket or TCP connection failed.
    #[error("transport error: {0}")]
    Transport(String),
}

/// Why a request got no result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    /// No response in time; a late one is dropped quietly.
    #[error("no response to {op} within {timeout:?}")]
    Timeout {
        /// The request's op.
        op: &'static str,
        /// How long it waited.
        timeout: Duration,
    },
    /// The other side answered with an exception.
    #[error("{op} failed on the other side: {message}")]
    Exception {
        /// The request's op.
        op: &'static str,
        /// The other side's error message.
        message: String,
    },
    /// The connection ended before the response came.
    #[error("connection closed before the response: {0}")]
    Closed(CloseReason),
    /// This side may not send that op (e.g. a master sending `update`).
    #[error("op {op} is not sent by the {side}")]
    WrongDirection {
        /// The request's op.
        op: &'static str,
        /// `"master"` or `"worker"`.
        side: &'static str,
    },
}

type Waiter = oneshot::Sender<Result<Response, CloseReason>>;

enum Outgoing {
    Frame(Vec<u8>),
    Close(Option<CloseFrame>),
}

struct State {
    counter: SequenceCounter,
    pending: PendingRequests<Waiter>,
    close_reason: Option<CloseReason>,
}

struct Shared {
    side: Side,
    peer: String,
    state: Mutex<State>,
    outgoing: mpsc::UnboundedSender<Outgoing>,
    closed: watch::Sender<Option<CloseReason>>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the table half-updated in a way that
        // matters more than losing the connection, so keep going with the data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends the connection once: fails every pending request and tells the writer to stop.
    fn shut(&self, reason: CloseReason) {
        let waiters: Vec<Waiter> = {
            let mut state = self.state();
            if state.close_reason.is_some() {
                return;
            }
            state.close_reason = Some(reason.clone());
            state.pending.drain().map(|(_, w)| w).collect()
        };
        // Protocol errors quote what the peer sent; local reasons may too (a worker's name).
        let why = reason.to_string();
        let why = Untrusted(&why);
        match &reason {
            CloseReason::Protocol(_) => {
                tracing::warn!(peer = %self.peer, side = self.side.name(), "closing connection: {why}")
            }
            CloseReason::Transport(_) => {
                tracing::warn!(peer = %self.peer, side = self.side.name(), "connection lost: {why}")
            }
            CloseReason::PeerClosed | CloseReason::Local(_) => {
                tracing::info!(peer = %self.peer, side = self.side.name(), "connection closed: {why}")
            }
        }
        for waiter in waiters {
            let _ = waiter.send(Err(reason.clone()));
        }
        let frame = match &reason {
            CloseReason::Protocol(e) => Some(close_frame(CloseCode::Protocol, &e.to_string())),
            CloseReason::Local(why) => Some(close_frame(CloseCode::Normal, why)),
            CloseReason::PeerClosed | CloseReason::Transport(_) => None,
        };
        let _ = self.outgoing.send(Outgoing::Close(frame));
        self.closed.send_replace(Some(reason));
    }
}

fn close_frame(code: CloseCode, reason: &str) -> CloseFrame {
    // A close frame's reason is limited to 123 bytes.
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    CloseFrame {
        code,
        reason: reason[..end].to_string().into(),
    }
}

/// Closes the connection when the owner drops its last handle, so no worker stays attached
/// to a master that forgot it.
struct CloseOnDrop(Arc<Shared>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0
            .shut(CloseReason::Local("connection handle dropped".to_string()));
    }
}

/// One side's end of a protocol connection; cheap to clone.
#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
    _guard: Arc<CloseOnDrop>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("side", &self.shared.side)
            .field("peer", &self.shared.peer)
            .finish_non_exhaustive()
    }
}

/// A request from the other side; it gets exactly one response through its [`Responder`].
#[derive(Debug)]
pub struct IncomingRequest {
    /// The other side's number for it.
    pub seq_number: SeqNumber,
    /// What is asked.
    pub request: Request,
    /// Sends the one response.
    pub responder: Responder,
}

impl IncomingRequest {
    /// Answers the request.
    pub fn respond(self, response: Response) {
        self.responder.respond(response);
    }
}

/// Sends the response to one incoming request; dropping it unanswered sends an exception,
/// because the stock worker waits forever for an answer to a file-transfer request.
#[derive(Debug)]
pub struct Responder {
    seq_number: SeqNumber,
    op: &'static str,
    outgoing: Option<mpsc::UnboundedSender<Outgoing>>,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outgoing::Frame(bytes) => write!(f, "Frame({} bytes)", bytes.len()),
            Outgoing::Close(frame) => write!(f, "Close({frame:?})"),
        }
    }
}

impl Responder {
    /// Sends the response; if the connection has closed meanwhile it is dropped.
    pub fn respond(mut self, response: Response) {
        self.send(response);
    }

    fn send(&mut self, response: Response) {
        if let Some(outgoing) = self.outgoing.take() {
            let frame = Frame::Response {
                seq_number: self.seq_number,
                response,
            };
            if outgoing.send(Outgoing::Frame(frame.encode())).is_err() {
                tracing::debug!(op = self.op, seq = %self.seq_number, "response not sent: connection closed");
            }
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if self.outgoing.is_some() {
            tracing::warn!(op = self.op, seq = %self.seq_number, "request dropped without a response; answering with an exception");
            self.send(Response::Exception(format!(
                "{} was not handled by the receiving side",
                self.op
            )));
        }
    }
}

impl Connection {
    /// Starts serving an open WebSocket; incoming requests arrive on the returned channel and
    /// must be drained while requests are awaited (updates come before command responses).
    pub fn start<S>(
        websocket: WebSocketStream<S>,
        side: Side,
        peer: impl Into<String>,
    ) -> (Connection, mpsc::UnboundedReceiver<IncomingRequest>)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (sink, stream) = websocket.split();
        let (outgoing, outgoing_rx) = mpsc::unbounded_channel();
        let (incoming_tx, incoming_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            side,
            peer: peer.into(),
            state: Mutex::new(State {
                counter: SequenceCounter::new(),
                pending: PendingRequests::new(),
                close_reason: None,
            }),
            outgoing,
            closed: watch::channel(None).0,
        });
        tokio::spawn(write_loop(sink, outgoing_rx, shared.clone()));
        tokio::spawn(read_loop(stream, shared.clone(), incoming_tx));
        let connection = Connection {
            _guard: Arc::new(CloseOnDrop(shared.clone())),
            shared,
        };
        (connection, incoming_rx)
    }

    /// Sends a request and waits at most `timeout` for its response's result. After a timeout
    /// the request stays in the pending table, so a late answer is not a protocol error; the
    /// caller usually closes a connection whose peer stopped answering.
    pub async fn request(
        &self,
        request: Request,
        timeout: Duration,
    ) -> Result<Value, RequestError> {
        let op = request.op();
        if request.direction() == self.shared.side.receives() {
            return Err(RequestError::WrongDirection {
                op,
                side: self.shared.side.name(),
            });
        }
        let (waiter, response) = oneshot::channel();
        {
            let mut state = self.shared.state();
            if let Some(reason) = &state.close_reason {
                return Err(RequestError::Closed(reason.clone()));
            }
            let seq_number = state.counter.next_seq();
            state.pending.insert(seq_number, waiter);
            tracing::trace!(peer = %self.shared.peer, op, seq = %seq_number, "sending request");
            // Queued under the lock so requests leave in seq order, which keeps logs readable.
            let frame = Frame::Request {
                seq_number,
                request,
            };
            if self
                .shared
                .outgoing
                .send(Outgoing::Frame(frame.encode()))
                .is_err()
            {
                state.pending.answer(seq_number).ok();
                let reason = CloseReason::Local("writer stopped".to_string());
                return Err(RequestError::Closed(reason));
            }
        }
        match tokio::time::timeout(timeout, response).await {
            Err(_) => Err(RequestError::Timeout { op, timeout }),
            Ok(Err(_)) => Err(RequestError::Closed(
                self.close_reason()
                    .unwrap_or_else(|| CloseReason::Local("connection dropped".to_string())),
            )),
            Ok(Ok(Err(reason))) => Err(RequestError::Closed(reason)),
            Ok(Ok(Ok(Response::Result(value)))) => Ok(value),
            Ok(Ok(Ok(Response::Exception(message)))) => {
                Err(RequestError::Exception { op, message })
            }
        }
    }

    /// Closes the connection; pending requests fail with [`CloseReason::Local`].
    pub fn close(&self, why: impl Into<String>) {
        self.shared.shut(CloseReason::Local(why.into()));
    }

    /// Why the connection ended, if it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.shared.state().close_reason.clone()
    }

    /// Waits until the connection ends and says why.
    pub async fn closed(&self) -> CloseReason {
        let mut closed = self.shared.closed.subscribe();
        let reason = match closed.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone(),
            Err(_) => None,
        };
        reason.unwrap_or(CloseReason::PeerClosed)
    }

    /// This process's side.
    pub fn side(&self) -> Side {
        self.shared.side
    }

    /// The other side's address, for logs.
    pub fn peer(&self) -> &str {
        &self.shared.peer
    }

    /// Whether `other` is a handle of this very connection (not merely one to the same peer).
    pub fn is_same(&self, other: &Connection) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

async fn write_loop<S>(
    mut sink: SplitSink<WebSocketStream<S>, Message>,
    mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    shared: Arc<Shared>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    while let Some(item) = outgoing.recv().await {
        match item {
            Outgoing::Frame(bytes) => {
                if let Err(e) = sink.send(Message::Binary(bytes.into())).await {
                    shared.shut(CloseReason::Transport(e.to_string()));
                    break;
                }
            }
            Outgoing::Close(frame) => {
                if let Some(frame) = frame {
                    let _ = sink.send(Message::Close(Some(frame))).await;
                }
                let _ = sink.close().await;
                break;
            }
        }
    }
}

async fn read_loop<S>(
    mut stream: SplitStream<WebSocketStream<S>>,
    shared: Arc<Shared>,
    incoming: mpsc::UnboundedSender<IncomingRequest>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut closed = shared.closed.subscribe();
    let reason = loop {
        let message = tokio::select! {
            message = stream.next() => message,
            _ = closed.wait_for(Option::is_some) => return,
        };
        match message {
            None => break CloseReason::PeerClosed,
            Some(Err(e)) => break CloseReason::Transport(e.to_string()),
            Some(Ok(Message::Binary(bytes))) => {
                if let Err(e) = handle_frame(&shared, &incoming, &bytes) {
                    break CloseReason::Protocol(e);
                }
            }
            Some(Ok(Message::Text(_))) => break CloseReason::Protocol(FrameError::TextMessage),
            Some(Ok(Message::Close(_))) => break CloseReason::PeerClosed,
            Some(Ok(_)) => {} // ping, pong: tungstenite answers pings itself
        }
    };
    shared.shut(reason);
}

fn handle_frame(
    shared: &Shared,
    incoming: &mpsc::UnboundedSender<IncomingRequest>,
    bytes: &[u8],
) -> Result<(), FrameError> {
    let frame = match Frame::decode(bytes) {
        Err(FrameError::BadCommand {
            seq_number,
            command,
            reason,
        }) if shared.side == Side::Worker => {
            let refused = format!("(command {command}): {reason}");
            tracing::warn!(peer = %shared.peer, seq = seq_number, "start_command refused: {}", Untrusted(&refused));
            let responder = Responder {
                seq_number: SeqNumber(seq_number),
                op: "start_command",
                outgoing: Some(shared.outgoing.clone()),
            };
            responder.respond(Response::Exception(format!(
                "(command {command}): {reason}"
            )));
            return Ok(());
        }
        decoded => decoded?,
    };
    match frame {
        Frame::Response {
            seq_number,
            response,
        } => {
            let waiter = shared.state().pending.answer(seq_number)?;
            // The requester may have timed out; its answer is then of no use to anyone.
            let _ = waiter.send(Ok(response));
        }
        Frame::Request {
            seq_number,
            request,
        } => {
            let op = request.op();
            if request.direction() != shared.side.receives() {
                return Err(FrameError::WrongDirection {
                    op,
                    receiver: shared.side.name(),
                });
            }
            tracing::trace!(peer = %shared.peer, op, seq = %seq_number, "received request");
            let responder = Responder {
                seq_number,
                op,
                outgoing: Some(shared.outgoing.clone()),
            };
            // If the owner has stopped listening, the request comes back here and is dropped,
            // which answers it with an exception.
            let _ = incoming.send(IncomingRequest {
                seq_number,
                request,
                responder,
            });
        }
    }
    Ok(())
}
