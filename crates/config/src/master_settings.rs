//! Master settings (`oebb.cfg`): `[master]`, `[watch]`, `[users]`, `[mail]`, `[mail:NAME]`.

mod mail;

use crate::error::{ConfigError, ErrorKind};
use crate::ini::{value_lines, Ini, Opt};
use std::path::PathBuf;

pub use mail::{
    check_rules, is_mail_address, MailMode, MailRule, MailSecurity, MailSettings,
    DEFAULT_MISSING_TIMEOUT,
};

/// `[watch]`: polling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchSettings {
    /// Seconds between two polls of a repository (`poll-interval`, default 600).
    pub poll_interval: u64,
    /// Seconds without change before builds start (`tree-stable-timer`, default 600).
    pub tree_stable_timer: u64,
    /// `url-rewrite` lines `PREFIX NEW_PREFIX`, applied in order, each to the previous result.
    pub url_rewrites: Vec<(String, String)>,
    /// `hook-secret-file`: the file (relative to the master directory) holding the shared
    /// secret of the push hooks (`/hooks/github`, `/hooks/gitlab`, `/hooks/gitea`); without
    /// it the hooks are refused.
    pub hook_secret_file: Option<PathBuf>,
}

/// One web user (`[users]`: `name = ARGON2_HASH`, as `oebb passwd` writes it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Login.
    pub name: String,
    /// The password's argon2 hash in PHC form (`$argon2id$v=19$m=…,t=…,p=…$SALT$HASH`).
    pub password: String,
}

/// Whether `value` has the shape of an argon2 PHC string; the master checks the rest when a
/// user logs in.
pub fn is_argon2_hash(value: &str) -> bool {
    let parts: Vec<&str> = value.split('$').collect();
    parts.len() == 6
        && parts[0].is_empty()
        && matches!(parts[1], "argon2id" | "argon2i" | "argon2d")
        && parts[2].starts_with("v=")
        && parts[3].contains("m=")
        && parts[4..].iter().all(|p| !p.is_empty())
}

/// Everything `oebb.cfg` sets, with defaults for what it does not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MasterSettings {
    /// Web server address (`web-address`, default `127.0.0.1:8010`).
    pub web_address: String,
    /// Address workers connect to (`worker-address`, default `0.0.0.0:9989`).
    pub worker_address: String,
    /// State database URL (`database`, default `sqlite:state.sqlite` in the master directory).
    pub database: String,
    /// Title of the web pages (`title`, default `oebb`).
    pub title: String,
    /// Public URL of the web pages, for links in mails (`public-url`).
    pub public_url: Option<String>,
    /// Manifests, relative to the master directory (`manifests`, default `buildouts/MANIFEST.cfg`).
    pub manifests: Vec<PathBuf>,
    /// Workers file (`workers`, default `slaves.cfg`, else `workers.cfg`).
    pub workers: Option<PathBuf>,
    /// Most build requests one builder may have queued (`max-queued-requests`, default
    /// [`DEFAULT_MAX_QUEUED_REQUESTS`]); a force beyond is refused.
    pub max_queued_requests: usize,
    /// The user `oebb master DIR --local-worker` runs its local worker's commands as
    /// (`local-worker-user`; `--local-worker-user` wins): OpenERP and Odoo refuse root, so a
    /// master run as root needs one to build them. `oebb create-master` run as root writes it.
    pub local_worker_user: Option<String>,
    /// `[watch]`.
    pub watch: WatchSettings,
    /// `[users]`.
    pub users: Vec<User>,
    /// `[mail]`, when present.
    pub mail: Option<MailSettings>,
}

/// Queued build requests a builder may hold when `oebb.cfg` does not say.
pub const DEFAULT_MAX_QUEUED_REQUESTS: usize = 100;

impl Default for MasterSettings {
    fn default() -> Self {
        MasterSettings {
            web_address: "127.0.0.1:8010".into(),
            worker_address: "0.0.0.0:9989".into(),
            database: "sqlite:state.sqlite".into(),
            title: "oebb".into(),
            public_url: None,
            manifests: vec![PathBuf::from("buildouts/MANIFEST.cfg")],
            workers: None,
            max_queued_requests: DEFAULT_MAX_QUEUED_REQUESTS,
            local_worker_user: None,
            watch: WatchSettings {
                poll_interval: 600,
                tree_stable_timer: 600,
                url_rewrites: Vec::new(),
                hook_secret_file: None,
            },
            users: Vec::new(),
            mail: None,
        }
    }
}

