//! Step logs on the web: the end of a log on the build page, the whole log paged
//! (`?page=`), searched server-side chunk by chunk (`?q=`), downloaded as a stream
//! (`log.txt`), read by byte range for the API. No log is ever whole in memory.

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;

use super::session::Session;
use super::view::Layout;
use super::{message, render, store_failed, Web};
use crate::ids::{BuildId, StepId};
use crate::store::{StepRecord, Store, StoreError, STDIO};

/// How much of each step's log the build page shows (its end).
pub const TAIL_BYTES: i64 = 64 * 1024;
/// About how much text one page of a paged log holds (whole chunks).
pub const LOG_PAGE_BYTES: i64 = 256 * 1024;
/// Most search hits listed.
const MAX_HITS: usize = 1000;

/// The end of a log.
pub struct Tail {
    /// The text (whole chunks).
    pub text: String,
    /// The chunk a follower asks for next.
    pub next_seq: i64,
    /// Whether earlier text was left out.
    pub truncated: bool,
}

/// The last chunks of a step's log, about `max_bytes` of them.
pub async fn tail(store: &Store, step: StepId, max_bytes: i64) -> Result<Tail, StoreError> {
    let extents = store.log_extents(step).await?;
    let Some(last) = extents.last() else {
        return Ok(Tail {
            text: String::new(),
            next_seq: 0,
            truncated: false,
        });
    };
    let mut size = 0;
    let mut first = extents.len();
    while first > 0 && size < max_bytes {
        first -= 1;
        size += extents[first].raw_size;
    }
    let text = read_range(store, step, extents[first].seq, last.seq).await?;
    Ok(Tail {
        text,
        next_seq: last.seq + 1,
        truncated: first > 0,
    })
}

/// Chunks `from..=to` of a log as text.
async fn read_range(store: &Store, step: StepId, from: i64, to: i64) -> Result<String, StoreError> {
    let mut text = Vec::new();
    let mut next = from;
    while next <= to {
        let (chunks, after) = store.read_log_page(step, next).await?;
        if chunks.is_empty() {
            break;
        }
        let keep = (to - next + 1).min(chunks.len() as i64) as usize;
        for c in &chunks[..keep] {
            text.extend_from_slice(c);
        }
        next = after;
    }
    Ok(String::from_utf8_lossy(&text).into_owned())
}

/// The pages of a log: the first and last chunk of each.
fn pages(extents: &[crate::store::web_queries::ChunkExtent]) -> Vec<(i64, i64)> {
    let mut pages = Vec::new();
    let mut start: Option<i64> = None;
    let mut size = 0;
    for e in extents {
        let first = *start.get_or_insert(e.seq);
        size += e.raw_size;
        if size >= LOG_PAGE_BYTES {
            pages.push((first, e.seq));
            start = None;
            size = 0;
        }
    }
    if let (Some(first), Some(last)) = (start, extents.last()) {
        match pages.last_mut() {
            // A short end (typically the command's closing lines) joins the page before it,
            // so the last page shows the end of the output too.
            Some(previous) if size < LOG_PAGE_BYTES / 4 => previous.1 = last.seq,
            _ => pages.push((first, last.seq)),
        }
    }
    pages
}

/// A step of a build by number (or name), or a 404 page.
pub async fn find_step(
    web: &Web,
    layout: &Layout,
    build: i64,
    step: &str,
) -> Result<StepRecord, Response> {
    match web.store.find_step(BuildId(build), step).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(message(
            StatusCode::NOT_FOUND,
            layout.clone(),
            "No such step",
            &format!("Build {build} has no step {step:?}."),
        )),
        Err(e) => Err(store_failed(layout.clone(), e)),
    }
}

/// A search hit.
struct Hit {
    line: u64,
    page: usize,
    text: String,
}

#[derive(Template)]
#[template(path = "log.html")]
struct LogPage {
    layout: Layout,
    build: i64,
    number: i64,
    step: String,
    page: usize,
    pages: usize,
    text: String,
    query: Option<String>,
    hits: Vec<Hit>,
    more_hits: bool,
    /// `?line=N`: that line, marked (`#L<N>`), and the page's text after it.
    mark: Option<(u64, String)>,
    after: String,
}

/// Which page, or what to search.
#[derive(Deserialize, Default)]
pub struct LogQuery {
    /// The page, from 0; the last one when not given.
    pub page: Option<usize>,
    /// Text to search for (case-insensitive).
    pub q: Option<String>,
    /// A line to show, marked: the page holding it (a finding links here).
    pub line: Option<u64>,
}

