//! `oebb mail-test DIR ADDRESS` against a real SMTP server (aiosmtpd), and the `[mail]` example
//! that `oebb create-master` writes, uncommented, passing `oebb check`.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use oebb_testkit::smtp::{SmtpOptions, SmtpServer};

fn oebb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oebb"))
        .args(args)
        .output()
        .expect("run oebb")
}

/// Uncomments the `[mail]` and `[mail:stable]` example of a created `oebb.cfg`.
fn uncomment_mail(dir: &Path) -> String {
    let path = dir.join("oebb.cfg");
    let text = std::fs::read_to_string(&path).unwrap();
    let at = text.find("# [mail]").expect("the example has [mail]");
    let (head, example) = text.split_at(at);
    let example: String = example
        .lines()
        .filter(|l| {
            !l.starts_with("# #")
                && *l != "#"
                && !l.starts_with("# More rules")
                && !l.starts_with("# author-domains.")
        })
        .map(|l| format!("{}\n", l.strip_prefix("# ").unwrap_or(l)))
        .collect();
    let text = format!("{head}{example}");
    std::fs::write(&path, &text).unwrap();
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_test_sends_one_mail_or_says_why_not() {
    let scratch = tempfile::tempdir().unwrap();
    let mut smtp = SmtpServer::start(&scratch.path().join("inbox"), SmtpOptions::default());
    let dir = scratch.path().join("master");
    let m = dir.to_str().unwrap();
    assert_eq!(oebb(&["create-master", m]).status.code(), Some(0));
    let text = uncomment_mail(&dir);
    assert!(
        text.contains("\n[mail]\n") && text.contains("\n[mail:stable]\n"),
        "{text}"
    );
    let out = oebb(&["check", m]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the uncommented example fails oebb check: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Point it at the test relay, without a login.
    let cfg = text
        .replace(
            "relay = localhost:25",
            &format!("relay = 127.0.0.1:{}", smtp.port),
        )
        .replace("username = oebb\n", "")
        .replace("password-file = relay-password\n", "");
    std::fs::write(dir.join("oebb.cfg"), cfg).unwrap();
    let out = oebb(&["mail-test", m, "me@example.com"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = smtp.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpt_tos, ["me@example.com"]);
    assert_eq!(got[0].subject, "[oebb] test mail");
    assert!(got[0].text.contains("oebb mail-test"), "{}", got[0].text);

    // The relay down: exit 1 and the reason.
    smtp.stop();
    let out = oebb(&["mail-test", m, "me@example.com"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the test mail was not sent: relay 127.0.0.1:")
            && err.contains("Connection refused"),
        "{err}"
    );
    // Not an address.
    let out = oebb(&["mail-test", m, "me"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`me` is not a mail address"));
}
