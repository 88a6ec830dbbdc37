//! What every page shares: the layout (title, who is logged in, the CSRF token) and the
//! formatting of results, times and durations.

use askama::Template;

use super::session::Session;
use super::Web;
use crate::results::Results;
use crate::store::BuildRecord;

/// The frame of every page.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The master's title (`title` of oebb.cfg).
    pub title: String,
    /// The logged-in user.
    pub user: Option<String>,
    /// The session's CSRF token, for the page's forms.
    pub csrf: String,
    /// Where the login link comes back to.
    pub here: String,
}

impl Layout {
    /// The layout of a page at `here` for this session.
    pub fn new(web: &Web, session: &Session, here: &str) -> Layout {
        Layout {
            title: web.config().settings.title.clone(),
            user: session.user.clone(),
            csrf: session.csrf.clone(),
            here: here.to_string(),
        }
    }

    /// Whether a user is logged in.
    pub fn logged_in(&self) -> bool {
        self.user.is_some()
    }
}

/// A page saying one thing.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    /// The frame.
    pub layout: Layout,
    /// Its heading.
    pub heading: String,
    /// Its text.
    pub text: String,
}

/// The `data-result` of a build: its result, or `running`.
pub fn build_result(build: &BuildRecord) -> &'static str {
    result_name(build.result, build.finished_at.is_some())
}

/// A result's name for pages; `running` while unfinished, `none` for a finished thing
/// without result (never written by the master).
pub fn result_name(result: Option<Results>, finished: bool) -> &'static str {
    match result {
        Some(r) => r.name(),
        None if !finished => "running",
        None => "none",
    }
}

/// A time (ms since the epoch) as `YYYY-MM-DD HH:MM:SS` UTC.
pub fn time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// A duration between two times (ms), up to now when unfinished: `1h 02m`, `3m 04s`, `5s`.
pub fn duration(started: i64, finished: Option<i64>) -> String {
    let end = finished.unwrap_or_else(crate::store::now_millis);
    let secs = ((end - started) / 1000).max(0);
    if secs >= 3600 {
        format!("{}h {:02}m", secs / 3600, secs % 3600 / 60)
    } else if secs >= 60 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// Everything but RFC 3986's unreserved characters, so a segment or a query value cannot
/// change the URL around it.
const NOT_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A path segment with the characters that would change a URL percent-encoded.
pub fn url_segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, NOT_UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations() {
        assert_eq!(time(0), "1970-01-01 00:00:00");
        assert_eq!(time(1_795_000_000_000), "2026-11-18 11:06:40");
        assert_eq!(duration(0, Some(5_000)), "5s");
        assert_eq!(duration(0, Some(184_000)), "3m 04s");
        assert_eq!(duration(0, Some(3_720_000)), "1h 02m");
        assert_eq!(url_segment("a b/c"), "a%20b%2Fc");
        assert_eq!(url_segment("é-_.~?&#"), "%C3%A9-_.~%3F%26%23");
    }
}

/// A build request without a build yet.
#[derive(Template)]
#[template(path = "request.html")]
pub struct RequestPage {
    /// The frame.
    pub layout: Layout,
    /// Its id.
    pub id: i64,
    /// Its builder.
    pub builder: String,
    /// Why.
    pub reason: String,
    /// When it was stored.
    pub submitted: String,
    /// Whether it waits for a worker.
    pub queued: bool,
    /// How it ended (cancelled) when not queued.
    pub result: &'static str,
}

/// The pages' HTML escaper: `&lt;` rather than askama's `&#60;`, same safety.
#[derive(Clone, Copy, Debug)]
pub struct Entities;

impl askama::filters::Escaper for Entities {
    fn write_escaped_str<W: std::fmt::Write>(&self, mut dest: W, string: &str) -> std::fmt::Result {
        let mut last = 0;
        for (i, b) in string.bytes().enumerate() {
            let entity = match b {
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'&' => "&amp;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            dest.write_str(&string[last..i])?;
            dest.write_str(entity)?;
            last = i + 1;
        }
        dest.write_str(&string[last..])
    }
}
