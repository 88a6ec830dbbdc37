//! A Buildbot `master.cfg` left in the master directory: `oebb check` says, at each setting's
//! line, which `oebb.cfg` option replaces it and what that option is now.

use std::process::Command;

fn oebb(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_oebb"))
        .args(args)
        .output()
        .unwrap()
}

const MASTER_CFG: &str = "\
c = BuildmasterConfig = {}
from anybox.buildbot.openerp import configure_from_buildouts
configure_from_buildouts(basedir, BuildmasterConfig)
c['slavePortnum'] = 9989
c['status'].append(html.WebStatus(http_port=8010))
";

#[test]
fn a_left_over_master_cfg_is_told_setting_by_setting() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("demo");
    let ms = m.to_str().unwrap();
    assert_eq!(
        oebb(&["create-master", "--no-probe", ms]).status.code(),
        Some(0)
    );
    let cfg = std::fs::read_to_string(m.join("oebb.cfg"))
        .unwrap()
        .replace(
            "worker-address = 0.0.0.0:9989",
            "worker-address = 0.0.0.0:19989",
        );
    std::fs::write(m.join("oebb.cfg"), cfg).unwrap();
    let out = oebb(&["check", ms]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{table}");
    assert!(
        !table.contains("master.cfg"),
        "no master.cfg, no word: {table}"
    );

    std::fs::write(m.join("master.cfg"), MASTER_CFG).unwrap();
    let out = oebb(&["check", ms]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "warnings only: {table}");
    let file = m.join("master.cfg").display().to_string();
    for expected in [
        format!("{file}:1: warning: master.cfg is Buildbot's and oebb does not read it"),
        format!(
            "{file}:4: warning: `c['slavePortnum'] = 9989` is not read: the worker port is \
             `worker-address` in [master] of oebb.cfg (now 0.0.0.0:19989)"
        ),
        format!(
            "{file}:5: warning: `c['status'].append(html.WebStatus(http_port=8010))` is not \
             read: the web pages are on `web-address` in [master] of oebb.cfg (now \
             127.0.0.1:8010)"
        ),
    ] {
        assert!(table.contains(&expected), "{expected}\nnot in:\n{table}");
    }
    let out = oebb(&["check", ms, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings = v["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
}
