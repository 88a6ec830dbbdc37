//! The log file an `Analyze` step fetched from the worker (the Odoo server log), kept with
//! the build under the master directory, shown page by page with one anchor per line
//! (`#L123`) for the findings to link to.

use std::io::BufRead;
use std::path::{Path as FsPath, PathBuf};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;

use super::logs::find_step;
use super::session::Session;
use super::view::Layout;
use super::{message, render, Web};
use crate::ids::BuildId;

/// Lines per page of an analysed log file.
pub const FILE_PAGE_LINES: u64 = 2000;

/// The log file an `Analyze` step fetched from the worker (kept under
/// `builds/<build>/<step>/` in the master directory), if there is one.
pub fn fetched_file_path(master_dir: &FsPath, build: BuildId, step: &str) -> Option<PathBuf> {
    let dir = master_dir
        .join("builds")
        .join(build.0.to_string())
        .join(step);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .collect();
    files.sort();
    files.into_iter().next()
}

#[derive(Template)]
#[template(path = "file.html")]
struct FilePage {
    layout: Layout,
    build: i64,
    number: i64,
    step: String,
    file: String,
    page: u64,
    first_line: u64,
    lines: Vec<(u64, String)>,
    more: bool,
}

/// Which page of the analysed log.
#[derive(Deserialize, Default)]
pub struct FileQuery {
    /// The page, from 0.
    pub page: Option<u64>,
}

/// `GET /builds/{id}/steps/{number}/file`: the analysed log, one line per anchor `#L<n>`.
pub async fn fetched_file(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    Path((build, number)): Path<(i64, String)>,
    Query(q): Query<FileQuery>,
) -> Response {
    let here = format!("/builds/{build}/steps/{number}/file");
    let layout = Layout::new(&web, &session, &here);
    let step = match find_step(&web, &layout, build, &number).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(path) = fetched_file_path(&web.config().dir, BuildId(build), &step.name) else {
        return message(
            StatusCode::NOT_FOUND,
            layout,
            "No analysed log",
            &format!("Step {} of build {build} kept no log file.", step.name),
        );
    };
    let page = q.page.unwrap_or(0);
    let first_line = page * FILE_PAGE_LINES + 1;
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let read =
        tokio::task::spawn_blocking(move || -> std::io::Result<(Vec<(u64, String)>, bool)> {
            let reader = std::io::BufReader::new(std::fs::File::open(&path)?);
            let mut lines = Vec::new();
            let mut more = false;
            for (i, line) in reader.split(b'\n').enumerate() {
                let n = i as u64 + 1;
                if n < first_line {
                    continue;
                }
                if n >= first_line + FILE_PAGE_LINES {
                    more = true;
                    break;
                }
                lines.push((n, String::from_utf8_lossy(&line?).into_owned()));
            }
            Ok((lines, more))
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r);
    match read {
        Ok((lines, more)) => render(&FilePage {
            layout,
            build,
            number: step.number,
            step: step.name,
            file,
            page,
            first_line,
            lines,
            more,
        }),
        Err(e) => message(
            StatusCode::INTERNAL_SERVER_ERROR,
            layout,
            "Cannot read the log file",
            &e.to_string(),
        ),
    }
}
