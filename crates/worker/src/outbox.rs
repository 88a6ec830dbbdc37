//! One command's requests to the master: sent in order, answered out of band, with a backlog
//! that lets a slow master slow the command down.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;

use futures_util::stream::{FuturesUnordered, StreamExt};
use oebb_protocol::{CommandId, Connection, Request, RequestError, Value, WorkerSettings};
use tokio::sync::{mpsc, oneshot, Notify};

use crate::REQUEST_TIMEOUT;

struct Envelope {
    request: Request,
    reply: Option<oneshot::Sender<Result<Value, RequestError>>>,
    /// Bytes of output it carries, counted in the backlog until it is answered.
    size: usize,
}

/// How many full update buffers may be queued or awaiting an answer before a command stops
/// reading its process's output: a slow master then slows the process down (its pipe fills)
/// instead of the worker holding the whole log in memory.
const BACKLOG_BUFFERS: usize = 64;

/// The smallest backlog allowed, whatever the buffer size.
const MIN_BACKLOG: usize = 1 << 20;

/// Output of one command sent to the master but not answered yet.
pub(crate) struct Backlog {
    bytes: AtomicUsize,
    limit: usize,
    drained: Notify,
}

impl Backlog {
    /// A backlog for commands started under `settings`.
    fn new(settings: &WorkerSettings) -> Backlog {
        let buffer = usize::try_from(settings.buffer_size).unwrap_or(usize::MAX);
        Backlog {
            bytes: AtomicUsize::new(0),
            limit: buffer.saturating_mul(BACKLOG_BUFFERS).max(MIN_BACKLOG),
            drained: Notify::new(),
        }
    }

    /// Whether the command should wait before reading more output.
    pub(crate) fn congested(&self) -> bool {
        self.bytes.load(Ordering::Acquire) > self.limit
    }

    /// Completes when an answer came since the last call (the backlog shrank).
    pub(crate) async fn drained(&self) {
        self.drained.notified().await
    }

    fn answered(&self, size: usize) {
        if size > 0 {
            self.bytes.fetch_sub(size, Ordering::AcqRel);
            // A stored permit, so a waiter that checks first and waits after is not missed.
            self.drained.notify_one();
        }
    }
}

/// Requests of one command that may await their answers at once: enough to keep a master
/// with some latency busy, few enough to bound what waits in memory.
const IN_FLIGHT: usize = 32;

type Answer = (
    Result<Value, RequestError>,
    Option<oneshot::Sender<Result<Value, RequestError>>>,
    &'static str,
    usize,
);

/// Sends one command's requests to the master in the order they are made, without waiting for
/// one answer before sending the next (the stock worker does not wait for update answers
/// either); a transfer's caller still waits for its own answer.
#[derive(Clone)]
pub(crate) struct Outbox {
    id: CommandId,
    queue: mpsc::UnboundedSender<Envelope>,
    backlog: Arc<Backlog>,
}

impl Outbox {
    /// Starts the sending task for command `id`; it ends when the last clone is dropped and
    /// every answer has come.
    pub(crate) fn start(
        connection: Connection,
        id: CommandId,
        settings: &WorkerSettings,
    ) -> Outbox {
        let (queue, rx) = mpsc::unbounded_channel::<Envelope>();
        let backlog = Arc::new(Backlog::new(settings));
        tokio::spawn(send_in_order(connection, id.clone(), rx, backlog.clone()));
        Outbox { id, queue, backlog }
    }

    /// The command's unanswered output.
    pub(crate) fn backlog(&self) -> Arc<Backlog> {
        self.backlog.clone()
    }

    /// The command this outbox belongs to.
    pub(crate) fn id(&self) -> &CommandId {
        &self.id
    }

    /// Queues a request carrying `size` bytes of output without waiting for its answer.
    pub(crate) fn send(&self, request: Request, size: usize) {
        self.backlog.bytes.fetch_add(size, Ordering::AcqRel);
        let queued = self.queue.send(Envelope {
            request,
            reply: None,
            size,
        });
        if queued.is_err() {
            self.backlog.answered(size);
        }
    }

    /// Queues a request after those already queued and waits for its answer: the flow control
    /// of file transfers.
    pub(crate) async fn call(&self, request: Request) -> Result<Value, RequestError> {
        let (reply, answer) = oneshot::channel();
        let op = request.op();
        let queued = self.queue.send(Envelope {
            request,
            reply: Some(reply),
            size: 0,
        });
        let closed = || {
            RequestError::Closed(oebb_protocol::CloseReason::Local(format!(
                "{op}: the command's sender stopped"
            )))
        };
        if queued.is_err() {
            return Err(closed());
        }
        answer.await.unwrap_or_else(|_| Err(closed()))
    }
}

async fn send_in_order(
    connection: Connection,
    id: CommandId,
    mut queue: mpsc::UnboundedReceiver<Envelope>,
    backlog: Arc<Backlog>,
) {
    let mut in_flight = FuturesUnordered::<Pin<Box<dyn Future<Output = Answer> + Send>>>::new();
    let mut open = true;
    while open || !in_flight.is_empty() {
        tokio::select! {
            envelope = queue.recv(), if open && in_flight.len() < IN_FLIGHT => {
                let Some(Envelope { request, reply, size }) = envelope else {
                    open = false;
                    continue;
                };
                let op = request.op();
                let connection = connection.clone();
                let mut answer: Pin<Box<dyn Future<Output = Answer> + Send>> = Box::pin(async move {
                    (connection.request(request, REQUEST_TIMEOUT).await, reply, op, size)
                });
                // `Connection::request` queues its frame when first polled, before it waits:
                // polling here, in arrival order, is what keeps the requests in order.
                match poll_once(answer.as_mut()).await {
                    Poll::Ready(done) => deliver(&id, &backlog, done),
                    Poll::Pending => in_flight.push(answer),
                }
            }
            Some(done) = in_flight.next(), if !in_flight.is_empty() => deliver(&id, &backlog, done),
        }
    }
}

/// Polls a future exactly once.
async fn poll_once<F: Future + Unpin>(mut future: F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut future).poll(cx))).await
}

fn deliver(id: &CommandId, backlog: &Backlog, (result, reply, op, size): Answer) {
    backlog.answered(size);
    match reply {
        Some(reply) => {
            let _ = reply.send(result);
        }
        None => {
            if let Err(e) = result {
                // The stock worker also only logs these: the command goes on.
                tracing::debug!(command = %id, op, "update not delivered: {e}");
            }
        }
    }
}