const SECTIONS: &[(&str, &[&str])] = &[
    (
        "master",
        &[
            "web-address",
            "worker-address",
            "database",
            "title",
            "public-url",
            "manifests",
            "workers",
            "max-queued-requests",
            "local-worker-user",
        ],
    ),
    (
        "watch",
        &[
            "poll-interval",
            "tree-stable-timer",
            "url-rewrite",
            "hook-secret-file",
        ],
    ),
    ("users", &[]),
    // Checked by `mail`, which knows which options go where.
    ("mail", &[]),
];

/// Reads `oebb.cfg`, collecting every error; `[DEFAULT]` only feeds interpolation.
pub fn parse_master_settings(ini: &Ini) -> (MasterSettings, Vec<ConfigError>) {
    let mut s = MasterSettings::default();
    let mut errors = Vec::new();
    let valid_sections = SECTIONS
        .iter()
        .map(|(n, _)| format!("[{n}]"))
        .chain(["[mail:NAME]".to_string()])
        .collect::<Vec<_>>()
        .join(", ");
    let mut rules = Vec::new();
    for section in &ini.sections {
        if section.name == "mail" || section.name.starts_with("mail:") {
            mail_section(ini, section, &mut s, &mut rules, &mut errors);
            continue;
        }
        let Some((_, valid)) = SECTIONS.iter().find(|(n, _)| *n == section.name) else {
            errors.push(ConfigError::new(
                &ini.path,
                section.line,
                ErrorKind::UnknownSection {
                    name: section.name.clone(),
                    valid: valid_sections.clone(),
                },
            ));
            continue;
        };
        let (resolved, errs) = ini.resolve(&[section]);
        errors.extend(errs);
        let mut err = |line, kind| errors.push(ConfigError::new(&ini.path, line, kind));
        for opt in resolved.options.iter().filter(|o| !o.from_default) {
            if section.name == "users" {
                let password = opt.value.trim();
                if !is_argon2_hash(password) {
                    let dir = ini
                        .path
                        .parent()
                        .filter(|d| !d.as_os_str().is_empty())
                        .map_or_else(|| ".".to_string(), |d| d.display().to_string());
                    err(
                        opt.line,
                        ErrorKind::PlainPassword {
                            user: opt.name.clone(),
                            dir,
                        },
                    );
                    continue;
                }
                s.users.push(User {
                    name: opt.name.clone(),
                    password: password.into(),
                });
                continue;
            }
            if !valid.contains(&opt.name.as_str()) {
                err(
                    opt.line,
                    ErrorKind::UnknownOption {
                        name: opt.name.clone(),
                        section: section.name.clone(),
                        valid: valid.join(", "),
                    },
                );
                continue;
            }
            match section.name.as_str() {
                "master" => master_option(&mut s, opt, &mut err),
                "watch" => watch_option(&mut s.watch, opt, &mut err),
                _ => {}
            }
        }
    }
    match &mut s.mail {
        Some(mail) => mail.rules.extend(rules),
        None => errors.extend(rules.iter().map(|r| {
            let name = r.name.clone();
            ConfigError::new(&ini.path, r.line, ErrorKind::MailRuleWithoutMail { name })
        })),
    }
    (s, errors)
}

/// `[mail]` (the relay and its rule) or `[mail:NAME]` (one more rule, kept in `rules`).
fn mail_section(
    ini: &Ini,
    section: &crate::ini::Section,
    s: &mut MasterSettings,
    rules: &mut Vec<MailRule>,
    errors: &mut Vec<ConfigError>,
) {
    let (resolved, errs) = ini.resolve(&[section]);
    errors.extend(errs);
    let mut err = |line, kind| errors.push(ConfigError::new(&ini.path, line, kind));
    let name = section.name.strip_prefix("mail:").map(str::trim);
    let mut valid: Vec<&str> = mail::RULE_OPTIONS.to_vec();
    if name.is_none() {
        valid.splice(0..0, mail::TRANSPORT_OPTIONS.iter().copied());
    }
    for opt in resolved.options.iter().filter(|o| !o.from_default) {
        if !valid.contains(&opt.name.as_str()) {
            let kind = ErrorKind::UnknownOption {
                name: opt.name.clone(),
                section: section.name.clone(),
                valid: valid.join(", "),
            };
            err(opt.line, kind);
        }
    }
    match name {
        None => s.mail = Some(mail::transport(&resolved.options, section.line, &mut err)),
        Some("") => err(
            section.line,
            ErrorKind::EmptyValue {
                option: "[mail:NAME]".into(),
                hint: "name the rule, e.g. [mail:team-a]".into(),
            },
        ),
        Some(n) => rules.push(mail::rule(n, &resolved.options, section.line, &mut err)),
    }
}

