//! `[mail]` and `[mail:NAME]` of `oebb.cfg`: the SMTP relay, the sender, and the rules saying
//! which builds mail whom.
//!
//! `[mail]` holds the relay and the first rule; each `[mail:NAME]` is one more rule (for
//! another team, other builders). A password is never written in `oebb.cfg`: `password-file`
//! names a file holding it.

use std::path::{Path, PathBuf};

use crate::error::{ConfigError, ErrorKind};
use crate::ini::Opt;
use crate::matrix::Matrix;

/// How the connection to the relay is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailSecurity {
    /// Plain SMTP (a relay on the same machine or network).
    None,
    /// Plain SMTP upgraded with STARTTLS before anything else is sent; refused without it.
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

impl MailSecurity {
    /// The relay's port when `relay` names none: 465 for TLS, 25 otherwise.
    pub fn default_port(self) -> u16 {
        match self {
            MailSecurity::Tls => 465,
            MailSecurity::None | MailSecurity::Starttls => 25,
        }
    }

    /// The word of `security`.
    pub fn name(self) -> &'static str {
        match self {
            MailSecurity::None => "none",
            MailSecurity::Starttls => "starttls",
            MailSecurity::Tls => "tls",
        }
    }
}

/// Which finished builds a rule mails about (Buildbot's MailNotifier modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailMode {
    /// Every failed build.
    Failing,
    /// A build that breaks (fails after a pass, or a first build that fails) or is fixed.
    Problem,
    /// Every build whose result differs from the previous build's.
    Change,
    /// Every build with warnings or worse.
    Warnings,
    /// Every finished build.
    All,
}

impl MailMode {
    const NAMES: [(&'static str, MailMode); 5] = [
        ("failing", MailMode::Failing),
        ("problem", MailMode::Problem),
        ("change", MailMode::Change),
        ("warnings", MailMode::Warnings),
        ("all", MailMode::All),
    ];

    /// The mode of a `mode` value.
    pub fn parse(word: &str) -> Option<MailMode> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == word)
            .map(|(_, m)| *m)
    }

    /// Its word in `oebb.cfg`.
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("", |(n, _)| n)
    }
}

/// One rule: for these builders, on these results, mail these people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailRule {
    /// `NAME` of `[mail:NAME]`; empty for `[mail]`'s own rule.
    pub name: String,
    /// Line of the section header.
    pub line: u32,
    /// `mode` (default `problem`).
    pub mode: MailMode,
    /// Fixed addresses (`to`).
    pub to: Vec<String>,
    /// Builder names (`builders`); with `categories` both empty the rule covers every builder.
    pub builders: Vec<String>,
    /// Line of `builders`.
    pub builders_line: u32,
    /// Build categories (`categories`, the buildouts' `build-category`).
    pub categories: Vec<String>,
    /// Line of `categories`.
    pub categories_line: u32,
    /// Mail domains, lower case (`author-domains`): the authors of a build's changes whose
    /// address is in one of them are mailed too.
    pub author_domains: Vec<String>,
}

/// `[mail]`: the relay, the sender and the rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailSettings {
    /// The relay's host name or address (`relay` = `HOST[:PORT]`, default `localhost`).
    pub relay_host: String,
    /// Its port (default by `security`: 25, or 465 for `tls`).
    pub relay_port: u16,
    /// `security` = `none` | `starttls` | `tls` (`starttls = true` is the older spelling of
    /// `security = starttls`).
    pub security: MailSecurity,
    /// SMTP login (`username`).
    pub username: Option<String>,
    /// File holding the SMTP password (`password-file`, relative to the master directory).
    pub password_file: Option<PathBuf>,
    /// PEM file of certificate authorities trusted for the relay besides the system's
    /// (`ca-file`, relative to the master directory).
    pub ca_file: Option<PathBuf>,
    /// Sender address (`from`, required).
    pub from: String,
    /// Seconds a worker with `notify_on_missing` may stay away before its mail goes
    /// (`missing-timeout`, default 600; a worker's own `missing_timeout` wins).
    pub missing_timeout: u64,
    /// `[mail]`'s own rule first, then each `[mail:NAME]` in file order.
    pub rules: Vec<MailRule>,
}

