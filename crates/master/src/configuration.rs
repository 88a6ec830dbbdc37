//! The running configuration: the snapshot every part of the master reads (the scheduler
//! swaps it at a reconfig, see `Scheduler::apply_configuration`), what a reconfig changed
//! (a pure comparison of two configurations), and the outcome of the last reconfig.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, RwLock};

use oebb_config::{Builder, Buildout, MasterConfig, Worker};
use serde::Serialize;

/// What a reconfig changed, by name. Settings that only a restart can change are listed in
/// `needs_restart` and not applied.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// Builders that are new.
    pub builders_added: Vec<String>,
    /// Builders gone: their queued requests stay stored and wait for the builder to come back
    /// (or to be cancelled); their running builds finish.
    pub builders_removed: Vec<String>,
    /// Builders whose buildout section, workers or properties changed: the next build uses
    /// the new ones.
    pub builders_changed: Vec<String>,
    /// Workers that are new (they may log in now).
    pub workers_added: Vec<String>,
    /// Workers gone: refused at login, disconnected once their running builds end.
    pub workers_removed: Vec<String>,
    /// Workers with new capabilities, `max_builds`, priority or properties.
    pub workers_changed: Vec<String>,
    /// Workers with a new password: disconnected once their running builds end; they log in
    /// again with it.
    pub workers_new_password: Vec<String>,
    /// Web users that are new.
    pub users_added: Vec<String>,
    /// Web users gone: their sessions end.
    pub users_removed: Vec<String>,
    /// Web users with a new password: their sessions end.
    pub users_new_password: Vec<String>,
    /// Settings of `oebb.cfg` applied now (`title`, `max-queued-requests`, …).
    pub settings_changed: Vec<String>,
    /// Settings of `oebb.cfg` that keep their running value until the master restarts.
    pub needs_restart: Vec<String>,
}

impl Changes {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        *self == Changes::default()
    }

    /// One line per kind of change, for the log and `oebb reconfig`.
    pub fn lines(&self) -> Vec<String> {
        let kinds: [(&str, &Vec<String>); 12] = [
            ("builders added", &self.builders_added),
            ("builders removed", &self.builders_removed),
            ("builders changed", &self.builders_changed),
            ("workers added", &self.workers_added),
            ("workers removed", &self.workers_removed),
            ("workers changed", &self.workers_changed),
            ("workers with a new password", &self.workers_new_password),
            ("users added", &self.users_added),
            ("users removed", &self.users_removed),
            ("users with a new password", &self.users_new_password),
            ("settings applied", &self.settings_changed),
            ("needs restart (kept until then)", &self.needs_restart),
        ];
        kinds
            .iter()
            .filter(|(_, names)| !names.is_empty())
            .map(|(what, names)| format!("{what}: {}", names.join(", ")))
            .collect()
    }
}

/// Added, removed and changed names between two maps.
fn compare<T>(
    old: &BTreeMap<&str, T>,
    new: &BTreeMap<&str, T>,
    same: impl Fn(&T, &T) -> bool,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let added = new.keys().filter(|k| !old.contains_key(*k));
    let removed = old.keys().filter(|k| !new.contains_key(*k));
    let changed = new
        .iter()
        .filter(|(k, n)| old.get(*k).is_some_and(|o| !same(o, n)));
    (
        added.map(|k| k.to_string()).collect(),
        removed.map(|k| k.to_string()).collect(),
        changed.map(|(k, _)| k.to_string()).collect(),
    )
}

/// A buildout section without where it is written, so moving it does not count as a change.
fn without_lines(b: &Buildout) -> Buildout {
    let mut b = b.clone();
    b.line = 0;
    b.option_lines.clear();
    b
}

/// A worker without where it is written and without its password (compared apart).
fn worker_without_location(w: &Worker) -> Worker {
    let mut w = w.clone();
    w.line = 0;
    w.password.clear();
    w
}

fn builders(config: &MasterConfig) -> BTreeMap<&str, &Builder> {
    let all = &config.matrix.builders;
    all.iter().map(|b| (b.name.as_str(), b)).collect()
}

fn workers(config: &MasterConfig) -> BTreeMap<&str, Worker> {
    let all = &config.workers;
    all.iter()
        .map(|w| (w.name.as_str(), worker_without_location(w)))
        .collect()
}

fn worker_passwords(config: &MasterConfig) -> BTreeMap<&str, &str> {
    let all = &config.workers;
    all.iter()
        .map(|w| (w.name.as_str(), w.password.as_str()))
        .collect()
}

fn users(config: &MasterConfig) -> BTreeMap<&str, &str> {
    // The first line of a name wins, as for the logins.
    let mut users = BTreeMap::new();
    for u in &config.settings.users {
        users.entry(u.name.as_str()).or_insert(u.password.as_str());
    }
    users
}

