//! The probes of `oebb create-master` (I/O at the edge): PostgreSQL clusters from Debian's
//! `pg_lsclusters`, the running `postgres` processes and the sockets under `/var/run/postgresql`
//! and `/tmp`, the versions installed under `/usr/lib/postgresql`, each running server asked
//! `SHOW server_version` without a password; the Pythons in [`super::python_probe`].
//! Every program run is given [`PROBE_TIMEOUT`], and they run side by side.

use super::machine::{major_version, Access, Cluster, Machine};
use super::python_probe::pythons;
use oebb_worker::RunAs;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use wait_timeout::ChildExt;

/// Longest any probe may take (a server that does not answer, a hung interpreter).
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where servers put their sockets by default (Debian, then upstream's build).
const SOCKET_DIRS: [&str; 2] = ["/var/run/postgresql", "/tmp"];

/// Most bytes read of a probe's output (its answers are one line).
const MAX_OUTPUT: u64 = 64 * 1024;

/// Everything this machine has, found within a few seconds at worst; `worker` is the user the
/// local worker's commands will run as, when not this one (its role and Pythons are tried).
pub fn machine(worker: Option<&RunAs>) -> Machine {
    let user = run(Command::new("id").arg("-un"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_default();
    let (clusters, pythons) = std::thread::scope(|s| {
        let pythons = s.spawn(|| pythons(worker));
        let builds_user = worker.map_or(user.as_str(), |w| w.name.as_str());
        let clusters = clusters(builds_user, worker.is_some());
        (clusters, pythons.join().unwrap_or_default())
    });
    Machine {
        clusters,
        installed_postgresql: installed_postgresql(),
        pythons,
        user,
        worker_user: worker.map(|w| w.name.clone()),
    }
}

/// Runs `command` for at most [`PROBE_TIMEOUT`]: its stdout, or why not (stderr's first line).
pub(super) fn run(command: &mut Command) -> Result<String, String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let status = match child.wait_timeout(PROBE_TIMEOUT) {
        Ok(Some(status)) => status,
        Ok(None) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("no answer within {} s", PROBE_TIMEOUT.as_secs()));
        }
        Err(e) => return Err(e.to_string()),
    };
    let mut out = String::new();
    let mut err = String::new();
    if let Some(o) = child.stdout.take() {
        let _ = o.take(MAX_OUTPUT).read_to_string(&mut out);
    }
    if let Some(e) = child.stderr.take() {
        let _ = e.take(MAX_OUTPUT).read_to_string(&mut err);
    }
    if status.success() {
        Ok(out)
    } else {
        let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        Err(format!("{status}: {}", first.trim()))
    }
}

/// `user` is the builds' user; `explicit` when it is not this process's (then its role is
/// asked for by name, since libpq would name this process's user).
fn clusters(user: &str, explicit: bool) -> Vec<Cluster> {
    let mut by_port: BTreeMap<u16, Cluster> = BTreeMap::new();
    for cluster in processes() {
        by_port.insert(cluster.port, cluster);
    }
    for listed in lsclusters() {
        let entry = by_port.entry(listed.port).or_insert_with(|| listed.clone());
        entry.debian_name = listed.debian_name.clone();
        entry.version = entry.version.clone().or(listed.version);
        entry.bin = entry.bin.clone().or(listed.bin);
        entry.owner = entry.owner.clone().or(listed.owner);
        entry.running |= listed.running;
    }
    for (dir, port) in sockets() {
        let entry = by_port.entry(port).or_insert_with(|| Cluster {
            port,
            found_by: format!("socket {dir}/.s.PGSQL.{port}"),
            ..Cluster::default()
        });
        entry.running = true;
        entry.socket_dir.get_or_insert(dir);
    }
    let mut clusters: Vec<Cluster> = by_port.into_values().collect();
    std::thread::scope(|s| {
        for cluster in clusters.iter_mut().filter(|c| c.running) {
            s.spawn(move || cluster.access = ask(cluster, user, explicit));
        }
    });
    clusters
}

/// Running postmasters: `postgres -D DATA` processes, with what their `postmaster.pid` says
/// (readable by their owner and root only).
fn processes() -> Vec<Cluster> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if let Some(cluster) = postmaster(&pid, &entry.path(), &args) {
            found.push(cluster);
        }
    }
    found
}

