//! The mail page (`/mail`) and `/api/mail`: the newest mails, unsent first, with their
//! status, attempts and last error, so a relay refusing the master's password shows here.
//! Recipients' addresses are shown to logged-in users only.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;

use super::session::Session;
use super::view::{self, Layout};
use super::{render, store_failed, Web};
use crate::store::mail::{MailCounts, MailRecord};

/// Mails shown at most.
const SHOWN: i64 = 200;

/// A mail as shown.
#[derive(Clone, Debug, Serialize)]
pub struct MailView {
    /// Its id.
    pub id: i64,
    /// When it was queued (UTC).
    pub queued: String,
    /// `build`, `worker-missing`, `worker-back`, `test`.
    pub kind: String,
    /// The build it is about.
    pub build: Option<i64>,
    /// The worker it is about.
    pub worker: Option<String>,
    /// Subject line.
    pub subject: String,
    /// How many recipients.
    pub recipient_count: usize,
    /// `queued`, `sending`, `sent` or `failed`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// When the next attempt may start (UTC), for unsent mails.
    pub next_attempt: Option<String>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the relay accepted it (UTC).
    pub sent: Option<String>,
    #[serde(skip)]
    recipients: String,
}

fn view(m: MailRecord) -> MailView {
    let unsent = matches!(m.status.as_str(), "queued" | "sending");
    MailView {
        id: m.id.0,
        queued: view::time(m.created_at),
        kind: m.kind,
        build: m.build.map(|b| b.0),
        worker: m.worker,
        subject: m.subject,
        recipient_count: m.recipients.len(),
        next_attempt: unsent.then(|| view::time(m.next_attempt_at)),
        status: m.status,
        attempts: m.attempts,
        last_error: m.last_error,
        sent: m.sent_at.map(view::time),
        recipients: m.recipients.join(", "),
    }
}

#[derive(Template)]
#[template(path = "mail.html")]
struct MailPage {
    layout: Layout,
    configured: bool,
    counts: MailCounts,
    mails: Vec<MailView>,
}

async fn load(web: &Web) -> Result<(MailCounts, Vec<MailView>), crate::StoreError> {
    let counts = web.store.mail_counts().await?;
    let mails = web.store.mails(SHOWN).await?;
    Ok((counts, mails.into_iter().map(view).collect()))
}

/// `GET /mail`.
pub async fn page(State(web): State<Web>, Extension(session): Extension<Session>) -> Response {
    let layout = Layout::new(&web, &session, "/mail");
    match load(&web).await {
        Ok((counts, mails)) => render(&MailPage {
            layout,
            configured: web.config().settings.mail.is_some(),
            counts,
            mails,
        }),
        Err(e) => store_failed(layout, e),
    }
}

/// `GET /api/mail`: `{"counts": {...}, "mails": [...]}`.
pub async fn api(State(web): State<Web>) -> Response {
    match load(&web).await {
        Ok((counts, mails)) => {
            Json(serde_json::json!({ "counts": counts, "mails": mails })).into_response()
        }
        Err(e) => (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}
