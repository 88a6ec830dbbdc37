//! What the real OpenERP 7.0 builds need from the machine: Python 2.7, the sdists
//! `scripts/install-test-deps` prepared, an unprivileged user, a PostgreSQL role.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The role the builds connect as: OpenERP refuses `postgres`, and a role of its own that may
/// create databases is what a deployment would give it.
pub const ROLE: &str = "oebb_openerp7";

/// The user the workers run as when the tests run as root (OpenERP refuses root).
pub const BUILD_USER: &str = "oebbtest";

/// The test prefix (`OEBB_TEST_PREFIX`, as scripts/test sets it).
pub fn prefix() -> PathBuf {
    std::env::var_os("OEBB_TEST_PREFIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/oebb-test"))
}

/// `$OEBB_TEST_PREFIX/openerp7`, where install-test-deps put the server and find-links.
pub fn openerp7_dir() -> PathBuf {
    let dir = prefix().join("openerp7");
    assert!(
        dir.join("ready-3").is_file(),
        "{} is not ready: run scripts/install-test-deps (it downloads openerp-core 7.0.406 \
         and Python-Chart 1.39 from PyPI and prepares them there)",
        dir.display()
    );
    dir
}

/// A user the workers run as: name, uid, gid.
#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

fn id(flag: &str, name: &str) -> u32 {
    let out = Command::new("id").args([flag, name]).output().unwrap();
    assert!(
        out.status.success(),
        "no user {name}: scripts/install-postgresql creates it when run as root"
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// `oebbtest` when the tests run as root, else nobody (the builds run as the tests' user).
pub fn build_user() -> Option<User> {
    let me = Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&me.stdout).trim() != "0" {
        return None;
    }
    Some(User {
        name: BUILD_USER.into(),
        uid: id("-u", BUILD_USER),
        gid: id("-g", BUILD_USER),
    })
}

/// The Python 2.7 the builds use: `OEBB_TEST_PYTHON27`, else pyenv's 2.7.18 (as root, the copy
/// install-test-deps made of it where the build user can run it).
pub fn python27(user: Option<&User>) -> PathBuf {
    let explain = "the real OpenERP 7.0 tests need Python 2.7: set OEBB_TEST_PYTHON27 to its \
                   interpreter, or install pyenv's 2.7.18 (`pyenv prefix 2.7.18` prints where \
                   it is); Debian has no Python 2.7 package";
    if let Some(p) = std::env::var_os("OEBB_TEST_PYTHON27") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "OEBB_TEST_PYTHON27={} is no file; {explain}",
            p.display()
        );
        return p;
    }
    let out = Command::new("pyenv").args(["prefix", "2.7.18"]).output();
    let Some(out) = out.ok().filter(|o| o.status.success()) else {
        panic!("{explain}");
    };
    let python = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("bin/python2.7");
    match user {
        Some(u) if !runs_as(u, &python) => {
            let copy = prefix().join("openerp7/python-2.7.18/bin/python2.7");
            assert!(
                runs_as(u, &copy),
                "{} cannot run {}: run scripts/install-test-deps, which copies it to {}",
                u.name,
                python.display(),
                copy.display()
            );
            copy
        }
        _ => python,
    }
}

fn runs_as(user: &User, python: &Path) -> bool {
    use std::os::unix::process::CommandExt;
    Command::new(python)
        .args(["-c", "pass"])
        .uid(user.uid)
        .gid(user.gid)
        .status()
        .is_ok_and(|s| s.success())
}

/// Gives `path` and everything under it to `user`.
pub fn give(path: &Path, user: Option<&User>) {
    if let Some(u) = user {
        let status = Command::new("chown")
            .args(["-R", &format!("{}:{}", u.uid, u.gid)])
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success(), "chown -R {} {}", u.name, path.display());
    }
}

/// Lets every user through `dir` (a temporary directory is private to its creator).
pub fn open(dir: &Path) {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Makes [`ROLE`] on the cluster of `url` (its superuser's URL), once.
pub fn make_role(url: &str) {
    let sql = format!(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN \
         CREATE ROLE {ROLE} LOGIN CREATEDB; END IF; END $$"
    );
    let out = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", &sql])
        .output()
        .expect("psql runs (apt-get install postgresql-client)");
    assert!(
        out.status.success(),
        "creating role {ROLE}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `host`, `port` of a `postgresql://user@host:port/db` URL.
pub fn host_port(url: &str) -> (String, String) {
    let address = url
        .split_once('@')
        .map_or(url, |(_, r)| r)
        .split('/')
        .next()
        .unwrap();
    let (host, port) = address.split_once(':').unwrap_or((address, "5432"));
    (host.to_string(), port.to_string())
}

/// The second test cluster's URL (`OEBB_TEST_PG2_URL`).
pub fn second_cluster_url() -> String {
    std::env::var("OEBB_TEST_PG2_URL").unwrap_or_else(|_| {
        panic!(
            "OEBB_TEST_PG2_URL is not set: start the second test cluster with \
             `OEBB_TEST_PG2_URL=$(OEBB_TEST_PG_PORT=25433 scripts/install-postgresql)` \
             (scripts/test does)"
        )
    })
}