fn postmaster(pid: &str, proc_dir: &Path, args: &[String]) -> Option<Cluster> {
    let program = Path::new(args.first()?);
    let name = program.file_name()?.to_str()?;
    if name != "postgres" && name != "postmaster" {
        return None;
    }
    let data = args
        .iter()
        .position(|a| a == "-D")
        .and_then(|i| args.get(i + 1))?;
    let data = match Path::new(data) {
        p if p.is_absolute() => p.to_path_buf(),
        p => std::fs::read_link(proc_dir.join("cwd")).ok()?.join(p),
    };
    // Bounded reads of regular files only: the directory comes from another user's process.
    let pid_file = read_text(&data.join("postmaster.pid")).unwrap_or_default();
    let pid_lines: Vec<&str> = pid_file.lines().collect();
    let port = pid_lines
        .get(3)
        .and_then(|p| p.trim().parse().ok())
        .or_else(|| flag_value(args, "-p")?.parse().ok())?;
    // Programs beside it are run (and written as bin=) only from a directory nobody but root
    // or this user could have put them in: any local user can start a process named postgres.
    let bin = program
        .parent()
        .filter(|_| program.is_absolute() && trusted(program))
        .map(|p| p.display().to_string());
    let version = read_text(&data.join("PG_VERSION"))
        .map(|v| v.trim().to_string())
        .filter(|v| major_version(v).is_some())
        .or_else(|| bin.as_ref().and_then(|_| program_version(program)));
    Some(Cluster {
        port,
        version,
        bin,
        socket_dir: pid_lines
            .get(4)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        tcp_host: pid_lines
            .get(5)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        running: true,
        found_by: format!("process {pid}, data {}", data.display()),
        debian_name: None,
        owner: owner_of(&data),
        access: Access::NotAsked,
    })
}

fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1).map(String::as_str)
}

/// `postgres --version` → `postgres (PostgreSQL) 15.4 …` → `15`.
fn program_version(program: &Path) -> Option<String> {
    let out = run(Command::new(program).arg("--version")).ok()?;
    major_version(out.split(')').nth(1)?.trim())
}

/// Debian's clusters, running or down: `VERSION NAME PORT STATUS OWNER DATA LOG`.
fn lsclusters() -> Vec<Cluster> {
    let Ok(out) = run(Command::new("pg_lsclusters").arg("-h")) else {
        return Vec::new();
    };
    out.lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (version, name, port, status) =
                (cols.first()?, cols.get(1)?, cols.get(2)?, cols.get(3)?);
            let bin = format!("/usr/lib/postgresql/{version}/bin");
            Some(Cluster {
                port: port.parse().ok()?,
                version: Some(version.to_string()),
                bin: trusted(Path::new(&bin)).then_some(bin),
                running: status.starts_with("online"),
                found_by: format!("pg_lsclusters {version}/{name}"),
                debian_name: Some(format!("{version}/{name}")),
                owner: cols.get(4).map(|o| o.to_string()),
                ..Cluster::default()
            })
        })
        .collect()
}

/// `(directory, port)` of every `.s.PGSQL.PORT` socket in the usual places.
fn sockets() -> Vec<(String, u16)> {
    let mut found = Vec::new();
    for dir in SOCKET_DIRS {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(port) = name.strip_prefix(".s.PGSQL.").and_then(|p| p.parse().ok()) {
                found.push((dir.to_string(), port));
            }
        }
    }
    found
}

/// Versions installed the Debian way, `/usr/lib/postgresql/VERSION/bin`.
fn installed_postgresql() -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") else {
        return Vec::new();
    };
    let mut found: Vec<(String, String)> = entries
        .flatten()
        .filter(|e| e.path().join("bin").is_dir())
        .map(|e| {
            let version = e.file_name().to_string_lossy().into_owned();
            (version, e.path().join("bin").display().to_string())
        })
        .collect();
    found.sort();
    found
}

