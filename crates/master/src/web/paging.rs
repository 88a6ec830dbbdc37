//! Paging of the API's lists: each takes `limit` (default [`DEFAULT_LIMIT`], at most
//! [`MAX_LIMIT`]) and a cursor (`before`/`after` an id or a name), reads at most one row more
//! than asked from the store (SQL `LIMIT`), and when there are more answers with a
//! `Link: <URL>; rel="next"` header (RFC 8288) whose URL reads the next page. The body stays
//! the plain JSON array it always was.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::view::url_segment;

/// Items of a page when the request does not say.
pub const DEFAULT_LIMIT: i64 = 100;

/// The most items of one page.
pub const MAX_LIMIT: i64 = 1000;

/// The page size asked for, within 1..=[`MAX_LIMIT`].
pub fn limit(asked: Option<i64>) -> i64 {
    asked.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
}

/// The rows to read for a page of `limit`: one more tells whether a next page exists.
pub fn rows_to_read(limit: i64) -> i64 {
    limit + 1
}

/// A page of `rows` read with [`rows_to_read`]: at most `limit` of them, and whether more
/// follow.
pub fn cut<T>(mut rows: Vec<T>, limit: i64) -> (Vec<T>, bool) {
    let limit = usize::try_from(limit).unwrap_or(0);
    let more = rows.len() > limit;
    rows.truncate(limit);
    (rows, more)
}

/// A page (see [`cut`]) as a JSON array, with a link to the next page when more rows follow:
/// `path` with the `filter` parameters, `cursor` set to the last row's `key`, and the same
/// `limit`.
pub fn json_page<T: Serialize>(
    (page, more): (Vec<T>, bool),
    limit: i64,
    path: &str,
    filter: &[(&str, Option<String>)],
    cursor: &str,
    key: impl Fn(&T) -> String,
) -> Response {
    let next = page.last().filter(|_| more).map(|last| {
        let mut params = filter.to_vec();
        params.push((cursor, Some(key(last))));
        params.push(("limit", Some(limit.to_string())));
        url(path, &params)
    });
    with_next(Json(page).into_response(), next)
}

/// `path?k=v&…` with the parameters that have a value, each percent-encoded.
pub fn url(path: &str, params: &[(&str, Option<String>)]) -> String {
    let query: Vec<String> = params
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", url_segment(v))))
        .collect();
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// `response` with a `Link` header to `next` when there is a next page.
pub fn with_next(mut response: Response, next: Option<String>) -> Response {
    if let Some(next) = next {
        if let Ok(value) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_cuts_and_links() {
        assert_eq!(limit(None), DEFAULT_LIMIT);
        assert_eq!(limit(Some(0)), 1);
        assert_eq!(limit(Some(-5)), 1);
        assert_eq!(limit(Some(1_000_000)), MAX_LIMIT);
        assert_eq!(cut(vec![1, 2, 3], 2), (vec![1, 2], true));
        assert_eq!(cut(vec![1, 2], 2), (vec![1, 2], false));
        assert_eq!(
            url(
                "/api/builds",
                &[
                    ("builder", Some("a b&c".into())),
                    ("before", None),
                    ("limit", Some("5".into()))
                ]
            ),
            "/api/builds?builder=a%20b%26c&limit=5"
        );
        assert_eq!(url("/x", &[("a", None)]), "/x");
    }
}
