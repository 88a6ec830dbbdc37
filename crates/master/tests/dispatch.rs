//! Dispatch: one build per builder and worker, `max_builds`, priority then least recently used,
//! and worker locks across builds.

mod common;

use common::databases::Db;

use std::time::Duration;

use common::tester::{MasterTester, WorkerSpec};
use oebb_master::store::BuildRecord;
use oebb_master::{BuildRequestId, LockAccess, Results, Step};

async fn wait_all(t: &MasterTester, ids: &[BuildRequestId]) -> Vec<BuildRecord> {
    let mut builds = Vec::new();
    for id in ids {
        let r = t
            .master
            .wait_for_request(*id, Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("request {id} did not complete"));
        assert_eq!(r.result, Some(Results::Success));
        builds.extend(t.store().builds_of_request(*id).await.unwrap());
    }
    builds
}

fn overlap(a: &BuildRecord, b: &BuildRecord) -> bool {
    a.started_at < b.finished_at.unwrap() && b.started_at < a.finished_at.unwrap()
}

async fn one_build_per_builder_and_worker_and_least_recently_used_first(db: Db) {
    let (a, b) = (
        WorkerSpec {
            name: "a",
            password: "pa",
            priority: 0.0,
        },
        WorkerSpec {
            name: "b",
            password: "pb",
            priority: 0.0,
        },
    );
    let mut t = MasterTester::start(db, &[a, b], &["x"], |_, _| {
        vec![Step::script("s", "sleep 0.3")]
    })
    .await;
    t.connect_oebb_worker("a", "pa").await;
    t.connect_oebb_worker("b", "pb").await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(t.master.force("x", "test").await.unwrap());
    }
    let builds = wait_all(&t, &ids).await;
    // Never two builds of x on one worker at once; the two workers take turns.
    for (i, x) in builds.iter().enumerate() {
        for y in &builds[i + 1..] {
            if x.worker == y.worker {
                assert!(!overlap(x, y), "{x:?} and {y:?} overlap on one worker");
            }
        }
    }
    let on_a = builds.iter().filter(|b| b.worker == "a").count();
    assert_eq!(on_a, 2, "both workers took builds: {builds:?}");

    // One request at a time, both workers free each time: the least recently used one gets
    // it, so they alternate.
    let mut workers = Vec::new();
    for _ in 0..4 {
        let id = t.master.force("x", "test").await.unwrap();
        let build = wait_all(&t, &[id]).await.remove(0);
        workers.push(build.worker);
    }
    assert!(
        workers == ["a", "b", "a", "b"] || workers == ["b", "a", "b", "a"],
        "{workers:?}"
    );
}

async fn max_builds_priority_and_exclusive_locks(db: Db) {
    let hi = WorkerSpec {
        name: "hi",
        password: "p",
        priority: 5.0,
    };
    let mut t = MasterTester::start(db, &[hi], &["x", "y", "z"], |builder, _| match builder {
        // x and y both take the worker's buildout lock: they never run at once.
        "x" | "y" => {
            vec![Step::script("locked", "sleep 0.3").lock(LockAccess::exclusive("buildout"))]
        }
        _ => vec![Step::script("free", "sleep 0.3")],
    })
    .await;
    // `hi` has no max_builds: x, y and z may all be dispatched at once.
    t.connect_oebb_worker("hi", "p").await;
    let ids = [
        t.master.force("x", "t").await.unwrap(),
        t.master.force("y", "t").await.unwrap(),
        t.master.force("z", "t").await.unwrap(),
    ];
    let builds = wait_all(&t, &ids).await;
    let steps_x = t.store().steps(builds[0].id).await.unwrap();
    let steps_y = t.store().steps(builds[1].id).await.unwrap();
    let (sx, sy) = (&steps_x[0], &steps_y[0]);
    // Each step sleeps 0.3 s holding the lock: serialized, they finish at least that far apart.
    let z = &builds[2];
    assert!(
        overlap(&builds[0], z) || overlap(&builds[1], z),
        "z ran alongside: {builds:?}"
    );
    let serial = sx.finished_at.unwrap() <= sy.finished_at.unwrap() - 250
        || sy.finished_at.unwrap() <= sx.finished_at.unwrap() - 250;
    assert!(
        serial,
        "the buildout lock let x and y run together: {sx:?} {sy:?}"
    );
}

async fn max_builds_limits_a_worker(db: Db) {
    let mut t = MasterTester::start_with_slaves(
        db,
        "[one]\npassword = p\nmax_builds = 1\n",
        &["x", "y"],
        |_, _| vec![Step::script("s", "sleep 0.3")],
    )
    .await;
    t.connect_oebb_worker("one", "p").await;
    let ids = [
        t.master.force("x", "t").await.unwrap(),
        t.master.force("y", "t").await.unwrap(),
    ];
    let builds = wait_all(&t, &ids).await;
    assert!(
        !overlap(&builds[0], &builds[1]),
        "max_builds = 1 let two builds run: {builds:?}"
    );
}

crate::both_databases!(
    one_build_per_builder_and_worker_and_least_recently_used_first,
    max_builds_priority_and_exclusive_locks,
    max_builds_limits_a_worker,
);
