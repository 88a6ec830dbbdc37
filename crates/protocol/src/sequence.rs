//! Sequence numbers and the table of requests waiting for their response.

use std::collections::HashMap;
use std::fmt;

use crate::frame::FrameError;

/// The number a side gives each request it sends; its response echoes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeqNumber(pub u64);

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One side's request counter: starts at 0 on every connection and goes up by one per request.
#[derive(Debug, Default)]
pub struct SequenceCounter {
    next: u64,
}

impl SequenceCounter {
    /// A counter for a fresh connection.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number for the next request sent.
    pub fn next_seq(&mut self) -> SeqNumber {
        let seq = SeqNumber(self.next);
        self.next += 1;
        seq
    }
}

/// Requests sent and not yet answered, each with whatever waits for its answer.
#[derive(Debug)]
pub struct PendingRequests<W> {
    waiting: HashMap<SeqNumber, W>,
}

impl<W> Default for PendingRequests<W> {
    fn default() -> Self {
        PendingRequests {
            waiting: HashMap::new(),
        }
    }
}

impl<W> PendingRequests<W> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that the request `seq` waits for its response.
    pub fn insert(&mut self, seq: SeqNumber, waiter: W) {
        self.waiting.insert(seq, waiter);
    }

    /// Takes the waiter of the request that a response with `seq` answers; a number that was
    /// never sent or is already answered is a protocol error.
    pub fn answer(&mut self, seq: SeqNumber) -> Result<W, FrameError> {
        self.waiting
            .remove(&seq)
            .ok_or(FrameError::UnknownSeqNumber(seq.0))
    }

    /// Removes every waiter, when the connection ends.
    pub fn drain(&mut self) -> impl Iterator<Item = (SeqNumber, W)> + '_ {
        self.waiting.drain()
    }

    /// How many requests wait.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether no request waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_starts_at_zero_and_counts_up() {
        let mut counter = SequenceCounter::new();
        assert_eq!(counter.next_seq(), SeqNumber(0));
        assert_eq!(counter.next_seq(), SeqNumber(1));
        assert_eq!(counter.next_seq(), SeqNumber(2));
    }

    #[test]
    fn a_response_is_matched_once_and_unknown_numbers_are_errors() {
        let mut pending = PendingRequests::new();
        pending.insert(SeqNumber(0), "get_worker_info");
        pending.insert(SeqNumber(1), "keepalive");
        assert_eq!(pending.answer(SeqNumber(1)), Ok("keepalive"));
        assert_eq!(
            pending.answer(SeqNumber(1)),
            Err(FrameError::UnknownSeqNumber(1))
        );
        assert_eq!(
            pending.answer(SeqNumber(7)),
            Err(FrameError::UnknownSeqNumber(7))
        );
        assert_eq!(pending.len(), 1);
        let left: Vec<_> = pending.drain().collect();
        assert_eq!(left, vec![(SeqNumber(0), "get_worker_info")]);
        assert!(pending.is_empty());
    }
}
