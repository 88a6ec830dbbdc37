//! `oebb force`: force a build of a builder on a running master, through its JSON API.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use serde_json::{json, Value};

use super::master::load_config;

/// Arguments of `oebb force`.
#[derive(Args)]
pub struct ForceArgs {
    /// The master directory (its oebb.cfg gives the master's web address).
    dir: PathBuf,
    /// The builder to build.
    builder: String,
    /// Why, for the record.
    #[arg(long, default_value = "forced from the command line")]
    reason: String,
    /// Wait until the build request is complete; exit 0 only if it succeeded (or warned).
    #[arg(long)]
    wait: bool,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 3600)]
    timeout: u64,
}

/// Runs the command.
pub fn run(args: ForceArgs) -> anyhow::Result<u8> {
    let config = load_config(&args.dir)?;
    let address = client_address(&config.settings.web_address);
    let token = api_token(&args.dir)?;
    let path = format!("/api/builders/{}/force", args.builder);
    let body = json!({ "reason": args.reason }).to_string();
    let (status, answer) = http(&address, "POST", &path, Some(&body), Some(&token))?;
    if status != 201 {
        bail!("the master refused: HTTP {status}: {}", message(&answer));
    }
    let request = answer["request"]
        .as_i64()
        .context("the master's answer has no request id")?;
    println!("build request {request} queued for {}", args.builder);
    if !args.wait {
        return Ok(0);
    }
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    loop {
        let (status, answer) = http(
            &address,
            "GET",
            &format!("/api/buildrequests/{request}"),
            None,
            None,
        )?;
        if status != 200 {
            bail!(
                "cannot follow build request {request}: HTTP {status}: {}",
                message(&answer)
            );
        }
        let done = &answer["request"];
        if !done["complete_at"].is_null() {
            let result = done["result"].as_str().unwrap_or("unknown");
            if let Some(build) = answer["builds"].as_array().and_then(|b| b.last()) {
                println!(
                    "build {} on {}: {result} ({})",
                    build["id"],
                    build["worker"].as_str().unwrap_or("?"),
                    build["state_text"].as_str().unwrap_or("")
                );
            } else {
                println!("build request {request}: {result}");
            }
            return Ok(if matches!(result, "success" | "warnings") {
                0
            } else {
                1
            });
        }
        if Instant::now() >= deadline {
            bail!(
                "build request {request} did not complete within {} s",
                args.timeout
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The bearer token the master wrote into its directory when it started.
fn api_token(dir: &std::path::Path) -> anyhow::Result<String> {
    let path = dir.join(".oebb-api-token");
    let token = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read the master's API token {}: run this on the master's machine, as \
             its user, once `oebb master {}` has started",
            path.display(),
            dir.display()
        )
    })?;
    Ok(token.trim().to_string())
}

/// Where to reach a master listening on `address` (a wildcard address means this machine).
fn client_address(address: &str) -> String {
    match address.rsplit_once(':') {
        Some(("0.0.0.0" | "[::]" | "", port)) => format!("127.0.0.1:{port}"),
        _ => address.to_string(),
    }
}

fn message(answer: &Value) -> String {
    answer["error"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| answer.to_string())
}

/// One HTTP/1.1 exchange with the master's JSON API (`Connection: close`, JSON bodies).
fn http(
    address: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> anyhow::Result<(u16, Value)> {
    let mut stream = TcpStream::connect(address).with_context(|| {
        format!("cannot reach the master at {address}; is `oebb master` running?")
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.unwrap_or("");
    let authorization = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
         {authorization}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .context("the master's answer is not HTTP")?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("the master's answer has no status")?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    Ok((status, value))
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}