/// Options of `[mail]` only.
pub(super) const TRANSPORT_OPTIONS: &[&str] = &[
    "relay",
    "security",
    "starttls",
    "username",
    "password-file",
    "password",
    "ca-file",
    "from",
    "missing-timeout",
];

/// Options of a rule: `[mail]` and `[mail:NAME]`.
pub(super) const RULE_OPTIONS: &[&str] =
    &["to", "mode", "builders", "categories", "author-domains"];

/// The default `missing-timeout`: ten minutes.
pub const DEFAULT_MISSING_TIMEOUT: u64 = 600;

type Err<'a> = dyn FnMut(u32, ErrorKind) + 'a;

fn bad(opt: &Opt, reason: &str) -> ErrorKind {
    ErrorKind::BadSetting {
        option: opt.name.clone(),
        value: opt.value.trim().into(),
        reason: reason.into(),
    }
}

fn own<'o>(opts: &'o [Opt], key: &str) -> Option<&'o Opt> {
    opts.iter().find(|o| o.name == key && !o.from_default)
}

/// Splits a list of addresses, names or domains written with spaces or commas.
fn words(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|a| !a.is_empty())
}

/// Whether `addr` has the shape `user@host`.
pub fn is_mail_address(addr: &str) -> bool {
    match addr.split_once('@') {
        Some((user, host)) => !user.is_empty() && !host.is_empty() && !host.contains('@'),
        None => false,
    }
}

/// Reads the rule options of a section (`name` empty for `[mail]`).
pub(super) fn rule(name: &str, opts: &[Opt], line: u32, err: &mut Err) -> MailRule {
    let mut rule = MailRule {
        name: name.to_string(),
        line,
        mode: MailMode::Problem,
        to: Vec::new(),
        builders: Vec::new(),
        builders_line: line,
        categories: Vec::new(),
        categories_line: line,
        author_domains: Vec::new(),
    };
    if let Some(o) = own(opts, "mode") {
        match MailMode::parse(o.value.trim()) {
            Some(m) => rule.mode = m,
            None => err(
                o.line,
                bad(o, "use one of failing, problem, change, warnings, all"),
            ),
        }
    }
    if let Some(o) = own(opts, "to") {
        for a in words(&o.value) {
            if is_mail_address(a) {
                rule.to.push(a.into());
            } else {
                let (option, value) = ("to".into(), a.into());
                err(o.line, ErrorKind::BadMailAddress { option, value });
            }
        }
    }
    if let Some(o) = own(opts, "builders") {
        rule.builders = words(&o.value).map(String::from).collect();
        rule.builders_line = o.line;
    }
    if let Some(o) = own(opts, "categories") {
        rule.categories = words(&o.value).map(String::from).collect();
        rule.categories_line = o.line;
    }
    if let Some(o) = own(opts, "author-domains") {
        for d in words(&o.value) {
            let d = d.trim_start_matches('@').to_ascii_lowercase();
            if d.is_empty() || d.contains('@') || !d.contains('.') && d != "localhost" {
                err(o.line, bad(o, "write mail domains such as example.com"));
            } else {
                rule.author_domains.push(d);
            }
        }
    }
    rule
}

