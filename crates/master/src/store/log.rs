//! Step logs: stored chunk by chunk as they come, compressed, and read back the same way, so a
//! log of any size never sits whole in memory.

use std::io::{Read, Write};

use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use flate2::Compression;

use super::{queries, Store, StoreError};
use crate::ids::StepId;

/// How many chunks one read of a log fetches at a time.
pub const LOG_PAGE: i64 = 16;

/// The name of a step's main log: the command's output (Buildbot's name).
pub const STDIO: &str = "stdio";

/// A log chunk, deflated.
fn compress(text: &[u8]) -> Result<Vec<u8>, StoreError> {
    // Fast level: logs are written far more than read, and level 1 already shrinks typical
    // build output several times.
    let mut encoder = DeflateEncoder::new(Vec::with_capacity(text.len() / 4), Compression::fast());
    encoder
        .write_all(text)
        .and_then(|_| encoder.try_finish())
        .map_err(|e| StoreError::Unexpected(format!("compressing a log chunk: {e}")))?;
    encoder
        .finish()
        .map_err(|e| StoreError::Unexpected(format!("compressing a log chunk: {e}")))
}

/// Decompressed chunks of a page and the chunk number to ask for next.
fn decompress_page(
    step: StepId,
    from_seq: i64,
    page: Vec<(i64, Vec<u8>)>,
) -> Result<(Vec<Vec<u8>>, i64), StoreError> {
    let mut next = from_seq;
    let mut texts = Vec::with_capacity(page.len());
    for (seq, data) in page {
        let mut text = Vec::new();
        DeflateDecoder::new(&data[..])
            .read_to_end(&mut text)
            .map_err(|e| StoreError::DamagedLog {
                step,
                seq,
                reason: e.to_string(),
            })?;
        texts.push(text);
        next = seq + 1;
    }
    Ok((texts, next))
}

impl Store {
    /// Appends `text` to a step's log as chunk `seq` (numbered from 0 by the caller).
    pub async fn append_log(&self, step: StepId, seq: i64, text: &[u8]) -> Result<(), StoreError> {
        self.append_named_log(step, STDIO, seq, text).await
    }

    /// Appends `text` to the step's log `name` as its chunk `seq`, numbered from 0 by the
    /// caller; followers of the step are told about `stdio` chunks.
    pub async fn append_named_log(
        &self,
        step: StepId,
        name: &str,
        seq: i64,
        text: &[u8],
    ) -> Result<(), StoreError> {
        let data = compress(text)?;
        let mut conn = self.pool.acquire().await?;
        queries::insert_log_chunk(&mut conn, step, name, seq, text.len() as i64, data).await?;
        if name == STDIO {
            self.live.log_appended(step, seq, text);
        }
        Ok(())
    }

    /// The names of a step's logs besides `stdio`, sorted.
    pub async fn log_names(&self, step: StepId) -> Result<Vec<String>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        queries::log_names(&mut conn, step).await
    }

    /// Like [`Store::read_log_page`], for the step's log `name`; `stdio` is its main log.
    pub async fn read_named_log_page(
        &self,
        step: StepId,
        name: &str,
        from_seq: i64,
    ) -> Result<(Vec<Vec<u8>>, i64), StoreError> {
        self.read_named_log_chunks(step, name, from_seq, LOG_PAGE)
            .await
    }

    /// Like [`Store::read_log`], for the step's log `name`; `stdio` is its main log.
    pub async fn read_named_log<F>(
        &self,
        step: StepId,
        name: &str,
        mut sink: F,
    ) -> Result<(), StoreError>
    where
        F: FnMut(&[u8]) -> bool,
    {
        let mut next = 0;
        loop {
            let (texts, after) = self.read_named_log_page(step, name, next).await?;
            if texts.is_empty() {
                return Ok(());
            }
            for text in texts {
                if !sink(&text) {
                    return Ok(());
                }
            }
            next = after;
        }
    }

    /// The next free chunk number of a step's log (0 for a new step).
    pub async fn next_log_seq(&self, step: StepId) -> Result<i64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        queries::next_log_seq(&mut conn, step).await
    }

    /// Up to [`LOG_PAGE`] decompressed chunks of a step's log from chunk `from_seq` on, and
    /// the chunk number to ask for next.
    pub async fn read_log_page(
        &self,
        step: StepId,
        from_seq: i64,
    ) -> Result<(Vec<Vec<u8>>, i64), StoreError> {
        self.read_log_chunks(step, from_seq, LOG_PAGE).await
    }

    /// Like [`Store::read_log_page`], at most `limit` chunks (live followers read little at a
    /// time, so many of them cost little memory).
    pub async fn read_log_chunks(
        &self,
        step: StepId,
        from_seq: i64,
        limit: i64,
    ) -> Result<(Vec<Vec<u8>>, i64), StoreError> {
        self.read_named_log_chunks(step, STDIO, from_seq, limit)
            .await
    }

    /// At most `limit` decompressed chunks of the step's log `name` from `from_seq` on, and the
    /// chunk number to ask for next.
    async fn read_named_log_chunks(
        &self,
        step: StepId,
        name: &str,
        from_seq: i64,
        limit: i64,
    ) -> Result<(Vec<Vec<u8>>, i64), StoreError> {
        let page = {
            let mut conn = self.pool.acquire().await?;
            queries::log_chunks(&mut conn, step, name, from_seq, limit).await?
        };
        decompress_page(step, from_seq, page)
    }

    /// Reads a step's log in order, handing each decompressed chunk to `sink`; at most
    /// [`LOG_PAGE`] chunks are in memory at once. `sink` returns false to stop early.
    pub async fn read_log<F>(&self, step: StepId, sink: F) -> Result<(), StoreError>
    where
        F: FnMut(&[u8]) -> bool,
    {
        self.read_named_log(step, STDIO, sink).await
    }
}
