//! Auto-watch: the live sources of a buildout's Odoo part, read from its configuration as the
//! build used it: a standalone buildout's files in the master directory, a VCS buildout's
//! files in the master's mirror of its repository at the revision the build checked out
//! (`got_revision`), or the branch's head when the build did not say. Reads are bounded: at
//! most `buildout_cfg::MAX_FILES` files of at most 16 MiB each, each client within a timeout.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use oebb_config::buildout::Watch;
use oebb_config::watching::Repository;
use oebb_config::{Buildout, BuildoutSource, MasterConfig};
use oebb_recipe::live_sources::live_sources;

use super::pollers::mirror_of;
use super::vcs::read_file;

/// The buildout's configuration file inside its repository, and the repository's URL.
fn in_repository(buildout: &Buildout) -> Option<(String, &str)> {
    let join = |subdir: &Option<String>, config: &str| match subdir {
        Some(d) => format!("{}/{config}", d.trim_matches('/')),
        None => config.to_string(),
    };
    match buildout.source.as_ref()? {
        BuildoutSource::Git {
            url,
            config,
            subdir,
            ..
        } => Some((join(subdir, config), url)),
        BuildoutSource::Bzr {
            url,
            config,
            subdir,
        } => Some((join(subdir, config), url)),
        BuildoutSource::Hg { url, config, .. } => Some((config.clone(), url)),
        _ => None,
    }
}

/// Whether auto-watch reads this buildout from a repository after its builds.
pub fn reads_from_repository(buildout: &Buildout) -> bool {
    buildout.auto_watch && in_repository(buildout).is_some()
}

/// The live sources of every standalone buildout of `config`, by buildout name, read from
/// the master directory: file reads, so a reconfig does them off the scheduler loop.
pub type StandaloneWatches = Vec<(String, Vec<Watch>)>;

/// Reads the [`StandaloneWatches`] of `config`.
pub fn standalone_all(config: &MasterConfig) -> StandaloneWatches {
    config
        .buildouts
        .iter()
        .filter_map(|b| Some((b.name.clone(), standalone(b)?)))
        .collect()
}

/// The live sources of a standalone buildout, from the master directory; None for others.
fn standalone(buildout: &Buildout) -> Option<Vec<Watch>> {
    if !buildout.auto_watch {
        return None;
    }
    let (watches, skipped) =
        oebb_recipe::standalone_live_sources(buildout, oebb_config::load::read_text)?;
    if !skipped.is_empty() {
        tracing::info!(
            buildout = buildout.name,
            ?skipped,
            "auto-watch: files not read"
        );
    }
    Some(watches)
}

/// The live sources of a VCS buildout at `revision` of the master's mirror of `repo`; None
/// when the mirror cannot give its configuration file.
pub async fn from_mirror(
    buildout: &Buildout,
    master_dir: &Path,
    repo: &Repository,
    revision: &str,
    timeout: Duration,
) -> Option<Vec<Watch>> {
    let (file, _) = in_repository(buildout)?;
    let mirror = mirror_of(master_dir, repo)?;
    // The resolver is pure and synchronous: run it, fetch what it missed, run it again,
    // until it misses nothing new (at most once per file it may read).
    let mut texts: BTreeMap<String, Option<String>> = BTreeMap::new();
    for _ in 0..=oebb_recipe::buildout_cfg::MAX_FILES {
        let mut missing = Vec::new();
        let (watches, _) = live_sources(&file, &buildout.part, |p| match texts.get(p) {
            Some(t) => t.clone(),
            None => {
                missing.push(p.to_string());
                None
            }
        });
        if missing.is_empty() {
            return texts
                .get(&file)
                .is_some_and(Option::is_some)
                .then_some(watches);
        }
        for p in missing {
            let text = read_file(repo.vcs, &mirror, revision, &p, timeout).await;
            texts.insert(p, text);
        }
    }
    None
}

/// The repository's own URL of a VCS buildout.
pub fn own_url(buildout: &Buildout) -> Option<&str> {
    in_repository(buildout).map(|(_, url)| url)
}
