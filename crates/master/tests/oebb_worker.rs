//! The same builds through the oebb worker (in this process) instead of the stock one.

mod common;

use common::databases::Db;

use common::tester::{MasterTester, WorkerSpec};
use oebb_master::{Results, Step, StepCommand};

const W: WorkerSpec = WorkerSpec {
    name: "ow",
    password: "pw",
    priority: 0.0,
};

async fn the_oebb_worker_runs_a_multi_step_build_with_a_50_mb_round_trip(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("down.bin");
    let back = dir.path().join("up.bin");
    let content: Vec<u8> = (0..50_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    std::fs::write(&source, &content).unwrap();
    let (s, b) = (source.clone(), back.clone());
    let mut t = MasterTester::start(
        db,
        &[W],
        &["x", "halting"],
        move |builder, _| match builder {
            "x" => vec![
                Step::script("revision", "echo r42").property_from_stdout("revision"),
                Step::new(
                    "download",
                    StepCommand::Download {
                        source: s.clone(),
                        dest: "big.bin".into(),
                        mode: None,
                    },
                )
                .halt_on_failure(true),
                Step::script("size", "echo %(prop:revision)s $(wc -c < big.bin)"),
                Step::new(
                    "upload",
                    StepCommand::Upload {
                        source: "big.bin".into(),
                        dest: b.clone(),
                    },
                ),
            ],
            _ => vec![
                Step::script("fails", "exit 2").halt_on_failure(true),
                Step::script("skipped", "true"),
            ],
        },
    )
    .await;
    t.connect_oebb_worker("ow", "pw").await;
    let (request, builds) = t.force_and_wait("x").await;
    let steps = t.steps(builds[0].id).await;
    assert_eq!(request.result, Some(Results::Success), "{steps:?}");
    assert_eq!(steps.len(), 4);
    assert!(t.log(builds[0].id, "size").await.contains("r42 50000000"));
    let returned = std::fs::read(&back).unwrap();
    assert!(
        returned == content,
        "the file came back different ({} bytes)",
        returned.len()
    );

    let (request, builds) = t.force_and_wait("halting").await;
    assert_eq!(request.result, Some(Results::Failure));
    assert_eq!(t.steps(builds[0].id).await.len(), 1);
}

async fn transfer_errors_are_an_exception_or_a_failure(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.bin");
    let back = dir.path().join("back.bin");
    let (m, b) = (missing.clone(), back.clone());
    let mut t = MasterTester::start(db, &[W], &["down", "up"], move |builder, _| match builder {
        // The master's own file is missing: the master broke, not the build.
        "down" => vec![
            Step::new(
                "download",
                StepCommand::Download {
                    source: m.clone(),
                    dest: "x".into(),
                    mode: None,
                },
            ),
            Step::script("after", "true"),
        ],
        // The worker's file is missing: the build failed.
        _ => vec![Step::new(
            "upload",
            StepCommand::Upload {
                source: "no-such-file".into(),
                dest: b.clone(),
            },
        )],
    })
    .await;
    t.connect_oebb_worker("ow", "pw").await;
    let (request, builds) = t.force_and_wait("down").await;
    assert_eq!(request.result, Some(Results::Exception));
    let steps = t.steps(builds[0].id).await;
    assert_eq!(steps.len(), 1, "an exception halts the build: {steps:?}");
    assert!(t
        .log(builds[0].id, "download")
        .await
        .contains("missing.bin"));

    let (request, builds) = t.force_and_wait("up").await;
    let steps = t.steps(builds[0].id).await;
    assert_eq!(request.result, Some(Results::Failure), "{steps:?}");
    assert!(!back.exists());
}

crate::both_databases!(
    the_oebb_worker_runs_a_multi_step_build_with_a_50_mb_round_trip,
    transfer_errors_are_an_exception_or_a_failure,
);
