//! The update buffer of one command: batches output by `buffer_size` / `buffer_timeout` like
//! the stock worker's `BufferManager`, then hands it to the command's [`Outbox`].

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oebb_protocol::{LogChunk, Request, Update, WorkerSettings};
use tokio::time::Instant;

use crate::lines::{LineBuffer, NewlineRe};
use crate::outbox::Outbox;

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