/// `GET /builds/{id}/steps/{number}/log`: one page of the log, or the lines matching `?q=`.
pub async fn page(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    Path((build, number)): Path<(i64, String)>,
    Query(q): Query<LogQuery>,
) -> Response {
    let here = format!("/builds/{build}/steps/{number}/log");
    let layout = Layout::new(&web, &session, &here);
    let step = match find_step(&web, &layout, build, &number).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let extents = match web.store.log_extents(step.id).await {
        Ok(e) => e,
        Err(e) => return store_failed(layout, e),
    };
    let pages = pages(&extents);
    let mut view = LogPage {
        layout,
        build,
        number: step.number,
        step: step.name.clone(),
        page: 0,
        pages: pages.len(),
        text: String::new(),
        query: None,
        hits: Vec::new(),
        more_hits: false,
        mark: None,
        after: String::new(),
    };
    if let Some(query) = q.q.filter(|q| !q.is_empty()) {
        match search(&web.store, step.id, &query, &pages).await {
            Ok((hits, more)) => {
                view.hits = hits;
                view.more_hits = more;
            }
            Err(e) => return store_failed(view.layout, e),
        }
        view.query = Some(query);
        return render(&view);
    }
    view.page = q.page.unwrap_or(pages.len().saturating_sub(1));
    let mut lines_before = None;
    if let Some(line) = q.line.filter(|l| *l > 0) {
        match page_of_line(&web.store, step.id, &pages, line).await {
            Ok(Some((page, before))) => {
                view.page = page;
                lines_before = Some((line, before));
            }
            Ok(None) => {}
            Err(e) => return store_failed(view.layout, e),
        }
    }
    if let Some((first, last)) = pages.get(view.page) {
        match read_range(&web.store, step.id, *first, *last).await {
            Ok(t) => view.text = t,
            Err(e) => return store_failed(view.layout, e),
        }
    }
    if let Some((line, before)) = lines_before {
        let (text, mark, after) = split_at_line(&view.text, (line - before - 1) as usize);
        if let Some(mark) = mark {
            view.mark = Some((line, mark));
            view.after = after;
            view.text = text;
        }
    }
    render(&view)
}

/// The page holding line `line` (from 1) and how many lines come before that page, reading
/// the log chunk by chunk up to it.
async fn page_of_line(
    store: &Store,
    step: StepId,
    pages: &[(i64, i64)],
    line: u64,
) -> Result<Option<(usize, u64)>, StoreError> {
    let mut found = None;
    let mut newlines = 0u64;
    let mut next = 0;
    let mut page = 0;
    'read: loop {
        let (chunks, after) = store.read_log_page(step, next).await?;
        if chunks.is_empty() {
            break;
        }
        for (i, chunk) in chunks.iter().enumerate() {
            let seq = next + i as i64;
            if pages.get(page).is_some_and(|p| p.0 == seq) {
                if newlines + 1 > line {
                    break 'read;
                }
                found = Some((page, newlines));
                page += 1;
            }
            newlines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        }
        next = after;
    }
    Ok(found)
}

/// `text` split around its line `index` (from 0): before it, the line, after it.
fn split_at_line(text: &str, index: usize) -> (String, Option<String>, String) {
    let mut start = 0;
    for _ in 0..index {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return (text.to_string(), None, String::new()),
        }
    }
    let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    (
        text[..start].to_string(),
        Some(text[start..end].to_string()),
        text[end..].to_string(),
    )
}

/// The lines of a log containing `query`, read chunk by chunk.
async fn search(
    store: &Store,
    step: StepId,
    query: &str,
    pages: &[(i64, i64)],
) -> Result<(Vec<Hit>, bool), StoreError> {
    let needle = query.to_lowercase();
    let mut hits = Vec::new();
    let mut more = false;
    let mut line_no = 0u64;
    let mut partial: Vec<u8> = Vec::new();
    let mut next = 0;
    let mut check = |line: &[u8], line_no: u64, page: usize, hits: &mut Vec<Hit>| {
        let text = String::from_utf8_lossy(line);
        if text.to_lowercase().contains(&needle) {
            if hits.len() < MAX_HITS {
                hits.push(Hit {
                    line: line_no,
                    page,
                    text: text.into_owned(),
                });
            } else {
                more = true;
            }
        }
    };
    let mut page = 0;
    loop {
        let (chunks, after) = store.read_log_page(step, next).await?;
        if chunks.is_empty() {
            break;
        }
        for (i, chunk) in chunks.iter().enumerate() {
            let seq = next + i as i64;
            while page + 1 < pages.len() && pages[page].1 < seq {
                page += 1;
            }
            let mut rest = &chunk[..];
            while let Some(end) = rest.iter().position(|b| *b == b'\n') {
                partial.extend_from_slice(&rest[..end]);
                line_no += 1;
                check(&partial, line_no, page, &mut hits);
                partial.clear();
                rest = &rest[end + 1..];
            }
            partial.extend_from_slice(rest);
        }
        next = after;
    }
    if !partial.is_empty() {
        line_no += 1;
        check(&partial, line_no, page, &mut hits);
    }
    Ok((hits, more))
}

