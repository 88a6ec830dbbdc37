//! A plain HTTP/1.1 client over loopback TCP: requests are written byte by byte as the test
//! means them (a form without its CSRF field, a POST without a session), with no client
//! library adding or fixing anything.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response, read to its end.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request (`Connection: close`) and reads the whole response.
pub fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head += &format!("{name}: {value}\r\n");
    }
    head += "\r\n";
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    // Read until the response is complete: some servers (chromedriver) keep the connection
    // open despite `Connection: close`.
    let mut raw = Vec::new();
    let mut buf = [0u8; 16384];
    while !complete(&raw) {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    parse(&raw).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not an HTTP response: {:?}", String::from_utf8_lossy(&raw)),
        )
    })
}

/// Sends a GET and reads only the status line and headers (for endless streams).
pub fn head_of(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    let read = || -> std::io::Result<Response> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (name, value) in headers {
            head += &format!("{name}: {value}\r\n");
        }
        head += "\r\n";
        stream.write_all(head.as_bytes())?;
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
        }
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(raw.len(), |i| i + 4);
        raw.truncate(end);
        parse_head(&raw).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response head")
        })
    };
    read().unwrap_or_else(|e| panic!("GET http://{addr}{path}: {e}"))
}

fn parse_head(raw: &[u8]) -> Option<Response> {
    let head = std::str::from_utf8(raw).ok()?;
    let mut lines = head.trim_end().split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(Response {
        status,
        headers,
        body: Vec::new(),
    })
}

/// [`try_request`] that panics on a transport error.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    try_request(addr, method, path, headers, body)
        .unwrap_or_else(|e| panic!("{method} http://{addr}{path}: {e}"))
}

/// Whether `raw` holds a whole response: its head and the body its head announces.
fn complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let Some(head) = parse_head(&raw[..end + 4]) else {
        return false;
    };
    let body = &raw[end + 4..];
    if let Some(length) = head
        .header("content-length")
        .and_then(|l| l.parse::<usize>().ok())
    {
        return body.len() >= length;
    }
    if head
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        return dechunk(body).is_some();
    }
    // No length: the body ends when the server closes the connection.
    false
}

fn parse(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    Some(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

/// `application/x-www-form-urlencoded` of `fields`.
pub fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `value` of the `<input>` named `name` in `html` (the hidden CSRF field), unescaped
/// of the few entities a server writes in attributes.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let mut from = 0;
    while let Some(start) = html[from..].find("<input").map(|i| i + from) {
        let end = html[start..].find('>').map(|i| i + start)?;
        let tag = &html[start..end];
        from = end;
        if attribute(tag, "name").as_deref() == Some(name) {
            return attribute(tag, "value");
        }
    }
    None
}

/// An attribute's value in one tag's text.
fn attribute(tag: &str, name: &str) -> Option<String> {
    for quote in ['"', '\''] {
        let key = format!(" {name}={quote}");
        if let Some(i) = tag.find(&key) {
            let value_start = i + key.len();
            let len = tag[value_start..].find(quote)?;
            let value = &tag[value_start..value_start + len];
            return Some(
                value
                    .replace("&quot;", "\"")
                    .replace("&#39;", "'")
                    .replace("&#x27;", "'")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&"),
            );
        }
    }
    None
}

/// A user agent with a cookie jar, for requests made by hand as a browser would make them.
pub struct Session {
    addr: SocketAddr,
    cookies: Vec<(String, String)>,
}

impl Session {
    /// A session without cookies.
    pub fn new(addr: SocketAddr) -> Session {
        Session {
            addr,
            cookies: Vec::new(),
        }
    }

    /// A session holding `cookies` (taken from the browser).
    pub fn with_cookies(addr: SocketAddr, cookies: Vec<(String, String)>) -> Session {
        Session { addr, cookies }
    }

    /// The `Cookie` header value.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Sends a request with the session's cookies and keeps the cookies it sets.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let cookie = self.cookie_header();
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if !cookie.is_empty() {
            all.push(("Cookie", &cookie));
        }
        let r = request(self.addr, method, path, &all, body);
        for (name, value) in &r.headers {
            if name != "set-cookie" {
                continue;
            }
            let pair = value.split(';').next().unwrap_or("");
            if let Some((n, v)) = pair.split_once('=') {
                let (n, v) = (n.trim().to_string(), v.trim().to_string());
                self.cookies.retain(|(old, _)| *old != n);
                let expired = value.to_ascii_lowercase().contains("max-age=0");
                if !v.is_empty() && !expired {
                    self.cookies.push((n, v));
                }
            }
        }
        r
    }

    /// GET `path`.
    pub fn get(&mut self, path: &str) -> Response {
        self.send("GET", path, &[], b"")
    }

    /// POSTs a form.
    pub fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let body = form(fields);
        self.send(
            "POST",
            path,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        )
    }

    /// The CSRF token of the page at `path` (its hidden `csrf` input).
    pub fn csrf(&mut self, path: &str) -> String {
        let page = self.get(path);
        assert_eq!(page.status, 200, "GET {path}: {}", page.text());
        input_value(&page.text(), "csrf")
            .unwrap_or_else(|| panic!("GET {path}: no hidden csrf input in\n{}", page.text()))
    }

    /// Logs in through the login form; panics unless the master accepts the password.
    pub fn login(&mut self, user: &str, password: &str) {
        let csrf = self.csrf("/login");
        let r = self.post_form(
            "/login",
            &[("user", user), ("password", password), ("csrf", &csrf)],
        );
        assert!(
            r.status == 303 || r.status == 302,
            "POST /login as {user}: expected a redirect, got {}: {}",
            r.status,
            r.text()
        );
        assert!(
            !self.cookies.is_empty(),
            "POST /login set no session cookie: {:?}",
            r.headers
        );
    }
}

#[test]
fn input_value_reads_the_hidden_field_whatever_the_attribute_order() {
    let html = r#"<form><input type="text" name="reason"><input type="hidden" value="a&amp;b" name="csrf"></form>"#;
    assert_eq!(input_value(html, "csrf").as_deref(), Some("a&b"));
    assert_eq!(input_value(html, "nope"), None);
}

#[test]
fn chunked_bodies_are_joined() {
    let raw =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    let r = parse(raw).unwrap();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"abcde"[..]));
}
