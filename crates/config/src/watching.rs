//! What the master watches, derived from the configuration by one pure function
//! ([`plan`]): the repositories to poll (one per original URL across all buildouts) and, per
//! buildout, which changes start which builders after which tree-stable timer. The master calls
//! it at start, after each build that refreshes a buildout's auto-watched sources, and again on
//! a reconfiguration.
//!
//! Order and merge rules (seed-system §6.3), per URL, later wins: the buildout's auto-watched
//! live sources, its `watch` lines, its own repository. Unlike the original (§10.3), what the
//! user wrote in `watch` wins over what auto-watch found, and the buildout's own branch wins
//! over both, since it is the branch that is built.

use crate::buildout::{Vcs, Watch};
use crate::{BuilderName, MasterConfig};
use std::collections::{BTreeMap, BTreeSet};

/// Auto-watched live sources per buildout section, as last read from its configuration.
pub type AutoWatched = BTreeMap<String, Vec<Watch>>;

/// One repository to poll.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repository {
    /// Its VCS.
    pub vcs: Vcs,
    /// The URL as the configuration writes it: the key of the poller's state and of changes.
    pub url: String,
    /// The URL the poller fetches from, after the `url-rewrite` rules.
    pub fetch_url: String,
    /// Branches watched by some buildout (empty for bzr, whose URL is the branch).
    pub branches: BTreeSet<String>,
}

/// One buildout's scheduler: a change on one of `watches` starts `builders`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildoutSchedule {
    /// The buildout section.
    pub buildout: String,
    /// Its builders (possibly none: a watch-only section).
    pub builders: Vec<BuilderName>,
    /// Seconds without a newer change before the builds start.
    pub tree_stable_timer: u64,
    /// What it watches, merged per URL.
    pub watches: Vec<Watch>,
}

impl BuildoutSchedule {
    /// Whether a change on `url` (original form) and `branch` concerns this buildout.
    pub fn wants(&self, url: &str, branch: Option<&str>) -> bool {
        self.watches
            .iter()
            .any(|w| w.url == url && (w.vcs == Vcs::Bzr || w.branch.as_deref() == branch))
    }
}

/// Everything the pollers and schedulers of a master follow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchPlan {
    /// Repositories by original URL.
    pub repositories: BTreeMap<String, Repository>,
    /// Schedulers of the buildouts that watch something, in manifest order.
    pub schedules: Vec<BuildoutSchedule>,
}

impl WatchPlan {
    /// The schedulers a change on `url` / `branch` concerns.
    pub fn schedules_for<'a>(
        &'a self,
        url: &'a str,
        branch: Option<&'a str>,
    ) -> impl Iterator<Item = &'a BuildoutSchedule> + 'a {
        self.schedules.iter().filter(move |s| s.wants(url, branch))
    }
}

/// `url` through the `url-rewrite` rules, applied in order, each to the previous result.
pub fn rewrite(url: &str, rules: &[(String, String)]) -> String {
    let mut out = url.to_string();
    for (prefix, new) in rules {
        if let Some(rest) = out.strip_prefix(prefix.as_str()) {
            out = format!("{new}{rest}");
        }
    }
    out
}

/// What `buildout` watches, merged per URL (see the module's documentation).
pub fn buildout_watches(buildout: &crate::Buildout, auto: &AutoWatched) -> Vec<Watch> {
    let mut out: Vec<Watch> = Vec::new();
    let mut add = |w: &Watch| {
        out.retain(|o| o.url != w.url);
        out.push(w.clone());
    };
    if buildout.auto_watch {
        auto.get(&buildout.name)
            .into_iter()
            .flatten()
            .for_each(&mut add);
    }
    buildout.watched().iter().for_each(add);
    out
}