fn buildouts(config: &MasterConfig) -> HashMap<&str, Buildout> {
    let all = &config.buildouts;
    all.iter()
        .map(|b| (b.name.as_str(), without_lines(b)))
        .collect()
}

/// What changes from `old` to `new`.
pub fn changes(old: &MasterConfig, new: &MasterConfig) -> Changes {
    let mut c = Changes::default();
    let (old_buildouts, new_buildouts) = (buildouts(old), buildouts(new));
    let same_builder = |o: &&Builder, n: &&Builder| {
        o == n && old_buildouts.get(o.buildout.as_str()) == new_buildouts.get(n.buildout.as_str())
    };
    (c.builders_added, c.builders_removed, c.builders_changed) =
        compare(&builders(old), &builders(new), same_builder);
    (c.workers_added, c.workers_removed, c.workers_changed) =
        compare(&workers(old), &workers(new), |o, n| o == n);
    let (old_passwords, new_passwords) = (worker_passwords(old), worker_passwords(new));
    (_, _, c.workers_new_password) = compare(&old_passwords, &new_passwords, |o, n| o == n);
    (c.users_added, c.users_removed, c.users_new_password) =
        compare(&users(old), &users(new), |o, n| o == n);
    settings_changes(old, new, &mut c);
    c
}

/// `[mail]`'s options of the mail task (relay, security, login, sender, missing timeout):
/// `None` without `[mail]`.
fn mail_transport(
    settings: &oebb_config::MasterSettings,
) -> Option<oebb_config::master_settings::MailSettings> {
    settings
        .mail
        .clone()
        .map(|mail| oebb_config::master_settings::MailSettings {
            rules: Vec::new(),
            ..mail
        })
}

/// The settings of `oebb.cfg` that changed, split into applied and needing a restart.
fn settings_changes(old: &MasterConfig, new: &MasterConfig, c: &mut Changes) {
    let (o, n) = (&old.settings, &new.settings);
    let restart = [
        ("web-address", o.web_address != n.web_address),
        ("worker-address", o.worker_address != n.worker_address),
        ("database", o.database != n.database),
        (
            "local-worker-user",
            o.local_worker_user != n.local_worker_user,
        ),
        // The mail task keeps the transport it started with (or is not running at all).
        ("[mail] transport", mail_transport(o) != mail_transport(n)),
    ];
    c.needs_restart = restart
        .iter()
        .filter(|(_, changed)| *changed)
        .map(|(name, _)| name.to_string())
        .collect();
    let applied = [
        ("title", o.title != n.title),
        ("public-url", o.public_url != n.public_url),
        (
            "max-queued-requests",
            o.max_queued_requests != n.max_queued_requests,
        ),
        ("manifests", old.manifest_files != new.manifest_files),
        ("workers", old.workers_file != new.workers_file),
        ("[watch]", o.watch != n.watch),
        ("[mail]", o.mail != n.mail),
    ];
    c.settings_changed = applied
        .iter()
        .filter(|(_, changed)| *changed)
        .map(|(name, _)| name.to_string())
        .collect();
}

/// How the last reconfig ended.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum Outcome {
    /// The new configuration runs.
    Applied {
        /// When (milliseconds since the epoch).
        at: i64,
        /// What changed.
        changes: Box<Changes>,
        /// The new configuration's warnings, as `oebb check` prints them.
        warnings: Vec<String>,
    },
    /// The configuration was refused; the running one stays.
    Refused {
        /// When (milliseconds since the epoch).
        at: i64,
        /// Every error, `FILE:LINE: what is wrong; what to do`.
        errors: Vec<String>,
    },
}

impl Outcome {
    /// Whether the new configuration was applied.
    pub fn applied(&self) -> bool {
        matches!(self, Outcome::Applied { .. })
    }

    /// What anyone may read of it (the `/about` page is public): an error's message may
    /// quote a line of the configuration, a password's included, so only where each error
    /// is (relative to the master directory `dir`) and how many; web users' names only as a
    /// count. The whole outcome goes to the log and to `oebb reconfig`.
    pub fn public(&self, dir: &Path) -> PublicOutcome {
        match self {
            Outcome::Applied { at, changes, .. } => {
                let mut shown = (**changes).clone();
                for names in [
                    &mut shown.users_added,
                    &mut shown.users_removed,
                    &mut shown.users_new_password,
                ] {
                    if !names.is_empty() {
                        *names = vec![format!("{} (names not shown)", names.len())];
                    }
                }
                PublicOutcome {
                    outcome: "applied",
                    at: *at,
                    lines: shown.lines(),
                    errors: 0,
                }
            }
            Outcome::Refused { at, errors } => PublicOutcome {
                outcome: "refused",
                at: *at,
                lines: errors.iter().map(|e| location(e, dir)).collect(),
                errors: errors.len(),
            },
        }
    }
}

