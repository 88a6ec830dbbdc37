//! What one command sends to the master: an ordered outbox, and the update buffer that batches
//! output by `buffer_size` / `buffer_timeout` like the stock worker's `BufferManager`.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::stream::{FuturesUnordered, StreamExt};

use oebb_protocol::{
    CommandId, Connection, LogChunk, Request, RequestError, Update, Value, WorkerSettings,
};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::time::Instant;

use crate::lines::{LineBuffer, NewlineRe};
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

/// Seconds since the epoch, as the protocol's line times and file times are.
pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The update buffer of one command.
pub(crate) struct Output {
    outbox: Outbox,
    buffer_size: usize,
    buffer_timeout: Duration,
    pending: Vec<Update>,
    pending_bytes: usize,
    /// When the oldest buffered update must be sent at the latest.
    deadline: Option<Instant>,
    stdout: LineBuffer,
    stderr: LineBuffer,
    /// One line buffer per watched log file, by log name.
    logs: BTreeMap<String, LineBuffer>,
    newline_re: NewlineRe,
    max_line_length: u64,
}

impl Output {
    /// A buffer using the worker settings in force when the command started.
    pub(crate) fn new(outbox: Outbox, settings: &WorkerSettings) -> Output {
        let newline_re = NewlineRe::new(&settings.newline_re);
        Output {
            outbox,
            buffer_size: usize::try_from(settings.buffer_size).unwrap_or(usize::MAX),
            buffer_timeout: Duration::try_from_secs_f64(settings.buffer_timeout.max(0.0))
                .unwrap_or(Duration::from_secs(5)),
            pending: Vec::new(),
            pending_bytes: 0,
            deadline: None,
            stdout: LineBuffer::new(newline_re.clone(), settings.max_line_length),
            stderr: LineBuffer::new(newline_re.clone(), settings.max_line_length),
            logs: BTreeMap::new(),
            newline_re,
            max_line_length: settings.max_line_length,
        }
    }

    /// The command's outbox, for transfers that must follow the updates sent so far.
    pub(crate) fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// When [`Output::flush`] is due because of `buffer_timeout`, if anything is buffered.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Header lines (the text must end with a newline).
    pub(crate) fn header(&mut self, text: &str) {
        self.push(Update::Header(LogChunk::from_lines(text, unix_now())));
    }

    /// Raw standard output of the command.
    pub(crate) fn stdout(&mut self, bytes: &[u8]) {
        let lines = self.stdout.push(bytes);
        if !lines.is_empty() {
            self.push(Update::Stdout(LogChunk::from_lines(&lines, unix_now())));
        }
    }

    /// Raw standard error of the command.
    pub(crate) fn stderr(&mut self, bytes: &[u8]) {
        let lines = self.stderr.push(bytes);
        if !lines.is_empty() {
            self.push(Update::Stderr(LogChunk::from_lines(&lines, unix_now())));
        }
    }

    /// Raw bytes appended to the watched log file `name`.
    pub(crate) fn log(&mut self, name: &str, bytes: &[u8]) {
        let lines = match self.logs.get_mut(name) {
            Some(buffer) => buffer.push(bytes),
            None => {
                let mut buffer = LineBuffer::new(self.newline_re.clone(), self.max_line_length);
                let lines = buffer.push(bytes);
                self.logs.insert(name.to_string(), buffer);
                lines
            }
        };
        if !lines.is_empty() {
            self.push(Update::Log {
                name: name.to_string(),
                chunk: LogChunk::from_lines(&lines, unix_now()),
            });
        }
    }

    /// Queues the partial last lines of stdout, stderr and log files: the streams have ended.
    pub(crate) fn end_streams(&mut self) {
        let mut ends = Vec::new();
        for (name, buffer) in &mut self.logs {
            let rest = buffer.finish();
            if !rest.is_empty() {
                ends.push(Update::Log {
                    name: name.clone(),
                    chunk: LogChunk::from_lines(&rest, unix_now()),
                });
            }
        }
        for end in ends {
            self.push(end);
        }
        let out = self.stdout.finish();
        if !out.is_empty() {
            self.push(Update::Stdout(LogChunk::from_lines(&out, unix_now())));
        }
        let err = self.stderr.finish();
        if !err.is_empty() {
            self.push(Update::Stderr(LogChunk::from_lines(&err, unix_now())));
        }
    }

    /// Buffers an update, merging it into the previous one of the same stream, and sends the
    /// buffer when it is full.
    pub(crate) fn push(&mut self, update: Update) {
        self.pending_bytes += approximate_size(&update);
        match (self.pending.last_mut(), update) {
            (Some(Update::Stdout(last)), Update::Stdout(next))
            | (Some(Update::Stderr(last)), Update::Stderr(next))
            | (Some(Update::Header(last)), Update::Header(next)) => merge(last, next),
            (
                Some(Update::Log { name, chunk: last }),
                Update::Log {
                    name: next_name,
                    chunk: next,
                },
            ) if *name == next_name => merge(last, next),
            (_, update) => self.pending.push(update),
        }
        if self.deadline.is_none() {
            self.deadline = Some(Instant::now() + self.buffer_timeout);
        }
        if self.pending_bytes >= self.buffer_size {
            self.flush();
        }
    }

    /// Sends what is buffered as one `update`.
    pub(crate) fn flush(&mut self) {
        self.deadline = None;
        let size = std::mem::take(&mut self.pending_bytes);
        if self.pending.is_empty() {
            return;
        }
        let request = Request::Update {
            command_id: self.outbox.id().clone(),
            updates: std::mem::take(&mut self.pending),
        };
        self.outbox.send(request, size);
    }

    /// Flushes everything and sends `complete`, after which the master considers the command
    /// done; waits until the master has it so a following command cannot overtake it.
    pub(crate) async fn complete(mut self, failure: Option<String>) {
        self.end_streams();
        self.flush();
        let command_id = self.outbox.id().clone();
        let request = Request::Complete {
            command_id,
            failure,
        };
        if let Err(e) = self.outbox.call(request).await {
            tracing::debug!(command = %self.outbox.id(), "complete not delivered: {e}");
        }
    }
}

fn approximate_size(update: &Update) -> usize {
    match update {
        Update::Stdout(c) | Update::Stderr(c) | Update::Header(c) => c.text.len(),
        Update::Log { chunk, .. } => chunk.text.len(),
        Update::Files(files) => files.iter().map(|f| f.len()).sum(),
        _ => 16,
    }
}

/// Appends `next` to `last`, shifting its newline offsets (in chars) past `last`'s text.
fn merge(last: &mut LogChunk, next: LogChunk) {
    let shift = last.text.chars().count() as u64;
    last.text.push_str(&next.text);
    last.newline_offsets
        .extend(next.newline_offsets.iter().map(|o| o + shift));
    last.line_times.extend(next.line_times);
}
