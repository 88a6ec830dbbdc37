//! What create-master writes for what it found, without probing anything.

use super::*;

fn answered(port: u16, host: Option<&str>, user: Option<&str>, version: &str) -> Cluster {
    Cluster {
        port,
        version: Some(major_version(version).unwrap()),
        bin: Some("/usr/lib/postgresql/15/bin".into()),
        socket_dir: host.map(String::from),
        running: true,
        found_by: format!("process 1, data /srv/pg-{port}"),
        access: Access::Answered {
            host: host.map(String::from),
            user: user.map(String::from),
            server_version: version.into(),
            createdb: true,
        },
        ..Cluster::default()
    }
}

fn python(version: (u32, u32, u32), bin: &str) -> Python {
    Python {
        version,
        bin: bin.into(),
        found_by: "PATH".into(),
        open_to_others: true,
    }
}

fn machine(clusters: Vec<Cluster>, pythons: Vec<Python>) -> Machine {
    Machine {
        clusters,
        installed_postgresql: vec![("15".into(), "/usr/lib/postgresql/15/bin".into())],
        pythons,
        user: "ci".into(),
        worker_user: None,
    }
}

fn all_text(lines: &WorkerLines) -> String {
    format!("{}\n{}", lines.found.join("\n"), lines.missing.join("\n"))
}

#[test]
fn an_answering_cluster_and_two_pythons_give_their_lines() {
    let m = machine(
        vec![answered(
            25432,
            Some("/opt/pg-25432"),
            Some("oebbtest"),
            "15.4 (Debian 15.4-1)",
        )],
        vec![
            python((2, 7, 18), "/opt/py27/bin/python2.7"),
            python((3, 11, 7), "/usr/bin/python3.11"),
        ],
    );
    let lines = worker_lines(&m);
    assert_eq!(
        lines.capabilities,
        [
            "postgresql 15 port=25432 host=/opt/pg-25432 bin=/usr/lib/postgresql/15/bin user=oebbtest",
            "python 2.7 bin=/opt/py27/bin/python2.7",
            "python 3.11 bin=/usr/bin/python3.11",
        ]
    );
    assert!(lines.missing.is_empty(), "{:?}", lines.missing);
    let text = all_text(&lines);
    assert!(
        text.contains("PostgreSQL 15.4 (Debian 15.4-1) on port 25432"),
        "{text}"
    );
    assert!(
        text.contains("Python 2.7.18 at /opt/py27/bin/python2.7"),
        "{text}"
    );
}

#[test]
fn default_socket_directory_and_own_role_are_not_written() {
    let m = machine(
        vec![answered(5432, Some("/var/run/postgresql"), None, "16.2")],
        vec![python((3, 12, 1), "/usr/bin/python3.12")],
    );
    assert_eq!(
        worker_lines(&m).capabilities[0],
        "postgresql 16 port=5432 bin=/usr/lib/postgresql/15/bin"
    );
}

#[test]
fn one_cluster_per_version_the_answering_one_first_and_the_other_is_explained() {
    let mut refused = answered(5432, None, None, "15.1");
    refused.access = Access::Refused("role \"ci\" does not exist".into());
    let m = machine(
        vec![
            refused,
            answered(25433, Some("/tmp"), None, "15.4"),
            answered(25432, Some("/tmp"), None, "15.4"),
        ],
        vec![],
    );
    let lines = worker_lines(&m);
    let pg: Vec<&String> = lines
        .capabilities
        .iter()
        .filter(|l| l.starts_with("postgresql"))
        .collect();
    assert_eq!(pg.len(), 1, "{pg:?}");
    assert!(pg[0].starts_with("postgresql 15 port=25432 "), "{}", pg[0]);
    let text = all_text(&lines);
    assert!(
        text.contains("PostgreSQL 15 on port 25433 is not offered"),
        "{text}"
    );
    assert!(
        text.contains("PostgreSQL 15 on port 5432 is not offered"),
        "{text}"
    );
    assert!(
        text.contains("did not answer without a password (role \"ci\" does not exist)"),
        "{text}"
    );
    assert!(text.contains("createuser --createdb ci"), "{text}");
}

#[test]
fn two_versions_give_two_lines() {
    let m = machine(
        vec![
            answered(5432, None, None, "15.4"),
            answered(5433, None, None, "9.6.24"),
        ],
        vec![],
    );
    let lines = worker_lines(&m);
    assert!(lines.capabilities[0].starts_with("postgresql 15 port=5432"));
    assert!(lines.capabilities[1].starts_with("postgresql 9.6 port=5433"));
}

#[test]
fn a_refused_cluster_of_known_version_is_still_written_with_its_socket() {
    let mut c = answered(5440, Some("/srv/sock"), None, "14.1");
    c.access = Access::Refused("fe_sendauth: no password supplied".into());
    c.bin = None;
    let lines = worker_lines(&machine(vec![c], vec![]));
    assert_eq!(
        lines.capabilities[0],
        "postgresql 14 port=5440 host=/srv/sock"
    );
    assert!(all_text(&lines).contains("no password supplied"));
}

#[test]
fn a_role_that_may_not_create_databases_is_told() {
    let mut c = answered(5432, None, Some("bob"), "15.4");
    if let Access::Answered { createdb, .. } = &mut c.access {
        *createdb = false;
    }
    let text = all_text(&worker_lines(&machine(vec![c], vec![])));
    assert!(text.contains("ALTER ROLE \"bob\" CREATEDB"), "{text}");
}

