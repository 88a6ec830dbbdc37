//! Workers (`slaves.cfg` / `workers.cfg`): one section per worker, in the capability form or the
//! 2012 `pg_version` form (seed-system §2).

use crate::error::{ConfigError, ErrorKind};
use crate::ini::{value_lines, Ini, Opt};
use crate::names::{name_problem, WorkerName};
use crate::requirement::is_capability_name;
use crate::version::Version;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The testing-database prefix when a worker sets no `db_prefix` (anybox used `openerp_buildbot`).
pub const DEFAULT_DB_PREFIX: &str = "oebb";

/// One declared version of a capability, with its `key=value` options.
#[derive(Clone, Debug, PartialEq)]
pub struct CapabilityVersion {
    /// The version; None for a marker capability (a name alone).
    pub version: Option<Version>,
    /// Options such as `port=5433`, `bin=/opt/pg/bin`.
    pub options: BTreeMap<String, String>,
    /// Line where it was declared.
    pub line: u32,
}

/// A worker and what it can do.
#[derive(Clone, Debug, PartialEq)]
pub struct Worker {
    /// Section name: the worker's login.
    pub name: WorkerName,
    /// The workers file.
    pub file: PathBuf,
    /// Line of the section header.
    pub line: u32,
    /// Password (`password`, or its alias `passwd`).
    pub password: String,
    /// Most builds at once (`max_builds`); None means no limit.
    pub max_builds: Option<u32>,
    /// Addresses told when the worker goes missing (`notify_on_missing`).
    pub notify_on_missing: Vec<String>,
    /// Seconds it may stay away before `notify_on_missing` is mailed (`missing_timeout`,
    /// Buildbot's name); None: `missing-timeout` of `[mail]`.
    pub missing_timeout: Option<u64>,
    /// Higher is preferred (`slave_priority`, `worker_priority` or `priority`; default 0).
    pub priority: f64,
    /// Capability names a buildout must require for this worker to build it.
    pub build_only_if_requires: Vec<String>,
    /// Prefix of testing databases (`db_prefix`).
    pub db_prefix: String,
    /// Capabilities by name, versions in declaration order.
    pub capabilities: BTreeMap<String, Vec<CapabilityVersion>>,
    /// Every option but the password and capabilities, as given: they flow into builds.
    pub properties: BTreeMap<String, String>,
}

impl Worker {
    /// Declared versions of capability `name` (empty when the worker lacks it).
    pub fn capability(&self, name: &str) -> &[CapabilityVersion] {
        self.capabilities.get(name).map_or(&[], Vec::as_slice)
    }
}

/// 2012-form options, turned into `postgresql` capability options.
const PG_2012: [(&str, &str); 7] = [
    ("pg_port", "port"),
    ("pg_host", "host"),
    ("pg_bin", "bin"),
    ("pg_lib", "lib"),
    ("pg_user", "user"),
    ("pg_passwd", "passwd"),
    ("pg_psql", "psql"),
];

/// Reads every worker of a parsed workers file, collecting every error.
pub fn parse_workers(ini: &Ini) -> (Vec<Worker>, Vec<ConfigError>) {
    let mut workers = Vec::new();
    let mut errors = Vec::new();
    for section in &ini.sections {
        let (resolved, errs) = ini.resolve(&[section]);
        errors.extend(errs);
        if let Some(worker) = parse_worker(
            ini,
            &section.name,
            section.line,
            &resolved.options,
            &mut errors,
        ) {
            workers.push(worker);
        }
    }
    (workers, errors)
}

