//! Builds through a stock buildbot-worker, read as a user's story: force a builder, expect
//! these steps with these results.

mod common;

use common::databases::Db;

use std::time::Duration;

use common::tester::{MasterTester, WorkerSpec};
use oebb_master::{LockAccess, Results, Step, StepCommand};

const W: WorkerSpec = WorkerSpec {
    name: "w1",
    password: "pw1",
    priority: 0.0,
};

fn steps(builder: &str, _worker: &str) -> Vec<Step> {
    match builder {
        "green" => vec![
            Step::argv("hello", &["echo", "hello from %(prop:workername)s"]),
            Step::script("revision", "echo abc123").property_from_stdout("revision"),
            Step::script("use", "echo \"rev=%(prop:revision)s env=$REV\"")
                .env("REV", "%(prop:revision)s")
                .lock(LockAccess::exclusive("buildout")),
            Step::script("stderr", "echo oops >&2").lock(LockAccess::counting("db")),
        ],
        "halting" => vec![
            Step::script("ok", "true"),
            Step::script("fails", "echo failing; exit 4").halt_on_failure(true),
            Step::script("skipped", "echo must not run"),
            Step::script("cleanup", "echo cleaning").always_run(true),
        ],
        "warning" => vec![
            Step::script("soft", "exit 1")
                .flunk_on_failure(false)
                .warn_on_failure(true),
            Step::script("after", "echo still running"),
        ],
        "slow" => vec![
            Step::script("sleeps", "echo sleeping; sleep 30").timeout(Duration::from_secs(1)),
            Step::script("next", "echo next"),
        ],
        other => panic!("no steps for {other}"),
    }
}

async fn steps_run_in_order_with_buildbot_semantics(db: Db) {
    let builders = ["green", "halting", "warning", "slow"];
    let mut t = MasterTester::start(db, &[W], &builders, steps).await;
    t.connect_worker("w1", "pw1").await;

    // A multi-step build succeeds; a property set by one step is used by the next.
    let (request, builds) = t.force_and_wait("green").await;
    assert_eq!(request.result, Some(Results::Success), "{builds:?}");
    assert_eq!(builds.len(), 1);
    let build = builds[0].id;
    let names: Vec<_> = t
        .steps(build)
        .await
        .into_iter()
        .map(|s| (s.0, s.1))
        .collect();
    assert_eq!(
        names,
        [
            ("hello".to_string(), Some(Results::Success)),
            ("revision".to_string(), Some(Results::Success)),
            ("use".to_string(), Some(Results::Success)),
            ("stderr".to_string(), Some(Results::Success)),
        ]
    );
    assert!(t.log(build, "hello").await.contains("hello from w1"));
    let used = t.log(build, "use").await;
    assert!(used.contains("rev=abc123 env=abc123"), "{used}");
    assert!(t.log(build, "stderr").await.contains("oops"));
    let props = t.store().build_properties(build).await.unwrap();
    let revision = props.iter().find(|p| p.name == "revision").unwrap();
    assert_eq!(revision.value_json, "\"abc123\"");
    assert_eq!(revision.source, "revision");

    // haltOnFailure stops the build; alwaysRun steps still run.
    let (request, builds) = t.force_and_wait("halting").await;
    assert_eq!(request.result, Some(Results::Failure));
    let steps = t.steps(builds[0].id).await;
    let names: Vec<_> = steps.iter().map(|s| (s.0.as_str(), s.1)).collect();
    assert_eq!(
        names,
        [
            ("ok", Some(Results::Success)),
            ("fails", Some(Results::Failure)),
            ("cleanup", Some(Results::Success)),
        ]
    );
    assert_eq!(steps[1].2, "failed (exit code 4)");
    assert!(
        builds[0].state_text.contains("fails"),
        "{}",
        builds[0].state_text
    );

    // warnOnFailure without flunkOnFailure: warnings, and the build goes on.
    let (request, builds) = t.force_and_wait("warning").await;
    assert_eq!(request.result, Some(Results::Warnings));
    assert_eq!(t.steps(builds[0].id).await.len(), 2);

    // A step timeout interrupts the command and fails the step.
    let started = std::time::Instant::now();
    let (request, builds) = t.force_and_wait("slow").await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the timeout did not interrupt"
    );
    assert_eq!(request.result, Some(Results::Failure));
    let steps = t.steps(builds[0].id).await;
    assert_eq!(steps[0].1, Some(Results::Failure));
    assert_eq!(steps[0].2, "timed out");
    assert_eq!(
        steps[1].1,
        Some(Results::Success),
        "no halt: the next step ran"
    );

    // The JSON API lists the builds.
    let listed = t.store().builds(None, 10).await.unwrap();
    assert_eq!(listed.len(), 4);
}

async fn a_file_goes_down_and_comes_back_byte_identical(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("down.bin");
    let back = dir.path().join("back/up.bin");
    let content: Vec<u8> = (0..5_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&source, &content).unwrap();
    let (s, b) = (source.clone(), back.clone());
    let mut t = MasterTester::start(db, &[W], &["files"], move |_, _| {
        vec![
            Step::new(
                "download",
                StepCommand::Download {
                    source: s.clone(),
                    dest: "in/down.bin".into(),
                    mode: Some(0o640),
                },
            )
            .halt_on_failure(true),
            Step::script("copy", "cp in/down.bin up.bin && wc -c up.bin").halt_on_failure(true),
            Step::new(
                "upload",
                StepCommand::Upload {
                    source: "up.bin".into(),
                    dest: b.clone(),
                },
            ),
        ]
    })
    .await;
    t.connect_worker("w1", "pw1").await;
    let (request, builds) = t.force_and_wait("files").await;
    let steps = t.steps(builds[0].id).await;
    assert_eq!(request.result, Some(Results::Success), "{steps:?}");
    assert!(t.log(builds[0].id, "copy").await.contains("5000000 up.bin"));
    let returned = std::fs::read(&back).unwrap();
    assert!(
        returned == content,
        "the file came back different ({} bytes)",
        returned.len()
    );
}

async fn stopping_a_build_interrupts_its_command(db: Db) {
    let mut t = MasterTester::start(db, &[W], &["long"], |_, _| {
        vec![
            Step::script("long", "echo started; sleep 60"),
            Step::script("never", "echo never"),
        ]
    })
    .await;
    t.connect_worker("w1", "pw1").await;
    let id = t.master.force("long", "test").await.unwrap();
    let build = loop {
        let builds = t.store().builds_of_request(id).await.unwrap();
        if let Some(b) = builds.first() {
            if t.store().steps(b.id).await.unwrap().len() == 1
                && t.log(b.id, "long").await.contains("started")
            {
                break b.id;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert!(t.master.stop_build(build, "changed my mind").await);
    let request = t
        .master
        .wait_for_request(id, Duration::from_secs(30))
        .await
        .unwrap()
        .expect("the stopped build ended");
    assert_eq!(request.result, Some(Results::Cancelled));
    let steps = t.steps(build).await;
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(steps[0].1, Some(Results::Cancelled));
}

crate::both_databases!(
    steps_run_in_order_with_buildbot_semantics,
    a_file_goes_down_and_comes_back_byte_identical,
    stopping_a_build_interrupts_its_command,
);