/// `GET /builds/{id}/steps/{number}/log.txt`: the whole log, streamed chunk by chunk.
pub async fn download(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    Path((build, number)): Path<(i64, String)>,
) -> Response {
    let layout = Layout::new(&web, &session, "/");
    let step = match find_step(&web, &layout, build, &number).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let disposition = format!(
        "attachment; filename=\"build-{build}-step-{}.txt\"",
        step.number
    );
    let mut response = stream_log(web.store.clone(), step.id, STDIO.to_string());
    if let Ok(v) = disposition.parse() {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// A whole log as a streamed `text/plain` body, at most one page of chunks in memory.
pub fn stream_log(store: Store, step: StepId, name: String) -> Response {
    let pages = futures_util::stream::unfold(Some(0i64), move |next| {
        let store = store.clone();
        let name = name.clone();
        async move {
            let from = next?;
            match store.read_named_log_page(step, &name, from).await {
                Ok((chunks, _)) if chunks.is_empty() => None,
                Ok((chunks, after)) => Some((Ok(Bytes::from(chunks.concat())), Some(after))),
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
            }
        }
    });
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from_stream(pages),
    )
        .into_response()
}

/// Bytes `offset..offset+limit` of a log and the log's whole size, reading only the chunks
/// that hold them.
pub async fn byte_range(
    store: &Store,
    step: StepId,
    offset: i64,
    limit: i64,
) -> Result<(Vec<u8>, i64), StoreError> {
    let extents = store.log_extents(step).await?;
    let size: i64 = extents.iter().map(|e| e.raw_size).sum();
    let end = (offset + limit).min(size);
    let mut start_of_chunk = 0;
    let mut out = Vec::new();
    let (mut first, mut last, mut first_start) = (None, None, 0);
    for e in &extents {
        let chunk_end = start_of_chunk + e.raw_size;
        if chunk_end > offset && start_of_chunk < end {
            if first.is_none() {
                first = Some(e.seq);
                first_start = start_of_chunk;
            }
            last = Some(e.seq);
        }
        start_of_chunk = chunk_end;
    }
    if let (Some(first), Some(last)) = (first, last) {
        let mut next = first;
        while next <= last {
            let (chunks, after) = store.read_log_page(step, next).await?;
            if chunks.is_empty() {
                break;
            }
            let keep = (last - next + 1).min(chunks.len() as i64) as usize;
            for c in &chunks[..keep] {
                out.extend_from_slice(c);
            }
            next = after;
        }
        let skip = (offset - first_start) as usize;
        let take = (end - offset).max(0) as usize;
        out = out.into_iter().skip(skip).take(take).collect();
    }
    Ok((out, size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::web_queries::ChunkExtent;

    #[test]
    fn pages_hold_whole_chunks_of_about_a_page_of_text() {
        let extent = |seq, raw_size| ChunkExtent { seq, raw_size };
        assert!(pages(&[]).is_empty());
        let small: Vec<_> = (0..5).map(|s| extent(s, 100)).collect();
        assert_eq!(pages(&small), [(0, 4)]);
        let big = [
            extent(0, LOG_PAGE_BYTES - 1),
            extent(1, 1),
            extent(2, LOG_PAGE_BYTES * 3),
            extent(3, 10),
        ];
        assert_eq!(pages(&big), [(0, 1), (2, 3)]);
        let ends_big = [extent(0, LOG_PAGE_BYTES), extent(1, LOG_PAGE_BYTES / 2)];
        assert_eq!(pages(&ends_big), [(0, 0), (1, 1)]);
    }

    #[test]
    fn a_line_is_split_out_of_its_page() {
        let (before, line, after) = split_at_line("a\nb\nc\n", 1);
        assert_eq!(
            (before.as_str(), line.as_deref(), after.as_str()),
            ("a\n", Some("b"), "\nc\n")
        );
        assert_eq!(split_at_line("a", 3).1, None);
        assert_eq!(split_at_line("a\nlast", 1).1.as_deref(), Some("last"));
    }
}
