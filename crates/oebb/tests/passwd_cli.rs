//! `oebb passwd DIR USER` puts an argon2 hash into `[users]` of a created master directory,
//! which `oebb check` accepts; a password in clear is an error that names the command.

use std::path::Path;
use std::process::Command;

fn oebb(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_oebb"))
        .args(args)
        .output()
        .unwrap()
}

fn passwd(dir: &Path, user: &str, password: &str) -> std::process::Output {
    oebb_testkit::output_with_stdin(
        Command::new(env!("CARGO_BIN_EXE_oebb"))
            .arg("passwd")
            .arg(dir)
            .arg(user),
        format!("{password}\n").as_bytes(),
    )
}

#[test]
fn passwd_writes_a_hash_that_check_accepts_and_replaces_it_later() {
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("demo");
    let m = master.to_str().unwrap();
    assert_eq!(oebb(&["create-master", m]).status.code(), Some(0));
    let before = std::fs::read_to_string(master.join("oebb.cfg")).unwrap();

    let out = passwd(&master, "alice", "correct horse");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = std::fs::read_to_string(master.join("oebb.cfg")).unwrap();
    let line = after
        .lines()
        .find(|l| l.starts_with("alice = "))
        .expect("a line for alice");
    assert!(line.starts_with("alice = $argon2id$"), "{line}");
    assert!(!after.contains("correct horse"));
    // Everything else of the file is kept.
    let without: Vec<&str> = after
        .lines()
        .filter(|l| !l.starts_with("alice = "))
        .collect();
    assert_eq!(without, before.lines().collect::<Vec<_>>());
    let out = oebb(&["check", m]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    assert_eq!(
        passwd(&master, "alice", "another one").status.code(),
        Some(0)
    );
    let again = std::fs::read_to_string(master.join("oebb.cfg")).unwrap();
    assert_eq!(again.matches("alice = ").count(), 1, "{again}");
    assert_ne!(again, after, "a new hash replaced the old one");

    let empty = passwd(&master, "bob", "");
    assert_eq!(empty.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(master.join("oebb.cfg")).unwrap(),
        again
    );
}

#[test]
fn a_password_in_clear_is_refused_naming_oebb_passwd() {
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("demo");
    let m = master.to_str().unwrap();
    assert_eq!(oebb(&["create-master", m]).status.code(), Some(0));
    let cfg = std::fs::read_to_string(master.join("oebb.cfg")).unwrap();
    let cfg = cfg.replace("[users]\n", "[users]\nadmin = secret\n");
    std::fs::write(master.join("oebb.cfg"), cfg).unwrap();
    let out = oebb(&["check", m]);
    assert_eq!(out.status.code(), Some(1));
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains(&format!("oebb passwd {m} admin")),
        "the error does not say how to fix it:\n{text}"
    );
}

/// `oebb.cfg` holds password hashes: after `oebb passwd` only its owner may read it, whether
/// it was new or readable by all before.
#[cfg(unix)]
#[test]
fn passwd_leaves_oebb_cfg_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("oebb.cfg");
    assert_eq!(passwd(dir.path(), "alice", "pw one").status.code(), Some(0));
    assert_eq!(mode(&cfg), 0o600, "a new oebb.cfg");
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(passwd(dir.path(), "bob", "pw two").status.code(), Some(0));
    assert_eq!(mode(&cfg), 0o600, "an oebb.cfg that was 0644");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        text.contains("alice = $argon2") && text.contains("bob = $argon2"),
        "{text}"
    );
}
