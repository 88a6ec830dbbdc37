//! `oebb force`: force a build of a builder on a running master, through its JSON API.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};

use super::master::load_config;
use super::progress::{self, Progress};

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
    /// With --wait: also print the running step's log as it grows.
    #[arg(long)]
    follow: bool,
    /// A build property for the build, `NAME=VALUE` (repeatable): `buildout-rerun=true` runs
    /// buildout even when nothing it reads changed.
    #[arg(long = "property", value_name = "NAME=VALUE", value_parser = property)]
    properties: Vec<(String, String)>,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 3600)]
    timeout: u64,
}

/// `NAME=VALUE` of `--property`.
fn property(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.to_string()))
        }
        _ => Err(format!("`{text}`: expected NAME=VALUE")),
    }
}

/// Runs the command.
pub fn run(args: ForceArgs) -> anyhow::Result<u8> {
    let config = load_config(&args.dir)?;
    let api = Api::new(&client_address(&config.settings.web_address));
    let token = api_token(&args.dir)?;
    let path = format!("/api/builders/{}/force", path_segment(&args.builder));
    let properties: serde_json::Map<String, Value> = args
        .properties
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    let body = json!({ "reason": args.reason, "properties": properties });
    let (status, answer) = api.post(&path, &body, &token)?;
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
    let mut progress = Progress::new(args.follow);
    let mut current: Option<i64> = None;
    loop {
        let (status, answer) = api.get(&format!("/api/buildrequests/{request}"))?;
        if status != 200 {
            bail!(
                "cannot follow build request {request}: HTTP {status}: {}",
                message(&answer)
            );
        }
        let build = answer["builds"].as_array().and_then(|b| b.last()).cloned();
        let mut detail = Value::Null;
        if let Some(id) = build.as_ref().and_then(|b| b["id"].as_i64()) {
            if current != Some(id) {
                progress.clear_status();
                let worker = build.as_ref().and_then(|b| b["worker"].as_str());
                println!(
                    "build {id} started on {}: {}/builds/{id}",
                    worker.unwrap_or("?"),
                    api.base
                );
                progress = Progress::new(args.follow);
                current = Some(id);
            }
            let (status, answer) = api.get(&format!("/api/builds/{id}"))?;
            if status == 200 {
                detail = answer;
                let log = |number: i64, offset: i64| {
                    api.get_bytes(&format!(
                        "/api/builds/{id}/steps/{number}/log?offset={offset}&limit=65536"
                    ))
                };
                progress.update(&detail, now_millis(), log);
            }
        }
        let done = &answer["request"];
        if !done["complete_at"].is_null() {
            progress.clear_status();
            let result = done["result"].as_str().unwrap_or("unknown");
            if let Some(build) = &build {
                println!(
                    "build {} on {}: {result} ({})",
                    build["id"],
                    build["worker"].as_str().unwrap_or("?"),
                    progress::printable(build["state_text"].as_str().unwrap_or(""))
                );
                if result != "success" {
                    for line in progress::cause_block(&detail, CAUSES_SHOWN) {
                        println!("{line}");
                    }
                }
                println!("{}/builds/{}", api.base, build["id"]);
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
            progress.clear_status();
            bail!(
                "build request {request} did not complete within {} s",
                args.timeout
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Findings printed at the end of a build that did not succeed.
const CAUSES_SHOWN: usize = 3;

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The bearer token the master wrote into its directory when it started.
pub(super) fn api_token(dir: &std::path::Path) -> anyhow::Result<String> {
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

pub(super) fn message(answer: &Value) -> String {
    answer["error"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| answer.to_string())
}

/// Characters left as they are in a URL path segment (RFC 3986 unreserved); everything else,
/// `/`, `?`, `#`, `%`, spaces and non-ASCII letters included, is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `name` as one segment of a URL path; `.` and `..` are encoded too, as a path would read
/// them as "here" and "up".
fn path_segment(name: &str) -> String {
    if matches!(name, "." | "..") {
        return name.replace('.', "%2E");
    }
    utf8_percent_encode(name, SEGMENT).to_string()
}

/// The largest answer read from the master; a build request's record is a few kilobytes.
const MAX_ANSWER_BYTES: u64 = 16 * 1024 * 1024;

/// The master's JSON API over plain HTTP.
pub(super) struct Api {
    agent: ureq::Agent,
    base: String,
}

impl Api {
    fn new(address: &str) -> Api {
        Api::with_timeout(address, Duration::from_secs(30))
    }

    /// The API at `address`, each call given at most `timeout`.
    pub(super) fn with_timeout(address: &str, timeout: Duration) -> Api {
        let agent = ureq::Agent::config_builder()
            // An error status is an answer to show, with the master's message.
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build()
            .into();
        Api {
            agent,
            base: format!("http://{address}"),
        }
    }

    pub(super) fn post(
        &self,
        path: &str,
        body: &Value,
        token: &str,
    ) -> anyhow::Result<(u16, Value)> {
        let response = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {token}"))
            .send_json(body);
        self.answer(response)
    }

    fn get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        self.answer(self.agent.get(format!("{}{path}", self.base)).call())
    }

    /// The body of a successful answer as bytes (a log's range), or `None`.
    fn get_bytes(&self, path: &str) -> Option<Vec<u8>> {
        let mut response = self.agent.get(format!("{}{path}", self.base)).call().ok()?;
        if response.status().as_u16() != 200 {
            return None;
        }
        response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .ok()
    }

    /// The status and the JSON body of an answer (a body that is not JSON as a string).
    fn answer(
        &self,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut response = response.with_context(|| {
            format!(
                "cannot reach the master at {}; is `oebb master` running?",
                self.base
            )
        })?;
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .context("reading the master's answer")?;
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok((status, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_one_path_segment_whatever_it_holds() {
        assert_eq!(path_segment("odoo-16.0_pg~16"), "odoo-16.0_pg~16");
        assert_eq!(path_segment("a b/c?d#e%f"), "a%20b%2Fc%3Fd%23e%25f");
        assert_eq!(path_segment("été"), "%C3%A9t%C3%A9");
        assert_eq!(path_segment(".."), "%2E%2E");
        assert_eq!(path_segment("..."), "...");
    }
}