/// The watch plan of `config` with the auto-watched sources `auto`.
pub fn plan(config: &MasterConfig, auto: &AutoWatched) -> WatchPlan {
    let rules = &config.settings.watch.url_rewrites;
    let mut plan = WatchPlan::default();
    for buildout in &config.buildouts {
        let watches = buildout_watches(buildout, auto);
        if watches.is_empty() {
            continue;
        }
        for w in &watches {
            let repo = plan
                .repositories
                .entry(w.url.clone())
                .or_insert_with(|| Repository {
                    vcs: w.vcs,
                    url: w.url.clone(),
                    fetch_url: rewrite(&w.url, rules),
                    branches: BTreeSet::new(),
                });
            if let (Some(b), true) = (&w.branch, repo.vcs == w.vcs) {
                repo.branches.insert(b.clone());
            }
        }
        plan.schedules.push(BuildoutSchedule {
            buildout: buildout.name.clone(),
            builders: config
                .matrix
                .builders
                .iter()
                .filter(|b| b.buildout == buildout.name)
                .map(|b| b.name.clone())
                .collect(),
            tree_stable_timer: buildout
                .tree_stable_timer
                .unwrap_or(config.settings.watch.tree_stable_timer),
            watches,
        });
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(manifest: &str, oebb: &str) -> MasterConfig {
        let dir = std::env::temp_dir().join(format!(
            "oebb-watching-{}-{}",
            std::process::id(),
            manifest.len() + oebb.len()
        ));
        std::fs::create_dir_all(dir.join("buildouts")).unwrap();
        std::fs::write(dir.join("slaves.cfg"), "[w]\npassword = p\n").unwrap();
        std::fs::write(dir.join("buildouts/MANIFEST.cfg"), manifest).unwrap();
        std::fs::write(dir.join("buildouts/b.cfg"), "[buildout]\n").unwrap();
        std::fs::write(dir.join("oebb.cfg"), oebb).unwrap();
        let c = crate::load(&dir, &Default::default()).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        c
    }

    fn git(url: &str, branch: &str) -> Watch {
        Watch {
            vcs: Vcs::Git,
            url: url.into(),
            branch: Some(branch.into()),
        }
    }

    #[test]
    fn own_repository_beats_watch_lines_which_beat_auto_watch() {
        let c = config(
            "[a]\nbuildout = git https://x/a main buildout.cfg\nwatch = git https://x/a other\n  git https://x/addons 16.0\ntree-stable-timer = 5\n\
             [s]\nbuildout = standalone b.cfg\nauto-watch = false\n\
             [t]\nbuildout = standalone b.cfg\n",
            "[watch]\ntree-stable-timer = 30\nurl-rewrite = https://x/ file:///mirror/\n  file:///mirror/a file:///elsewhere/a\n",
        );
        let auto = AutoWatched::from([
            (
                "a".into(),
                vec![
                    git("https://x/addons", "17.0"),
                    git("https://x/odoo", "16.0"),
                ],
            ),
            ("s".into(), vec![git("https://x/ignored", "main")]),
            ("t".into(), vec![git("https://x/odoo", "17.0")]),
        ]);
        let p = plan(&c, &auto);
        let a = &p.schedules[0];
        assert_eq!(a.buildout, "a");
        assert_eq!(a.tree_stable_timer, 5);
        assert_eq!(
            a.watches,
            [
                git("https://x/odoo", "16.0"),
                git("https://x/addons", "16.0"),
                git("https://x/a", "main")
            ]
        );
        assert_eq!(p.schedules.len(), 2, "s watches nothing: force-only");
        assert_eq!(p.schedules[1].tree_stable_timer, 30);
        let odoo = &p.repositories["https://x/odoo"];
        assert_eq!(odoo.fetch_url, "file:///mirror/odoo");
        assert_eq!(
            odoo.branches,
            BTreeSet::from(["16.0".into(), "17.0".into()])
        );
        assert_eq!(
            p.repositories["https://x/a"].fetch_url,
            "file:///elsewhere/a"
        );
        assert!(!p.repositories.contains_key("https://x/ignored"));
        let starts: Vec<&str> = p
            .schedules_for("https://x/odoo", Some("17.0"))
            .map(|s| s.buildout.as_str())
            .collect();
        assert_eq!(starts, ["t"]);
        assert_eq!(p.schedules_for("https://x/a", Some("other")).count(), 0);
    }
}