/// Asks the server for its version and whether the role may create databases, as the builds'
/// user's role and then as the cluster owner's (never `postgres`, which OpenERP refuses),
/// through its socket, then its TCP address; never with a password prompt.
fn ask(cluster: &Cluster, user: &str, explicit: bool) -> Access {
    let psql = match cluster.bin.as_deref().map(|b| Path::new(b).join("psql")) {
        Some(p) if p.is_file() && trusted(&p) => p,
        _ => match which("psql") {
            Some(p) => p,
            None => return Access::NotAsked,
        },
    };
    let mut hosts: Vec<Option<String>> = Vec::new();
    match &cluster.socket_dir {
        Some(dir) => hosts.push(Some(dir.clone())),
        None => hosts.push(None),
    }
    if let Some(tcp) = &cluster.tcp_host {
        let tcp = match tcp.as_str() {
            "*" | "0.0.0.0" => "127.0.0.1".to_string(),
            "::" => "::1".to_string(),
            other => other.to_string(),
        };
        hosts.push(Some(tcp));
    }
    let mut roles: Vec<Option<String>> = vec![explicit.then(|| user.to_string())];
    if let Some(owner) = &cluster.owner {
        if owner != user && owner != "postgres" {
            roles.push(Some(owner.clone()));
        }
    }
    let mut last = String::from("no way to connect");
    for role in &roles {
        for host in &hosts {
            match query(&psql, cluster.port, host.as_deref(), role.as_deref()) {
                Ok((server_version, createdb)) => {
                    return Access::Answered {
                        host: host.clone(),
                        user: role.clone(),
                        server_version,
                        createdb,
                    }
                }
                Err(e) => last = e,
            }
        }
    }
    Access::Refused(last)
}

/// The user owning `data`, when it can be read.
fn owner_of(data: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata(data).ok()?.uid();
    let name = run(Command::new("id").arg("-nu").arg(uid.to_string())).ok()?;
    Some(name.trim().to_string()).filter(|n| !n.is_empty())
}

fn query(
    psql: &Path,
    port: u16,
    host: Option<&str>,
    role: Option<&str>,
) -> Result<(String, bool), String> {
    let mut command = Command::new(psql);
    command
        .args(["-X", "-w", "-A", "-t", "-q", "-d", "postgres"])
        .args(["-p", &port.to_string()])
        .args([
            "-c",
            "SELECT current_setting('server_version') || '|' || \
             (SELECT (rolcreatedb OR rolsuper)::text FROM pg_roles WHERE rolname = current_user)",
        ])
        .env("PGCONNECT_TIMEOUT", PROBE_TIMEOUT.as_secs().to_string());
    for var in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGPASSWORD",
        "PGDATABASE",
        "PGSERVICE",
    ] {
        command.env_remove(var);
    }
    if let Some(host) = host {
        command.args(["-h", host]);
    }
    if let Some(role) = role {
        command.args(["-U", role]);
    }
    let out = run(&mut command)?;
    let (version, createdb) = out
        .trim()
        .rsplit_once('|')
        .ok_or_else(|| format!("unexpected answer {out:?}"))?;
    Ok((version.to_string(), createdb == "true"))
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// A file of at most 16 MiB, only if it is a regular file (not a FIFO that never ends).
fn read_text(path: &Path) -> Option<String> {
    oebb_config::load::read_text(path)
}

/// Whether `path` and every directory above it belong to root or to this user and are not
/// writable by others: then nobody else could have put a program there.
fn trusted(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(me) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return false;
    };
    let Ok(real) = std::fs::canonicalize(path) else {
        return false;
    };
    real.ancestors().all(|p| {
        std::fs::metadata(p).is_ok_and(|m| (m.uid() == 0 || m.uid() == me) && m.mode() & 0o022 == 0)
    })
}

#[cfg(test)]
mod tests {
    use super::trusted;

    #[test]
    fn programs_are_trusted_only_where_nobody_else_could_write() {
        assert!(trusted(std::path::Path::new("/usr/bin")));
        // /tmp is writable by everyone: a program under it could be anyone's.
        let dir = tempfile::tempdir_in("/tmp").unwrap();
        let fake = dir.path().join("postgres");
        std::fs::write(&fake, "#!/bin/sh\n").unwrap();
        assert!(!trusted(&fake));
        assert!(!trusted(std::path::Path::new("/nonexistent/bin")));
    }
}
