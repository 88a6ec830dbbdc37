//! `oebb create-master DIR` writes a master directory that `oebb check DIR` accepts.

use std::process::Command;

fn oebb(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_oebb"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn created_master_passes_check_with_a_builder_per_buildout() {
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("demo");
    let m = master.to_str().unwrap();
    let out = oebb(&["create-master", "--no-probe", m]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "oebb.cfg",
        "slaves.cfg",
        "buildouts/MANIFEST.cfg",
        "buildouts/openerp-7.0.cfg",
        "buildouts/odoo-16.0.cfg",
        "buildouts/openerp-7.0-dists/PyChart-1.39-py2.7.egg/EGG-INFO/requires.txt",
        "buildouts/openerp-7.0-dists/openerp_command-0.0.1-py2.7.egg/EGG-INFO/PKG-INFO",
    ] {
        assert!(master.join(f).is_file(), "{f} missing");
    }
    let out = oebb(&["check", m, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v["builders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "openerp-7.0-pg16",
            "odoo-16.0-pg16",
            "odoo-16.0-nodemo-pg16"
        ]
    );
    assert_eq!(v["workers"][0]["name"], "local");
    assert_eq!(v["builders"][0]["env"]["local"]["PGPORT"], "5432");
    assert_eq!(
        v["warnings"].as_array().unwrap().len(),
        0,
        "{}",
        v["warnings"]
    );
}

#[test]
fn created_files_are_commented_and_show_each_manifest_option() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().to_str().unwrap();
    assert_eq!(
        oebb(&["create-master", "--no-probe", m]).status.code(),
        Some(0)
    );
    let manifest = std::fs::read_to_string(dir.path().join("buildouts/MANIFEST.cfg")).unwrap();
    for option in [
        "buildout =",
        "watch =",
        "auto-watch =",
        "build-for =",
        "build-requires =",
        "build-category =",
        "openerp-addons =",
        "buildout-part =",
        "start-command =",
        "test-command =",
        "bootstrap-version =",
        "db_template =",
        "db-steps =",
        "post-dl-steps =",
        "post-buildout-steps =",
        "tree-stable-timer =",
        "inherit =",
        "[DEFAULT]",
    ] {
        assert!(manifest.contains(option), "MANIFEST.cfg lacks {option}");
    }
    let settings = std::fs::read_to_string(dir.path().join("oebb.cfg")).unwrap();
    for section in ["[master]", "[watch]", "[users]", "[mail]"] {
        assert!(settings.contains(section), "oebb.cfg lacks {section}");
    }
    assert!(settings.lines().filter(|l| l.starts_with('#')).count() > 10);
}

#[test]
fn create_master_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().to_str().unwrap();
    std::fs::write(dir.path().join("slaves.cfg"), "[mine]\npassword = keep\n").unwrap();
    let out = oebb(&["create-master", "--no-probe", m]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("slaves.cfg already exists; choose a new directory or remove it"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("slaves.cfg")).unwrap(),
        "[mine]\npassword = keep\n"
    );
    assert!(!dir.path().join("oebb.cfg").exists());
}

#[test]
fn table_output_lists_workers_and_builders() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().to_str().unwrap();
    assert_eq!(
        oebb(&["create-master", "--no-probe", m]).status.code(),
        Some(0)
    );
    let out = oebb(&["check", m]);
    assert_eq!(out.status.code(), Some(0));
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        table,
        "\
WORKER  MAX_BUILDS  CAPABILITIES
local   1           postgresql 16, python 2.7 3.11

BUILDER                BUILDOUT          CATEGORY     WORKERS
openerp-7.0-pg16       openerp-7.0       openerp-7.0  local
odoo-16.0-pg16         odoo-16.0         stable       local
odoo-16.0-nodemo-pg16  odoo-16.0-nodemo  stable       local

1 workers, 3 buildouts, 3 builders, 0 warnings
"
    );
}

/// The password hashes and worker passwords, and the directory that will hold the store and
/// the API token, are readable by their owner only; the buildout files are not secret.
#[cfg(unix)]
#[test]
fn created_secrets_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("demo");
    assert_eq!(
        oebb(&["create-master", "--no-probe", master.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let mode = |f: &str| {
        std::fs::metadata(master.join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(""), 0o700, "the master directory");
    assert_eq!(mode("oebb.cfg"), 0o600);
    assert_eq!(mode("slaves.cfg"), 0o600);
    assert_eq!(mode("buildouts/MANIFEST.cfg") & 0o600, 0o600);
}

/// The OpenERP 7.0 buildout finds its stand-ins at their absolute place in the master
/// directory, and a local worker user given is written into oebb.cfg, which `oebb check`
/// accepts; the user may then enter the master directory (not list it) and read the buildouts.
#[cfg(unix)]
#[test]
fn the_local_worker_user_and_the_stand_ins_are_written_where_the_worker_reads_them() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("demo");
    let me = Command::new("id").arg("-un").output().unwrap();
    let me = String::from_utf8_lossy(&me.stdout).trim().to_string();
    let m = master.to_str().unwrap();
    let out = oebb(&["create-master", "--no-probe", "--local-worker-user", &me, m]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let settings = std::fs::read_to_string(master.join("oebb.cfg")).unwrap();
    assert!(
        settings.contains(&format!("\nlocal-worker-user = {me}\n")),
        "{settings}"
    );
    let buildout = std::fs::read_to_string(master.join("buildouts/openerp-7.0.cfg")).unwrap();
    let dists = std::fs::canonicalize(&master)
        .unwrap()
        .join("buildouts/openerp-7.0-dists");
    assert!(
        buildout.contains(&format!("\nfind-links = {}\n", dists.display())),
        "{buildout}"
    );
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&master), 0o711);
    assert_eq!(mode(&master.join("oebb.cfg")), 0o600);
    let requires = dists.join("PyChart-1.39-py2.7.egg/EGG-INFO/requires.txt");
    assert_eq!(mode(&requires), 0o644);
    assert_eq!(mode(requires.parent().unwrap()), 0o755);
    let out = oebb(&["check", m]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

/// Run as root for another user, create-master warns when a directory above the master
/// directory is closed to that user (here the private temporary directory), and says how to
/// fix it; once it is open, nothing is said.
#[cfg(unix)]
#[test]
fn a_directory_closed_to_the_local_worker_user_is_told() {
    use std::os::unix::fs::PermissionsExt;
    let me = Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&me.stdout).trim() != "0" {
        // Only root runs the local worker as another user.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let closed = dir.path().join("closed");
    std::fs::create_dir(&closed).unwrap();
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
    let master = closed.join("demo");
    let args = [
        "create-master",
        "--no-probe",
        "--local-worker-user",
        "oebbtest",
    ];
    let out = oebb(&[&args[..], &[master.to_str().unwrap()]].concat());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!(
            "warning: oebbtest runs the local worker's commands but cannot enter {}",
            closed.display()
        )) && said.contains("chmod o+x"),
        "{said}"
    );
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o755)).unwrap();
    let open = closed.join("demo2");
    let out = oebb(&[&args[..], &[open.to_str().unwrap()]].concat());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(!said.contains("warning"), "{said}");
}
