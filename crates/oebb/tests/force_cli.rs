//! `oebb force` talks HTTP to the master's JSON API: a builder name is one percent-encoded
//! path segment whatever it holds, and any valid answer is read, however it is chunked.

mod cli;

use cli::oebb;
use oebb_testkit::{free_port, Killed};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A master directory whose web address is `web_port`, with one builder per name in
/// `builders`, each a one-step script printing its name.
fn master_dir(d: &Path, web_port: u16, builders: &[&str]) {
    let worker_port = free_port();
    std::fs::write(
        d.join("oebb.cfg"),
        format!(
            "[master]\nworker-address = 127.0.0.1:{worker_port}\n\
             web-address = 127.0.0.1:{web_port}\n"
        ),
    )
    .unwrap();
    std::fs::write(d.join("slaves.cfg"), "[local]\npassword = secret\n").unwrap();
    std::fs::create_dir_all(d.join("buildouts")).unwrap();
    std::fs::create_dir_all(d.join("steps")).unwrap();
    let mut manifest = String::new();
    for name in builders {
        manifest.push_str(&format!("[{name}]\nbuildout = standalone x.cfg\n"));
        std::fs::write(d.join(format!("steps/{name}.sh")), "echo built $0\n").unwrap();
    }
    std::fs::write(d.join("buildouts/MANIFEST.cfg"), manifest).unwrap();
    std::fs::write(d.join("buildouts/x.cfg"), "[buildout]\nparts =\n").unwrap();
}

#[test]
fn a_builder_with_a_non_ascii_name_is_forced_through_the_master() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    master_dir(d, free_port(), &["été-naïve"]);
    let log = d.join("master.log");
    let _master = Killed::spawn(
        Command::new(env!("CARGO_BIN_EXE_oebb")).args([
            "master",
            d.to_str().unwrap(),
            "--local-worker",
        ]),
        "oebb master --local-worker",
        log.clone(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let out = loop {
        let out = oebb(&["force", d.to_str().unwrap(), "été-naïve", "--wait"]);
        if out.status.code() == Some(0) || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}\n--- master ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(
        stdout.contains("build request 1 queued for été-naïve"),
        "{stdout}"
    );
    assert!(stdout.contains("on local: success"), "{stdout}");
}

/// A stand-in for the master that reads one request and answers it with `answer` written as
/// is; returns the request's head.
fn serve_once(listener: TcpListener, answer: Vec<u8>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = reader.into_inner();
        stream.write_all(&answer).unwrap();
        head
    })
}

#[test]
fn the_name_is_one_encoded_segment_and_a_chunk_may_split_a_character() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    master_dir(d, port, &[]);
    std::fs::write(d.join(".oebb-api-token"), "t0ken\n").unwrap();
    // `é` is C3 A9: the first chunk ends between the two bytes.
    let body = "{\"request\": 7, \"note\": \"é\"}".as_bytes();
    let split = body.iter().position(|&b| b == 0xC3).unwrap() + 1;
    let mut answer = b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n\
                       Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        .to_vec();
    for chunk in [&body[..split], &body[split..]] {
        answer.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        answer.extend_from_slice(chunk);
        answer.extend_from_slice(b"\r\n");
    }
    answer.extend_from_slice(b"0\r\n\r\n");
    let server = serve_once(listener, answer);

    let out = oebb(&["force", d.to_str().unwrap(), "a b/é?#%"]);
    let head = server.join().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "build request 7 queued for a b/é?#%\n"
    );
    let mut lines = head.lines();
    assert_eq!(
        lines.next(),
        Some("POST /api/builders/a%20b%2F%C3%A9%3F%23%25/force HTTP/1.1")
    );
    assert!(
        head.lines()
            .any(|l| l == "authorization: Bearer t0ken" || l == "Authorization: Bearer t0ken"),
        "{head}"
    );
}