fn parse_worker(
    ini: &Ini,
    name: &str,
    line: u32,
    options: &[Opt],
    errors: &mut Vec<ConfigError>,
) -> Option<Worker> {
    let path = &ini.path;
    let before = errors.len();
    let mut err = |line: u32, kind| errors.push(ConfigError::new(path, line, kind));
    if let Some(what) = name_problem(name) {
        err(
            line,
            ErrorKind::BadName {
                name: name.into(),
                what: what.into(),
            },
        );
    }
    let get = |key: &str| options.iter().find(|o| o.name == key);
    let password = match (get("password"), get("passwd")) {
        (Some(p), None) | (None, Some(p)) => p.value.clone(),
        (Some(_), Some(p)) => {
            err(
                p.line,
                ErrorKind::TwoPasswords {
                    worker: name.into(),
                },
            );
            String::new()
        }
        (None, None) => {
            err(
                line,
                ErrorKind::MissingPassword {
                    worker: name.into(),
                },
            );
            String::new()
        }
    };
    let mut worker = Worker {
        name: WorkerName::new(name),
        file: path.clone(),
        line,
        password,
        max_builds: None,
        notify_on_missing: Vec::new(),
        missing_timeout: None,
        priority: 0.0,
        build_only_if_requires: Vec::new(),
        db_prefix: DEFAULT_DB_PREFIX.to_string(),
        capabilities: BTreeMap::new(),
        properties: BTreeMap::new(),
    };
    for opt in options {
        let value = opt.value.trim();
        match opt.name.as_str() {
            "password" | "passwd" => continue,
            "capability" => {
                for text in value_lines(value) {
                    parse_capability_line(&mut worker, text, opt.line, &mut err);
                }
                continue;
            }
            "pg_version" => {
                match value.parse::<Version>() {
                    Ok(version) => {
                        let mut options = BTreeMap::new();
                        for (old, new) in PG_2012 {
                            if let Some(o) = get(old) {
                                options.insert(new.to_string(), o.value.trim().to_string());
                            }
                        }
                        add_capability(
                            &mut worker,
                            "postgresql",
                            Some(version),
                            options,
                            opt.line,
                            &mut err,
                        );
                    }
                    Err(e) => err(
                        opt.line,
                        ErrorKind::BadVersion {
                            text: value.into(),
                            reason: e.to_string(),
                        },
                    ),
                }
                continue;
            }
            n if PG_2012.iter().any(|(old, _)| *old == n) => {
                if get("pg_version").is_none() {
                    err(
                        opt.line,
                        ErrorKind::PgOptionWithoutVersion { option: n.into() },
                    );
                }
                continue;
            }
            "max_builds" => match value.parse::<u32>() {
                Ok(n) if n > 0 => worker.max_builds = Some(n),
                _ => err(
                    opt.line,
                    ErrorKind::BadNumber {
                        option: opt.name.clone(),
                        value: value.into(),
                        expected: "a whole number of at least 1".into(),
                    },
                ),
            },
            "notify_on_missing" => {
                for addr in value
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|a| !a.is_empty())
                {
                    if is_mail_address(addr) {
                        worker.notify_on_missing.push(addr.to_string());
                    } else {
                        err(
                            opt.line,
                            ErrorKind::BadMailAddress {
                                option: opt.name.clone(),
                                value: addr.into(),
                            },
                        );
                    }
                }
            }
            "missing_timeout" => match value.parse::<u64>() {
                Ok(n) => worker.missing_timeout = Some(n),
                _ => err(
                    opt.line,
                    ErrorKind::BadNumber {
                        option: opt.name.clone(),
                        value: value.into(),
                        expected: "a whole number of seconds".into(),
                    },
                ),
            },
            "slave_priority" | "worker_priority" | "priority" => match value.parse::<f64>() {
                Ok(p) if p.is_finite() => worker.priority = p,
                _ => err(
                    opt.line,
                    ErrorKind::BadNumber {
                        option: opt.name.clone(),
                        value: value.into(),
                        expected: "a number".into(),
                    },
                ),
            },
            "build-only-if-requires" => {
                worker.build_only_if_requires =
                    value.split_whitespace().map(String::from).collect();
            }
            "db_prefix" => {
                if value.is_empty() {
                    err(
                        opt.line,
                        ErrorKind::EmptyValue {
                            option: opt.name.clone(),
                            hint: "remove it to use the default, oebb".into(),
                        },
                    );
                } else {
                    worker.db_prefix = value.to_string();
                }
            }
            n if n.contains(char::is_whitespace) => {
                err(opt.line, ErrorKind::SpacedOptionName { name: n.into() });
                continue;
            }
            _ => {}
        }
        // Buildbot took these as worker settings, not properties.
        if !matches!(
            opt.name.as_str(),
            "max_builds" | "notify_on_missing" | "missing_timeout"
        ) {
            worker
                .properties
                .insert(opt.name.clone(), value.to_string());
        }
    }
    (errors.len() == before).then_some(worker)
}

fn is_mail_address(addr: &str) -> bool {
    match addr.split_once('@') {
        Some((user, host)) => !user.is_empty() && !host.is_empty() && !host.contains('@'),
        None => false,
    }
}

/// `NAME [VERSION] [KEY=VALUE …]`; a marker may carry options too (`wkhtmltopdf display=:1`).
fn parse_capability_line(
    worker: &mut Worker,
    text: &str,
    line: u32,
    err: &mut impl FnMut(u32, ErrorKind),
) {
    let mut toks = text.split_whitespace().peekable();
    let name = toks.next().unwrap_or_default();
    let bad = |reason: String| ErrorKind::BadCapability {
        text: text.into(),
        reason,
    };
    if !is_capability_name(name) {
        return err(
            line,
            bad(format!(
                "`{name}` is not a capability name (letters, digits, `-`, `_`, `.`)"
            )),
        );
    }
    let version = match toks.peek() {
        Some(tok) if !tok.contains('=') => {
            let tok = toks.next().unwrap_or_default();
            match tok.parse::<Version>() {
                Ok(v) => Some(v),
                Err(e) => return err(line, bad(format!("bad version `{tok}`: {e}"))),
            }
        }
        _ => None,
    };
    let mut options = BTreeMap::new();
    for tok in toks {
        match tok.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                if name == "python" {
                    if let Some(reason) = python_options::problem(k, v) {
                        return err(line, bad(reason));
                    }
                }
                options.insert(k.to_string(), v.to_string());
            }
            _ => return err(line, bad(format!("`{tok}` is not KEY=VALUE"))),
        }
    }
    add_capability(worker, name, version, options, line, err);
}

fn add_capability(
    worker: &mut Worker,
    name: &str,
    version: Option<Version>,
    options: BTreeMap<String, String>,
    line: u32,
    err: &mut impl FnMut(u32, ErrorKind),
) {
    let versions = worker.capabilities.entry(name.to_string()).or_default();
    if let Some(prev) = versions.iter().find(|c| c.version == version) {
        let shown = version
            .as_ref()
            .map_or_else(String::new, Version::to_string);
        return err(
            line,
            ErrorKind::DuplicateCapability {
                name: name.into(),
                version: shown,
                first_line: prev.line,
            },
        );
    }
    versions.push(CapabilityVersion {
        version,
        options,
        line,
    });
}

mod python_options;

#[cfg(test)]
mod tests;