/// A reconfig's outcome as the public pages show it (see [`Outcome::public`]).
#[derive(Clone, Debug, Serialize)]
pub struct PublicOutcome {
    /// `applied` or `refused`.
    pub outcome: &'static str,
    /// When (milliseconds since the epoch).
    pub at: i64,
    /// What changed, or where each error is (`FILE:LINE`).
    pub lines: Vec<String>,
    /// How many errors.
    pub errors: usize,
}

/// The `FILE:LINE` an error message starts with, the file relative to `dir`; the message
/// itself is left out.
fn location(error: &str, dir: &Path) -> String {
    let at = error
        .match_indices(": ")
        .map(|(i, _)| &error[..i])
        .find(|head| {
            head.rsplit_once(':').is_some_and(|(_, line)| {
                !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit())
            })
        });
    let Some(at) = at else {
        return "(no file given: `oebb check DIR` prints it)".to_string();
    };
    let prefix = format!("{}/", dir.display());
    at.strip_prefix(&prefix).unwrap_or(at).to_string()
}

/// The configuration the master runs now, and what was derived from it for the parts that
/// are not the scheduler.
#[derive(Debug)]
pub struct Running {
    /// The configuration.
    pub config: Arc<MasterConfig>,
    /// Password of each configured worker, for logins.
    pub worker_passwords: HashMap<String, String>,
    /// When it was loaded (milliseconds since the epoch).
    pub loaded_at: i64,
    /// How the last reconfig ended; `None` before the first.
    pub last_reconfig: Option<Outcome>,
}

impl Running {
    /// The snapshot of `config`, loaded now.
    pub fn new(config: Arc<MasterConfig>, last_reconfig: Option<Outcome>) -> Running {
        let worker_passwords = config
            .workers
            .iter()
            .map(|w| (w.name.as_str().to_string(), w.password.clone()))
            .collect();
        Running {
            config,
            worker_passwords,
            loaded_at: crate::store::now_millis(),
            last_reconfig,
        }
    }
}

/// The running configuration, shared: the scheduler replaces it, the web and the worker
/// listener read it (each read takes the whole snapshot, so a request never mixes two).
#[derive(Clone, Debug)]
pub struct CurrentConfig(Arc<RwLock<Arc<Running>>>);

impl CurrentConfig {
    /// Starts with `config`.
    pub fn new(config: &MasterConfig) -> CurrentConfig {
        let running = Running::new(Arc::new(config.clone()), None);
        CurrentConfig(Arc::new(RwLock::new(Arc::new(running))))
    }

