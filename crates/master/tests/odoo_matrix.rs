//! One buildout, two PostgreSQL clusters, one worker running two builds at once: the builders
//! of the two capability versions each use their own cluster, their bootstrap and buildout runs
//! never overlap (the worker's `buildout` lock), and the second buildout run takes every egg
//! from the worker's shared cache.
//!
//! Needs both test clusters: `OEBB_TEST_PG_URL` and `OEBB_TEST_PG2_URL` (scripts/test).

mod common;

use common::databases::Db;
use common::odoo::{self, Cluster, ODOO_BUILD_TIMEOUT};
use common::tester::MasterTester;
use oebb_master::{BuildId, Results};

/// The builders of `[matrix]`, `build-for = postgresql >= 14`: (builder, cluster).
fn builders() -> [(&'static str, Cluster); 2] {
    [
        ("matrix-pg14", Cluster::second()),
        ("matrix-pg15", Cluster::first()),
    ]
}

/// The master: worker `ow` runs two builds at once and has PostgreSQL 15 on the first
/// cluster and "14" on the second (both are the installed server; the version is what the
/// capability declares).
async fn master() -> MasterTester {
    let (pg15, pg14) = (Cluster::first(), Cluster::second());
    let mut t = MasterTester::start_with_recipe(Db::Sqlite, |dir| {
        std::fs::write(
            dir.join("slaves.cfg"),
            format!(
                "[ow]\npassword = pw\nmax_builds = 2\n\
                 capability = postgresql 15 {}\n    postgresql 14 {}\n",
                pg15.capability_options(),
                pg14.capability_options()
            ),
        )
        .unwrap();
        let source = dir.join("fake_odoo");
        odoo::copy_sources(&source);
        std::fs::create_dir_all(dir.join("buildouts")).unwrap();
        std::fs::write(
            dir.join("buildouts/buildout.cfg"),
            odoo::buildout_cfg(source.to_str().unwrap()),
        )
        .unwrap();
        std::fs::write(
            dir.join("buildouts/MANIFEST.cfg"),
            "[matrix]\nbuildout = standalone buildout.cfg\nbuild-for = postgresql >= 14\n\
             openerp-addons = passing\nodoo.version = 16.0\n",
        )
        .unwrap();
    })
    .await;
    t.connect_oebb_worker("ow", "pw").await;
    t
}

/// When a step held its locks: (acquired, released), ms since the epoch, from the lines the
/// runner writes in the step's log.
fn lock_interval(log: &str) -> (i64, i64) {
    let at = |marker: &str| -> i64 {
        let line = log
            .lines()
            .find(|l| l.starts_with("locks buildout (exclusive) ") && l.contains(marker))
            .unwrap_or_else(|| panic!("no `{marker}` line in the log:\n{log}"));
        let rest = &line[line.find(marker).unwrap() + marker.len()..];
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    (at(" acquired at "), at(" released at "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clusters_one_worker_one_buildout_at_a_time() {
    let t = master().await;
    // Trace databases of both builders on both clusters: a module traced where it does not
    // belong shows.
    for (_, cluster) in builders() {
        for (builder, _) in builders() {
            cluster.make_trace(&format!("oebb-{builder}"));
        }
    }

    // Both forced at once: the worker (max_builds 2) runs them side by side.
    let mut requests = Vec::new();
    for (builder, _) in builders() {
        requests.push(t.master.force(builder, "test").await.unwrap());
    }
    let mut builds: Vec<BuildId> = Vec::new();
    for (request, (builder, _)) in requests.into_iter().zip(builders()) {
        let (done, done_builds) = t.wait_for(request, ODOO_BUILD_TIMEOUT).await;
        let build = done_builds[0].id;
        assert_eq!(
            done.result,
            Some(Results::Success),
            "{builder}:\n{}",
            odoo::explain(&t, build).await
        );
        builds.push(build);
    }

    // Each builder's module landed in its own cluster, and only there.
    for (builder, cluster) in builders() {
        let db = format!("oebb-{builder}");
        assert_eq!(cluster.traced(&db), format!("{db}:passing"), "{builder}");
        let other = builders()
            .into_iter()
            .find(|(b, _)| *b != builder)
            .unwrap()
            .0;
        let other_db = format!("oebb-{other}");
        assert_eq!(
            cluster.traced(&other_db),
            "",
            "{other} used port {}",
            cluster.port
        );
    }

    // The two builds really ran at the same time, yet no two bootstrap or buildout runs
    // held the worker's buildout lock at once.
    let spans: Vec<(i64, i64)> = {
        let mut all = Vec::new();
        for build in &builds {
            let steps = t.store().steps(*build).await.unwrap();
            let (first, last) = (
                steps[0].started_at,
                steps.last().unwrap().finished_at.unwrap(),
            );
            all.push((first, last));
        }
        all
    };
    assert!(
        spans[0].0 < spans[1].1 && spans[1].0 < spans[0].1,
        "the builds did not overlap: {spans:?}"
    );
    let mut held = Vec::new();
    for build in &builds {
        for step in ["bootstrap", "buildout"] {
            let (from, to) = lock_interval(&t.log(*build, step).await);
            held.push((from, to, *build, step));
        }
    }
    held.sort();
    for pair in held.windows(2) {
        assert!(
            pair[0].1 <= pair[1].0,
            "buildout lock held twice at once: {:?} and {:?}",
            pair[0],
            pair[1]
        );
    }

    // The first buildout run fetched zc.recipe.egg into the worker's shared egg cache; the
    // second found every egg there and downloaded nothing.
    let buildout_runs: Vec<_> = held.iter().filter(|h| h.3 == "buildout").collect();
    let first = t.log(buildout_runs[0].2, "buildout").await;
    let second = t.log(buildout_runs[1].2, "buildout").await;
    assert!(
        first.contains("Getting distribution for 'zc.recipe.egg"),
        "the first run downloads: {first}"
    );
    for download in ["Getting distribution", "Fetching", "Downloading", "Got "] {
        assert!(
            !second.contains(download),
            "the second buildout run downloaded ({download}): {second}"
        );
    }
    // zc.buildout 5 and later keep eggs in a `v5` sub-directory of the egg directory.
    let eggs = t.scratch.path().join("oebb-ow-0/caches/eggs/v5");
    let cached: Vec<String> = std::fs::read_dir(&eggs)
        .unwrap_or_else(|e| panic!("{eggs:?}: {e}"))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        cached.iter().any(|e| e.starts_with("zc.recipe.egg")),
        "{eggs:?}: {cached:?}"
    );

    for (_, cluster) in builders() {
        for (builder, _) in builders() {
            cluster.drop_trace(&format!("oebb-{builder}"));
        }
    }
}
