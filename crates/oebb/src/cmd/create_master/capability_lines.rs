//! The decision of `oebb create-master`: from what was found on this machine, the
//! `capability` lines of the local worker and the comments that say what was found and what is
//! missing (pure; the probes are in [`super::probe`]).

use super::machine::{major_version, Access, Cluster, Machine, Python};
use std::collections::BTreeMap;

/// The worker's capability lines and what to tell about them.
#[derive(Debug, Default, PartialEq)]
pub struct WorkerLines {
    /// One sentence per thing found.
    pub found: Vec<String>,
    /// One sentence per thing missing or needing the user, with what to do.
    pub missing: Vec<String>,
    /// `NAME VERSION KEY=VALUE…`, one per line.
    pub capabilities: Vec<String>,
}

/// Socket directories libpq uses when no host is given (Debian's build).
const DEFAULT_SOCKET_DIRS: [&str; 2] = ["/var/run/postgresql", "/run/postgresql"];

/// The version used when no PostgreSQL is found, so the example still has builders.
const PLACEHOLDER_POSTGRESQL: &str = "16";

/// Decides the lines: one `postgresql` per version (a worker offers one cluster per version),
/// one `python` per minor version.
pub fn worker_lines(machine: &Machine) -> WorkerLines {
    let mut lines = WorkerLines::default();
    postgresql_lines(machine, &mut lines);
    python_lines(machine, &mut lines);
    lines
}