fn bad(opt: &Opt, reason: &str) -> ErrorKind {
    ErrorKind::BadSetting {
        option: opt.name.clone(),
        value: opt.value.trim().into(),
        reason: reason.into(),
    }
}

/// `host:port` with a numeric port.
fn is_address(v: &str) -> bool {
    v.rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}

fn master_option(s: &mut MasterSettings, opt: &Opt, err: &mut impl FnMut(u32, ErrorKind)) {
    let v = opt.value.trim();
    match opt.name.as_str() {
        "web-address" | "worker-address" if !is_address(v) => {
            err(opt.line, bad(opt, "write HOST:PORT, e.g. 127.0.0.1:8010"))
        }
        "web-address" => s.web_address = v.into(),
        "worker-address" => s.worker_address = v.into(),
        "database"
            if !(v.starts_with("sqlite:")
                || v.starts_with("postgresql://")
                || v.starts_with("postgres://")) =>
        {
            err(
                opt.line,
                bad(opt, "write sqlite:FILE or postgresql://USER@HOST/DB"),
            )
        }
        "database" => s.database = v.into(),
        "title" => s.title = v.into(),
        "public-url" if !(v.starts_with("http://") || v.starts_with("https://")) => {
            err(opt.line, bad(opt, "write an http:// or https:// URL"))
        }
        "public-url" => s.public_url = Some(v.into()),
        "manifests" => {
            s.manifests = value_lines(v)
                .flat_map(str::split_whitespace)
                .map(PathBuf::from)
                .collect();
            if s.manifests.is_empty() {
                err(opt.line, bad(opt, "name at least one manifest file"));
            }
        }
        "workers" if v.is_empty() => err(opt.line, bad(opt, "name the workers file")),
        "workers" => s.workers = Some(PathBuf::from(v)),
        "max-queued-requests" => match v.parse::<usize>() {
            Ok(n) if n > 0 => s.max_queued_requests = n,
            _ => err(
                opt.line,
                bad(opt, "write a whole number of requests, at least 1"),
            ),
        },
        "local-worker-user" if !is_user_name(v) => err(
            opt.line,
            bad(opt, "write the name of a user of this machine, e.g. oebb"),
        ),
        "local-worker-user" => s.local_worker_user = Some(v.into()),
        _ => {}
    }
}

/// A POSIX-portable user name (letters, digits, `.`, `_`, `-`, not starting with `-`).
fn is_user_name(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 64
        && !v.starts_with('-')
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn watch_option(w: &mut WatchSettings, opt: &Opt, err: &mut impl FnMut(u32, ErrorKind)) {
    let v = opt.value.trim();
    match opt.name.as_str() {
        "poll-interval" | "tree-stable-timer" => match v.parse::<u64>() {
            Ok(n) if opt.name == "poll-interval" && n > 0 => w.poll_interval = n,
            Ok(n) if opt.name == "tree-stable-timer" => w.tree_stable_timer = n,
            _ => err(
                opt.line,
                bad(
                    opt,
                    "write a whole number of seconds (poll-interval at least 1)",
                ),
            ),
        },
        "hook-secret-file" if v.is_empty() => err(
            opt.line,
            bad(opt, "name the file holding the hooks' secret"),
        ),
        "hook-secret-file" => w.hook_secret_file = Some(PathBuf::from(v)),
        "url-rewrite" => {
            for l in value_lines(v) {
                match l.split_whitespace().collect::<Vec<_>>().as_slice() {
                    [from, to] => w.url_rewrites.push((from.to_string(), to.to_string())),
                    _ => err(
                        opt.line,
                        ErrorKind::BadSetting {
                            option: "url-rewrite".into(),
                            value: l.into(),
                            reason: "write one `PREFIX NEW_PREFIX` rule per line".into(),
                        },
                    ),
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