/// Reads `[mail]`: the transport options and its own rule.
pub(super) fn transport(opts: &[Opt], line: u32, err: &mut Err) -> MailSettings {
    let text = |k: &str| own(opts, k).map(|o| o.value.trim().to_string());
    let mut mail = MailSettings {
        relay_host: "localhost".into(),
        relay_port: 0,
        security: MailSecurity::None,
        username: text("username").filter(|u| !u.is_empty()),
        password_file: text("password-file").map(PathBuf::from),
        ca_file: text("ca-file").map(PathBuf::from),
        from: text("from").unwrap_or_default(),
        missing_timeout: DEFAULT_MISSING_TIMEOUT,
        rules: vec![rule("", opts, line, err)],
    };
    sender(&mail.from, own(opts, "from"), line, err);
    mail.security = security(opts, err);
    let mut port = None;
    if let Some(o) = own(opts, "relay") {
        match split_relay(o.value.trim()) {
            Some((host, p)) => {
                mail.relay_host = host.to_string();
                port = p;
            }
            None => err(o.line, bad(o, "write HOST or HOST:PORT")),
        }
    }
    mail.relay_port = port.unwrap_or(mail.security.default_port());
    if let Some(o) = own(opts, "password") {
        err(o.line, ErrorKind::MailPasswordInClear);
    }
    for key in ["password-file", "ca-file"] {
        if let Some(o) = own(opts, key).filter(|o| o.value.trim().is_empty()) {
            err(
                o.line,
                bad(o, "name a file, relative to the master directory"),
            );
        }
    }
    if let (Some(o), None) = (own(opts, "password-file"), &mail.username) {
        err(
            o.line,
            bad(o, "a password needs a `username` to log in with"),
        );
    }
    if let Some(o) = own(opts, "missing-timeout") {
        match o.value.trim().parse::<u64>() {
            Ok(n) => mail.missing_timeout = n,
            Err(_) => err(o.line, bad(o, "write a whole number of seconds")),
        }
    }
    mail
}

fn sender(from: &str, opt: Option<&Opt>, line: u32, err: &mut Err) {
    let line = opt.map_or(line, |o| o.line);
    if from.is_empty() {
        let hint = "[mail] needs the sender address, e.g. `from = ci@example.com`".into();
        let option = "from".into();
        err(line, ErrorKind::EmptyValue { option, hint });
    } else if !is_mail_address(from) {
        let (option, value) = ("from".into(), from.into());
        err(line, ErrorKind::BadMailAddress { option, value });
    }
}

fn security(opts: &[Opt], err: &mut Err) -> MailSecurity {
    let starttls = own(opts, "starttls").and_then(|o| match o.value.trim() {
        "true" => Some(MailSecurity::Starttls),
        "false" => Some(MailSecurity::None),
        v => {
            let (option, value) = ("starttls".into(), v.into());
            err(o.line, ErrorKind::BadBool { option, value });
            None
        }
    });
    let Some(o) = own(opts, "security") else {
        return starttls.unwrap_or(MailSecurity::None);
    };
    let chosen = match o.value.trim() {
        "none" => MailSecurity::None,
        "starttls" => MailSecurity::Starttls,
        "tls" => MailSecurity::Tls,
        _ => {
            err(o.line, bad(o, "use one of none, starttls, tls"));
            return MailSecurity::None;
        }
    };
    if starttls.is_some_and(|s| s != chosen) {
        err(
            o.line,
            bad(o, "it contradicts `starttls`; keep only `security`"),
        );
    }
    chosen
}

/// `HOST`, `HOST:PORT`, `[V6]` or `[V6]:PORT`.
fn split_relay(relay: &str) -> Option<(&str, Option<u16>)> {
    if relay.is_empty() || relay.contains(char::is_whitespace) {
        return None;
    }
    if let Some(rest) = relay.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            p => Some((host, Some(p.strip_prefix(':')?.parse().ok()?))),
        };
    }
    match relay.split_once(':') {
        None => Some((relay, None)),
        Some((host, port)) if !host.is_empty() => Some((host, Some(port.parse().ok()?))),
        Some(_) => None,
    }
}

/// Every rule's builders and categories must exist: a misspelt name would silently mail
/// nobody.
pub fn check_rules(mail: &MailSettings, matrix: &Matrix, file: &Path) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for rule in &mail.rules {
        for b in &rule.builders {
            if !matrix.builders.iter().any(|x| x.name.as_str() == b) {
                errors.push(ConfigError::new(
                    file,
                    rule.builders_line,
                    ErrorKind::UnknownMailTarget {
                        what: "builder".into(),
                        name: b.clone(),
                        hint: "`oebb check DIR` lists the builders".into(),
                    },
                ));
            }
        }
        for c in &rule.categories {
            if !matrix.builders.iter().any(|x| &x.category == c) {
                errors.push(ConfigError::new(
                    file,
                    rule.categories_line,
                    ErrorKind::UnknownMailTarget {
                        what: "category".into(),
                        name: c.clone(),
                        hint: "categories are the buildouts' `build-category` values".into(),
                    },
                ));
            }
        }
    }
    errors
}
