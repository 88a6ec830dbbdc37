//! The recipe's step kinds beyond commands and file transfers, given explicitly: properties set
//! on the master, a directory brought back, a log judged by the analyzer, a missing log, a step
//! skipped because an earlier one found its work done.

mod common;

use std::collections::BTreeMap;

use common::databases::Db;
use common::tester::{MasterTester, WorkerSpec};
use oebb_master::{Results, Step, StepCommand};

const W: WorkerSpec = WorkerSpec {
    name: "ow",
    password: "pw",
    priority: 0.0,
};

fn analyze(logfile: &str) -> Step {
    Step::new(
        "analyze",
        StepCommand::Analyze {
            logfile: logfile.into(),
            exit_status_of: None,
            odoo_version: Some("16.0".into()),
            tests_requested: false,
            ignore_file: None,
            warnings_fail: false,
            known_noise: true,
        },
    )
    .always_run(true)
}

async fn master_side_steps_set_properties_upload_directories_and_judge_logs(db: Db) {
    let shared = tempfile::tempdir().unwrap();
    std::fs::write(shared.path().join("input-7.txt"), "seven\n").unwrap();
    let source = shared.path().join("input-%(prop:n)s.txt");
    let mut t = MasterTester::start(db, &[W], &["x", "nolog"], move |builder, _| {
        match builder {
            "x" => vec![
                Step::new(
                    "props",
                    StepCommand::SetProperties(BTreeMap::from([
                        ("n".to_string(), "7".to_string()),
                        ("db".to_string(), "oebb-%(prop:buildername)s".to_string()),
                    ])),
                ),
                Step::new(
                    "download",
                    StepCommand::Download {
                        source: source.clone(),
                        dest: "in.txt".into(),
                        mode: None,
                    },
                ),
                Step::script(
                    "write",
                    "mkdir -p html/sub && cat in.txt > html/sub/page.html && echo %(prop:db)s && \
                     printf '2024-01-01 10:00:00,000 1 INFO ? odoo: Odoo version 16.0 \\n' > odoo.log",
                )
                .log_file("odoo", "odoo.log"),
                Step::new(
                    "upload_html",
                    StepCommand::UploadDirectory {
                        source: "html".into(),
                        dest: "public_html/%(prop:buildnumber)s".into(),
                        url: None,
                    },
                ),
                analyze("odoo.log"),
            ],
            _ => vec![
                Step::script("odoo", "exit 3").halt_on_failure(true),
                analyze("never-written.log"),
            ],
        }
    })
    .await;
    t.connect_oebb_worker("ow", "pw").await;

    let (_, builds) = t.force_and_wait("x").await;
    let build = builds[0].id;
    let steps = t.steps(build).await;
    let results: Vec<_> = steps.iter().map(|s| (s.0.as_str(), s.1)).collect();
    assert_eq!(
        results,
        [
            ("props", Some(Results::Success)),
            ("download", Some(Results::Success)),
            ("write", Some(Results::Success)),
            ("upload_html", Some(Results::Success)),
            // A log without `Modules loaded.` is not a pass.
            ("analyze", Some(Results::Failure)),
        ],
        "{steps:?}"
    );
    let write = t.log(build, "write").await;
    assert!(write.contains("oebb-x"), "{write}");
    // The log file is kept as the step's log `odoo`, beside its `stdio`.
    let odoo = t.named_log(build, "write", "odoo").await;
    assert!(
        odoo.starts_with("2024-01-01 10:00:00,000 1 INFO ? odoo: Odoo version 16.0"),
        "{odoo}"
    );
    assert!(!write.contains("[odoo]"), "not copied into stdio: {write}");
    let step = t.store().find_step(build, "write").await.unwrap().unwrap();
    assert_eq!(t.store().log_names(step.id).await.unwrap(), ["odoo"]);
    let page = t.path(&format!("public_html/{build}/sub/page.html"));
    assert_eq!(std::fs::read_to_string(page).unwrap(), "seven\n");
    assert!(t.log(build, "analyze").await.contains("FAIL"));
    assert!(t.path(&format!("builds/{build}/analyze/odoo.log")).exists());

    let (request, builds) = t.force_and_wait("nolog").await;
    assert_eq!(request.result, Some(Results::Failure));
    let steps = t.steps(builds[0].id).await;
    assert_eq!(steps[1].1, Some(Results::Failure));
    assert_eq!(steps[1].2, "no log: the step writing it did not run");
}

crate::both_databases!(master_side_steps_set_properties_upload_directories_and_judge_logs);

/// `skip_if`: the step is skipped, with its reason, when the property an earlier step set is
/// not empty, and runs when it is; either way the answer is recorded as a property.
async fn a_step_is_skipped_when_an_earlier_step_found_its_work_done(db: Db) {
    let mut t = MasterTester::start(db, &[W], &["done", "todo"], |builder, _| {
        let found = if builder == "done" { "echo 12" } else { "true" };
        vec![
            Step::script("check", found).property_from_stdout("done_since"),
            Step::script("work", "echo working").skip_if(
                "done_since",
                "done in build %(prop:done_since)s",
                Some("work_skipped"),
            ),
            Step::script("after", "echo after"),
        ]
    })
    .await;
    t.connect_oebb_worker("ow", "pw").await;
    for (builder, skipped) in [("done", true), ("todo", false)] {
        let (request, builds) = t.force_and_wait(builder).await;
        assert_eq!(request.result, Some(Results::Success), "{builder}");
        let build = builds[0].id;
        let steps = t.steps(build).await;
        let work = &steps[1];
        assert_eq!(steps[2].1, Some(Results::Success), "{steps:?}");
        let log = t.log(build, "work").await;
        if skipped {
            assert_eq!(work.1, Some(Results::Skipped), "{steps:?}");
            assert_eq!(work.2, "done in build 12");
            assert!(
                log.contains("done in build 12") && !log.contains("working"),
                "{log}"
            );
        } else {
            assert_eq!(work.1, Some(Results::Success), "{steps:?}");
            assert!(log.contains("working"), "{log}");
        }
        let properties = t.store().build_properties(build).await.unwrap();
        let recorded = properties
            .iter()
            .find(|p| p.name == "work_skipped")
            .unwrap();
        assert_eq!(recorded.value_json, skipped.to_string());
    }
}

crate::both_databases!(a_step_is_skipped_when_an_earlier_step_found_its_work_done);