#[test]
fn a_server_of_unknown_version_is_not_written_but_told() {
    let c = Cluster {
        port: 6000,
        socket_dir: Some("/tmp".into()),
        running: true,
        found_by: "socket /tmp/.s.PGSQL.6000".into(),
        access: Access::Refused("no".into()),
        ..Cluster::default()
    };
    let lines = worker_lines(&machine(vec![c], vec![]));
    assert!(!lines.capabilities.iter().any(|l| l.contains("6000")));
    assert!(all_text(&lines).contains("add `postgresql VERSION port=6000`"));
}

#[test]
fn nothing_running_gives_a_placeholder_of_the_installed_version_and_says_so() {
    let down = Cluster {
        port: 5432,
        version: Some("15".into()),
        debian_name: Some("15/main".into()),
        found_by: "pg_lsclusters 15/main".into(),
        ..Cluster::default()
    };
    let lines = worker_lines(&machine(vec![down], vec![]));
    assert_eq!(
        lines.capabilities,
        ["postgresql 15 port=5432 bin=/usr/lib/postgresql/15/bin"]
    );
    let text = all_text(&lines);
    assert!(text.contains("cluster 15/main on port 5432"), "{text}");
    assert!(text.contains("pg_ctlcluster 15 main start"), "{text}");
    assert!(
        text.contains("no running PostgreSQL server was found"),
        "{text}"
    );
    let mut bare = machine(vec![], vec![]);
    bare.installed_postgresql.clear();
    assert_eq!(
        worker_lines(&bare).capabilities,
        ["postgresql 16 port=5432"]
    );
}

#[test]
fn missing_pythons_are_told_with_how_to_install_them() {
    let lines = worker_lines(&machine(vec![], vec![]));
    let text = all_text(&lines);
    assert!(
        text.contains("no Python 2.7: the OpenERP 7.0 example"),
        "{text}"
    );
    assert!(text.contains("pyenv install 2.7.18"), "{text}");
    assert!(text.contains("no Python 3"), "{text}");
    let lines = worker_lines(&machine(vec![], vec![python((2, 7, 18), "/p/python2.7")]));
    let text = all_text(&lines);
    assert!(!text.contains("no Python 2.7"), "{text}");
    assert!(text.contains("no Python 3"), "{text}");
}

#[test]
fn one_python_line_per_minor_version_first_found_wins_others_ignored() {
    let lines = worker_lines(&machine(
        vec![],
        vec![
            python((3, 11, 7), "/pyenv/3.11.7/bin/python3"),
            python((3, 11, 2), "/usr/bin/python3.11"),
            python((2, 6, 9), "/old/python2.6"),
            python((3, 9, 18), "/usr/bin/python3.9"),
        ],
    ));
    let py: Vec<&String> = lines
        .capabilities
        .iter()
        .filter(|l| l.starts_with("python"))
        .collect();
    assert_eq!(
        py,
        [
            "python 3.9 bin=/usr/bin/python3.9",
            "python 3.11 bin=/pyenv/3.11.7/bin/python3"
        ]
    );
}

#[test]
fn a_python_closed_to_other_users_is_told() {
    let mut p = python((2, 7, 18), "/root/.pyenv/versions/2.7.18/bin/python2.7");
    p.open_to_others = false;
    let text = all_text(&worker_lines(&machine(vec![], vec![p])));
    assert!(text.contains("only this user can run it"), "{text}");
}

#[test]
fn with_a_worker_user_the_python_it_can_run_is_chosen_and_the_other_told() {
    let mut closed = python((2, 7, 18), "/root/.pyenv/versions/2.7.18/bin/python2.7");
    closed.open_to_others = false;
    let open = python((2, 7, 18), "/opt/python-2.7.18/bin/python2.7");
    let mut m = machine(vec![], vec![closed.clone(), open]);
    m.worker_user = Some("oebb".into());
    let lines = worker_lines(&m);
    assert!(
        lines
            .capabilities
            .contains(&"python 2.7 bin=/opt/python-2.7.18/bin/python2.7".to_string()),
        "{lines:?}"
    );
    // Only that one closed: it is written, and what to do is told.
    let mut m = machine(vec![], vec![closed]);
    m.worker_user = Some("oebb".into());
    let text = all_text(&worker_lines(&m));
    assert!(
        text.contains("oebb, who runs the local worker's commands, cannot run"),
        "{text}"
    );
    assert!(text.contains("(oebb cannot run it)"), "{text}");
}

#[test]
fn with_a_worker_user_the_role_advice_names_it() {
    let mut c = answered(5432, None, None, "15.4");
    c.access = Access::Refused("fe_sendauth: no password supplied".into());
    let mut m = machine(vec![c], vec![]);
    m.worker_user = Some("oebb".into());
    let text = all_text(&worker_lines(&m));
    assert!(text.contains("createuser --createdb oebb"), "{text}");
}

#[test]
fn rendered_block_is_comments_then_one_capability_option() {
    let m = machine(
        vec![answered(5432, None, None, "15.4")],
        vec![python((3, 11, 7), "/usr/bin/python3.11")],
    );
    let block = render(&worker_lines(&m));
    let (comments, option): (Vec<&str>, Vec<&str>) =
        block.lines().partition(|l| l.starts_with('#'));
    assert!(comments.iter().all(|l| l.len() <= 100), "{block}");
    assert_eq!(
        option,
        [
            "capability = postgresql 15 port=5432 bin=/usr/lib/postgresql/15/bin",
            "             python 3.11 bin=/usr/bin/python3.11",
        ]
    );
    assert!(
        block.contains("# Missing or to do:\n# - no Python 2.7"),
        "{block}"
    );
}
