//! `oebb create-master DIR` looks at this machine: the capability lines it writes for the local
//! worker name the running test PostgreSQL clusters (127.0.0.1:25432 and :25433 of
//! scripts/install-postgresql) and Pythons that really run, and `oebb check` accepts them.

use std::collections::BTreeMap;
use std::process::Command;

fn oebb(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_oebb"))
        .args(args)
        .output()
        .unwrap()
}

/// Port of a `postgresql://user@host:port/db` URL.
fn port_of(url: &str) -> u16 {
    let authority = url.split("://").nth(1).unwrap().split('/').next().unwrap();
    authority.rsplit(':').next().unwrap().parse().unwrap()
}

/// `SHOW server_version` through psql, with the capability's options as a build would use them.
fn server_version(options: &BTreeMap<String, String>) -> Result<String, String> {
    let psql = options
        .get("bin")
        .map(|b| format!("{b}/psql"))
        .unwrap_or_else(|| "psql".into());
    let mut command = Command::new(psql);
    command.args([
        "-X",
        "-w",
        "-A",
        "-t",
        "-d",
        "postgres",
        "-c",
        "SHOW server_version",
    ]);
    for (option, flag) in [("host", "-h"), ("port", "-p"), ("user", "-U")] {
        if let Some(v) = options.get(option) {
            command.args([flag, v]);
        }
    }
    let out = command.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `15` of `15.4 (Debian …)`, `9.6` of `9.6.24`.
fn major(version: &str) -> String {
    let number = version.split_whitespace().next().unwrap();
    let parts: Vec<&str> = number.split('.').collect();
    if parts[0].parse::<u32>().unwrap() >= 10 {
        parts[0].to_string()
    } else {
        format!("{}.{}", parts[0], parts[1])
    }
}

type Capabilities = BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>;

fn created_master() -> (tempfile::TempDir, String, Capabilities) {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("demo");
    let out = oebb(&["create-master", m.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let slaves = std::fs::read_to_string(m.join("slaves.cfg")).unwrap();
    let out = oebb(&["check", m.to_str().unwrap(), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "oebb check refused what create-master wrote:\n{}\n{slaves}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["workers"][0]["name"], "local");
    let caps: Capabilities = serde_json::from_value(v["workers"][0]["capabilities"].clone())
        .unwrap_or_else(|e| panic!("{e}: {}", v["workers"][0]));
    (dir, slaves, caps)
}

#[test]
fn written_postgresql_lines_answer_with_their_version_and_name_the_test_clusters() {
    let url = std::env::var("OEBB_TEST_PG_URL").expect(
        "OEBB_TEST_PG_URL is not set: run scripts/install-postgresql (scripts/test does) and \
         source the environment it prints",
    );
    let first = port_of(&url);
    let second: u16 = std::env::var("OEBB_TEST_PG2_PORT")
        .expect("OEBB_TEST_PG2_PORT is not set: run scripts/install-postgresql")
        .parse()
        .unwrap();
    let test_version = major(
        &server_version(&BTreeMap::from([
            ("host".to_string(), "127.0.0.1".to_string()),
            ("port".to_string(), first.to_string()),
            ("user".to_string(), "oebbtest".to_string()),
        ]))
        .expect("the test cluster does not answer: bash scripts/install-postgresql"),
    );
    let (_dir, slaves, caps) = created_master();
    let pg = caps
        .get("postgresql")
        .unwrap_or_else(|| panic!("no postgresql capability:\n{slaves}"));
    for (version, options) in pg {
        let answer = server_version(options)
            .unwrap_or_else(|e| panic!("postgresql {version} {options:?} does not answer: {e}"));
        assert_eq!(&major(&answer), version, "{options:?}\n{slaves}");
    }
    let written = pg
        .get(&test_version)
        .unwrap_or_else(|| panic!("no line for PostgreSQL {test_version}:\n{slaves}"));
    // Either test cluster may be the one offered (one per version); the other is told.
    let port: u16 = written["port"].parse().unwrap();
    // Comments are wrapped: read them as one text.
    let told = slaves.replace("\n#   ", " ");
    for p in [first, second] {
        assert!(
            p == port || told.contains(&format!("on port {p} ")),
            "port {p} is neither offered nor told:\n{slaves}"
        );
    }
    assert!(slaves.contains("# Found on this machine"), "{slaves}");
}

#[test]
fn written_python_lines_run_the_version_they_say() {
    let (_dir, slaves, caps) = created_master();
    let pythons = caps.get("python").unwrap_or_else(|| {
        panic!("no python capability (python3 is on every test machine):\n{slaves}")
    });
    assert!(pythons.keys().any(|v| v.starts_with("3.")), "{slaves}");
    for (version, options) in pythons {
        let bin = &options["bin"];
        let out = Command::new(bin)
            .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
            .output()
            .unwrap_or_else(|e| panic!("{bin}: {e}"));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            version,
            "{bin}\n{slaves}"
        );
    }
    if !pythons.contains_key("2.7") {
        assert!(
            slaves.contains("no Python 2.7: the OpenERP 7.0 example"),
            "{slaves}"
        );
    }
}

#[test]
fn no_probe_writes_the_example_lines() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("demo");
    let out = oebb(&["create-master", "--no-probe", m.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let slaves = std::fs::read_to_string(m.join("slaves.cfg")).unwrap();
    assert!(
        slaves.contains(
            "capability = postgresql 16 port=5432\n             python 2.7 bin=python2.7\n             \
             python 3.11 bin=python3.11\n"
        ),
        "{slaves}"
    );
    assert!(!slaves.contains("@CAPABILITY@"), "{slaves}");
}