/// The block written into slaves.cfg: comments, then the `capability` option.
pub fn render(lines: &WorkerLines) -> String {
    let mut out = String::from(
        "# Found on this machine by `oebb create-master` (edit the lines, or run it again in\n\
         # a new directory, when the machine changes):\n",
    );
    for sentence in &lines.found {
        out.push_str(&comment(&format!("- {sentence}")));
    }
    if !lines.missing.is_empty() {
        out.push_str("# Missing or to do:\n");
        for sentence in &lines.missing {
            out.push_str(&comment(&format!("- {sentence}")));
        }
    }
    for (i, line) in lines.capabilities.iter().enumerate() {
        let lead = if i == 0 {
            "capability = "
        } else {
            "             "
        };
        out.push_str(lead);
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `text` as comment lines of at most about 90 columns, continuation lines indented.
pub(super) fn comment(text: &str) -> String {
    let mut out = String::new();
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() > 2 && line.len() + 1 + word.len() > 90 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#  ");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

fn postgresql_lines(machine: &Machine, lines: &mut WorkerLines) {
    let mut by_version: BTreeMap<String, Vec<&Cluster>> = BTreeMap::new();
    for cluster in &machine.clusters {
        if !cluster.running {
            lines.found.push(format!(
                "PostgreSQL {} cluster{} on port {} ({}) is down.",
                cluster.version.as_deref().unwrap_or("(version unknown)"),
                cluster
                    .debian_name
                    .as_deref()
                    .map_or_else(String::new, |n| format!(" {n}")),
                cluster.port,
                cluster.found_by
            ));
            lines.missing.push(start_advice(cluster));
            continue;
        }
        match version_of(cluster) {
            Some(v) => by_version.entry(v).or_default().push(cluster),
            None => {
                lines.found.push(format!(
                    "a PostgreSQL server on port {} ({}), version unknown{}.",
                    cluster.port,
                    cluster.found_by,
                    access_text(cluster)
                ));
                lines.missing.push(format!(
                    "add `postgresql VERSION port={}` below for the server on port {} \
                     (`psql -p {} -c 'SHOW server_version'` tells its version).",
                    cluster.port, cluster.port, cluster.port
                ));
            }
        }
    }
    for (version, mut clusters) in by_version {
        clusters.sort_by_key(|c| preference(c));
        let chosen = clusters[0];
        lines
            .capabilities
            .push(capability(&version, chosen, machine));
        for cluster in &clusters {
            lines.found.push(format!(
                "PostgreSQL {} on port {} ({}){}.",
                shown_version(cluster, &version),
                cluster.port,
                cluster.found_by,
                access_text(cluster)
            ));
            access_advice(cluster, machine, &mut lines.missing);
        }
        for other in &clusters[1..] {
            lines.missing.push(format!(
                "the PostgreSQL {version} on port {} is not offered: a worker offers one \
                 cluster per version, here the one on port {}; give it to another worker \
                 (a section of its own, with its own `oebb worker`) if you want both.",
                other.port, chosen.port
            ));
        }
    }
    if !lines
        .capabilities
        .iter()
        .any(|l| l.starts_with("postgresql "))
    {
        placeholder(machine, lines);
    }
}

/// The version written for a running cluster: the server's own answer, else its files.
fn version_of(cluster: &Cluster) -> Option<String> {
    match &cluster.access {
        Access::Answered { server_version, .. } => major_version(server_version),
        _ => None,
    }
    .or_else(|| cluster.version.clone())
}

fn shown_version(cluster: &Cluster, major: &str) -> String {
    match &cluster.access {
        Access::Answered { server_version, .. } => server_version.clone(),
        _ => major.to_string(),
    }
}

/// Clusters that answered with a role that may create databases first, then Debian's default
/// port, then the lowest port.
fn preference(cluster: &Cluster) -> (u8, bool, u16) {
    let access = match cluster.access {
        Access::Answered { createdb: true, .. } => 0,
        Access::Answered { .. } => 1,
        _ => 2,
    };
    (access, cluster.port != 5432, cluster.port)
}

fn capability(version: &str, cluster: &Cluster, machine: &Machine) -> String {
    let mut line = format!("postgresql {version} port={}", cluster.port);
    let (host, user) = match &cluster.access {
        Access::Answered { host, user, .. } => (host.clone(), user.clone()),
        _ => (unanswered_host(cluster), None),
    };
    if let Some(host) = host.filter(|h| !DEFAULT_SOCKET_DIRS.contains(&h.as_str())) {
        line.push_str(&format!(" host={host}"));
    }
    let bin = cluster.bin.clone().or_else(|| {
        machine
            .installed_postgresql
            .iter()
            .find(|(v, _)| v == version)
            .map(|(_, b)| b.clone())
    });
    if let Some(bin) = bin {
        line.push_str(&format!(" bin={bin}"));
    }
    if let Some(user) = user {
        line.push_str(&format!(" user={user}"));
    }
    line
}

/// The socket directory, else the TCP address (a wildcard means this machine).
fn unanswered_host(cluster: &Cluster) -> Option<String> {
    cluster.socket_dir.clone().or_else(|| {
        cluster.tcp_host.as_deref().map(|h| match h {
            "*" | "0.0.0.0" | "" => "127.0.0.1".to_string(),
            "::" => "::1".to_string(),
            other => other.to_string(),
        })
    })
}

fn access_text(cluster: &Cluster) -> String {
    match &cluster.access {
        Access::Answered {
            host,
            user,
            createdb,
            ..
        } => format!(
            ": answered role {}{}{}",
            user.as_deref().unwrap_or("of this user's name"),
            host.as_deref()
                .map_or_else(String::new, |h| format!(" through {h}")),
            if *createdb {
                ", which may create databases"
            } else {
                ", which may not create databases"
            }
        ),
        Access::Refused(why) => format!(": did not answer without a password ({why})"),
        Access::NotAsked => ": not asked for its version (no psql found)".to_string(),
    }
}

fn access_advice(cluster: &Cluster, machine: &Machine, missing: &mut Vec<String>) {
    match &cluster.access {
        Access::Answered {
            user,
            createdb: false,
            ..
        } => {
            let role = user.as_deref().unwrap_or(machine.builds_user());
            missing.push(format!(
                "role {role} on port {} may not create databases, which every build does: \
                 as a superuser, `ALTER ROLE \"{role}\" CREATEDB;`.",
                cluster.port
            ));
        }
        Access::Refused(_) => missing.push(format!(
            "builds need a PostgreSQL role that may create databases without a password \
             prompt on port {}: for example `sudo -u postgres createuser --createdb {}` (the \
             worker's user name), or add `user=` and `passwd=` to its line.",
            cluster.port,
            machine.builds_user()
        )),
        Access::NotAsked => missing.push(format!(
            "install PostgreSQL's client (`psql`, Debian: postgresql-client) so builds can \
             create their databases on port {}.",
            cluster.port
        )),
        Access::Answered { .. } => {}
    }
}

fn start_advice(cluster: &Cluster) -> String {
    match (&cluster.debian_name, &cluster.version) {
        (Some(name), _) => format!(
            "start the cluster {name} if builds should use it (`pg_ctlcluster {} start`), \
             then run create-master again or add its line.",
            name.replace('/', " ")
        ),
        (None, Some(v)) => format!(
            "start the PostgreSQL {v} on port {} if builds should use it.",
            cluster.port
        ),
        (None, None) => format!(
            "start the PostgreSQL on port {} if builds should use it.",
            cluster.port
        ),
    }
}

/// No running cluster: a line for the highest installed version (else 16) on the default port,
/// so the example keeps its builders, and what to do.
fn placeholder(machine: &Machine, lines: &mut WorkerLines) {
    let installed = machine
        .installed_postgresql
        .iter()
        .filter_map(|(v, bin)| Some((v.parse::<f64>().ok()?, v, bin)))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let line = match installed {
        Some((_, v, bin)) => format!("postgresql {v} port=5432 bin={bin}"),
        None => format!("postgresql {PLACEHOLDER_POSTGRESQL} port=5432"),
    };
    lines.missing.push(format!(
        "no running PostgreSQL server was found, so the `{line}` line below is a guess: \
         install and start PostgreSQL (Debian: `apt-get install postgresql`), create a role \
         for the worker that may create databases, then fix that line."
    ));
    lines.capabilities.insert(0, line);
}

/// One line per minor version: the first found, or with a worker user (create-master as
/// root), the first that user could run.
fn python_lines(machine: &Machine, lines: &mut WorkerLines) {
    let mut by_minor: BTreeMap<(u32, u32), &Python> = BTreeMap::new();
    for python in &machine.pythons {
        let (major, minor, _) = python.version;
        if (major, minor) == (2, 7) || major == 3 {
            let kept = by_minor.entry((major, minor)).or_insert(python);
            if machine.worker_user.is_some() && !kept.open_to_others && python.open_to_others {
                *kept = python;
            }
        }
    }
    for ((major, minor), python) in &by_minor {
        let (_, _, micro) = python.version;
        lines
            .capabilities
            .push(format!("python {major}.{minor} bin={}", python.bin));
        let closed = match (&machine.worker_user, python.open_to_others) {
            (_, true) => String::new(),
            (None, false) => " (only this user can run it: a directory on its path is closed to \
                               others, so a worker running as another user needs a Python of \
                               its own)"
                .into(),
            (Some(worker), false) => {
                lines.missing.push(format!(
                    "{worker}, who runs the local worker's commands, cannot run this Python \
                     {major}.{minor} ({}; under /root, pyenv's are closed to other users): \
                     install one that user can run (e.g. `pyenv install` as {worker}, or a \
                     build under /opt), put it on PATH and run create-master again, or fix \
                     the `python {major}.{minor} bin=` line.",
                    python.bin
                ));
                format!(" ({worker} cannot run it)")
            }
        };
        lines.found.push(format!(
            "Python {major}.{minor}.{micro} at {} ({}){closed}.",
            python.bin, python.found_by
        ));
    }
    if !by_minor.contains_key(&(2, 7)) {
        lines.missing.push(
            "no Python 2.7: the OpenERP 7.0 example (and every Python 2 buildout) will not \
             build; install it with pyenv (`pyenv install 2.7.18`; Debian has no Python 2.7 \
             package), then run create-master again or add `python 2.7 bin=PATH` below."
                .into(),
        );
    }
    if !by_minor.keys().any(|(major, _)| *major == 3) {
        lines.missing.push(
            "no Python 3: the Odoo example will not build; install it (Debian: `apt-get \
             install python3 python3-venv`), then run create-master again or add `python 3.X \
             bin=PATH` below."
                .into(),
        );
    }
}

#[cfg(test)]
mod tests;