    /// The snapshot now.
    pub fn get(&self) -> Arc<Running> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the snapshot.
    pub fn set(&self, running: Running) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(running);
    }

    /// Records the outcome of a reconfig, keeping the configuration.
    pub fn record(&self, outcome: Outcome) {
        let mut guard = self.0.write().unwrap_or_else(|e| e.into_inner());
        let now = &**guard;
        *guard = Arc::new(Running {
            config: now.config.clone(),
            worker_passwords: now.worker_passwords.clone(),
            loaded_at: now.loaded_at,
            last_reconfig: Some(outcome),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `files` into `dir` (replacing those of an earlier call) and loads it.
    fn load(dir: &std::path::Path, files: &[(&str, &str)]) -> MasterConfig {
        std::fs::create_dir_all(dir.join("buildouts")).unwrap();
        let _ = std::fs::remove_file(dir.join("oebb.cfg"));
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        oebb_config::load(dir, &Default::default()).unwrap()
    }

    const MANIFEST: &str = "buildouts/MANIFEST.cfg";

    #[test]
    fn a_reconfig_names_what_it_adds_removes_and_changes() {
        let dir = tempfile::tempdir().unwrap();
        let old = load(
            dir.path(),
            &[
                ("slaves.cfg", "[w1]\npassword = a\n\n[w2]\npassword = b\n"),
                (
                    MANIFEST,
                    "[one]\nbuildout = standalone x.cfg\n[two]\nbuildout = standalone x.cfg\n",
                ),
                ("oebb.cfg", "[master]\ntitle = old\n"),
            ],
        );
        let new = load(
            dir.path(),
            &[
                (
                    "slaves.cfg",
                    "[w2]\npassword = B\nmax_builds = 2\n\n[w3]\npassword = c\n",
                ),
                (
                    MANIFEST,
                    "# moved down a line\n[one]\nbuildout = standalone x.cfg\n\
                 [three]\nbuildout = standalone x.cfg\nbuild-category = c\n",
                ),
                (
                    "oebb.cfg",
                    "[master]\ntitle = new\nweb-address = 127.0.0.1:9\n",
                ),
            ],
        );
        let c = changes(&old, &new);
        assert_eq!(c.builders_added, ["three"]);
        assert_eq!(c.builders_removed, ["two"]);
        assert_eq!(c.builders_changed, ["one"], "its workers changed");
        assert_eq!(c.workers_added, ["w3"]);
        assert_eq!(c.workers_removed, ["w1"]);
        assert_eq!(c.workers_changed, ["w2"]);
        assert_eq!(c.workers_new_password, ["w2"]);
        assert_eq!(c.settings_changed, ["title"]);
        assert_eq!(c.needs_restart, ["web-address"]);
        assert!(changes(&new, &new).is_empty());
        let lines = c.lines();
        assert!(
            lines.contains(&"builders added: three".to_string()),
            "{lines:?}"
        );
        assert!(lines.contains(&"needs restart (kept until then): web-address".to_string()));
    }

    #[test]
    fn mail_rules_apply_and_its_transport_waits_for_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let files = |mail: &str| {
            [
                ("slaves.cfg", "[w]\npassword = a\n".to_string()),
                (MANIFEST, "[one]\nbuildout = standalone x.cfg\n".to_string()),
                ("oebb.cfg", format!("[master]\ntitle = t\n{mail}")),
            ]
        };
        let load_with = |mail: &str| {
            let files = files(mail);
            let refs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
            load(dir.path(), &refs)
        };
        let none = load_with("");
        let relay_a =
            load_with("[mail]\nfrom = ci@example.com\nrelay = a.example.com\nto = x@example.com\n");
        let rule_b =
            load_with("[mail]\nfrom = ci@example.com\nrelay = a.example.com\nto = y@example.com\n");
        let relay_b =
            load_with("[mail]\nfrom = ci@example.com\nrelay = b.example.com\nto = y@example.com\n");
        assert!(changes(&relay_a, &rule_b).needs_restart.is_empty());
        for (old, new) in [(&relay_a, &relay_b), (&none, &relay_a), (&relay_a, &none)] {
            assert_eq!(changes(old, new).needs_restart, ["[mail] transport"]);
        }
    }

    #[test]
    fn the_public_outcome_shows_where_errors_are_not_what_they_quote() {
        let refused = Outcome::Refused {
            at: 1,
            errors: vec![
                "/m/slaves.cfg:3: `password secret` is not an option; write `name = value`".into(),
                "/elsewhere/x.cfg:12: bad: value".into(),
                "no location here".into(),
            ],
        };
        let public = refused.public(Path::new("/m"));
        assert_eq!(public.errors, 3);
        assert_eq!(
            public.lines,
            [
                "slaves.cfg:3",
                "/elsewhere/x.cfg:12",
                "(no file given: `oebb check DIR` prints it)"
            ]
        );
        let changes = Changes {
            users_removed: vec!["alice".into(), "bob".into()],
            builders_added: vec!["b".into()],
            ..Changes::default()
        };
        let applied = Outcome::Applied {
            at: 2,
            changes: Box::new(changes),
            warnings: vec!["w".into()],
        };
        assert_eq!(
            applied.public(Path::new("/m")).lines,
            ["builders added: b", "users removed: 2 (names not shown)"]
        );
    }

    #[test]
    fn a_changed_buildout_section_changes_its_builders() {
        let dir = tempfile::tempdir().unwrap();
        let files = |above: &str, addons: &str| {
            let manifest =
                format!("{above}[one]\nbuildout = standalone x.cfg\nodoo-addons = {addons}\n");
            let workers = format!("{above}[w1]\npassword = a\n");
            load(
                dir.path(),
                &[("slaves.cfg", &workers), (MANIFEST, &manifest)],
            )
        };
        let c = changes(&files("", "a"), &files("", "a,b"));
        assert_eq!(c.builders_changed, ["one"]);
        assert!(c.builders_added.is_empty() && c.builders_removed.is_empty());
        let moved = changes(&files("", "a"), &files("# moved\n\n", "a"));
        assert!(
            moved.is_empty(),
            "moving sections changes nothing: {moved:?}"
        );
    }

    #[test]
    fn users_added_removed_and_with_a_new_password() {
        let hash = |s: &str| format!("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ${s}");
        let dir = tempfile::tempdir().unwrap();
        let users = |lines: &str| {
            load(
                dir.path(),
                &[
                    ("slaves.cfg", "[w1]\npassword = a\n"),
                    (MANIFEST, ""),
                    ("oebb.cfg", &format!("[users]\n{lines}")),
                ],
            )
        };
        let old = users(&format!(
            "alice = {}\nbob = {}\n",
            hash("AAAA"),
            hash("BBBB")
        ));
        let new = users(&format!(
            "bob = {}\ncarol = {}\n",
            hash("CCCC"),
            hash("DDDD")
        ));
        let c = changes(&old, &new);
        assert_eq!(c.users_added, ["carol"]);
        assert_eq!(c.users_removed, ["alice"]);
        assert_eq!(c.users_new_password, ["bob"]);
    }
}
