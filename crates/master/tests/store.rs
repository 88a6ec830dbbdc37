//! The store on SQLite and, when configured, on PostgreSQL: the same calls, the same answers.

mod common;

use common::databases::test_databases;
use oebb_master::store::NewChange;
use oebb_master::{Results, Store};

async fn open(db: &common::databases::TestDatabase) -> Store {
    Store::open(&db.setting, db.dir.path())
        .await
        .unwrap_or_else(|e| panic!("{}: open {}: {e}", db.label, db.setting))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_request_lifecycle() {
    for db in test_databases().await {
        let store = open(&db).await;
        let change = store
            .add_change(&NewChange {
                repository: "https://example.invalid/repo".into(),
                revision: "abc".into(),
                ..NewChange::default()
            })
            .await
            .unwrap();
        let first = store.add_build_request("b1", "forced", None).await.unwrap();
        let second = store
            .add_build_request("b2", "change", Some(change))
            .await
            .unwrap();
        assert!(first < second, "{}", db.label);
        let queued = store.queued_build_requests().await.unwrap();
        assert_eq!(
            queued.iter().map(|r| r.id).collect::<Vec<_>>(),
            [first, second]
        );

        // A retried build puts its request back in the queue; a finished one completes it.
        let build = store.start_build(first, "b1", "w1").await.unwrap();
        assert_eq!(store.queued_build_requests().await.unwrap().len(), 1);
        store
            .finish_build(build, Results::Retry, "worker lost")
            .await
            .unwrap();
        assert_eq!(store.queued_build_requests().await.unwrap().len(), 2);
        let again = store.start_build(first, "b1", "w2").await.unwrap();
        let step = store.start_step(again, 0, "echo").await.unwrap();
        store
            .finish_step(step, Results::Success, "done")
            .await
            .unwrap();
        store
            .finish_build(again, Results::Success, "build successful")
            .await
            .unwrap();
        let request = store.build_request(first).await.unwrap().unwrap();
        assert_eq!(request.result, Some(Results::Success), "{}", db.label);
        assert!(request.complete_at.is_some() && request.claimed_by.is_none());
        let runs = store.builds_of_request(first).await.unwrap();
        assert_eq!(
            runs.iter()
                .map(|b| (b.worker.as_str(), b.result))
                .collect::<Vec<_>>(),
            [("w1", Some(Results::Retry)), ("w2", Some(Results::Success))]
        );
        let steps = store.steps(again).await.unwrap();
        assert_eq!(steps.len(), 1);
        assert_eq!(
            store.find_step(again, "echo").await.unwrap(),
            Some(steps[0].clone())
        );
        assert_eq!(
            store.find_step(again, "0").await.unwrap(),
            Some(steps[0].clone())
        );
        assert_eq!(store.builds(Some("b1"), 10).await.unwrap().len(), 2);
        assert_eq!(store.builds(Some("b2"), 10).await.unwrap().len(), 0);
        assert_eq!(store.builds(None, 1).await.unwrap()[0].id, again);

        store
            .set_build_property(again, "p", "\"1\"", "step")
            .await
            .unwrap();
        store
            .set_build_property(again, "p", "\"2\"", "step")
            .await
            .unwrap();
        let props = store.build_properties(again).await.unwrap();
        assert_eq!(props.len(), 1);
        assert_eq!(props[0].value_json, "\"2\"");
        store.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_builds_are_recovered_after_a_crash() {
    for db in test_databases().await {
        let store = open(&db).await;
        let request = store.add_build_request("b", "forced", None).await.unwrap();
        let build = store.start_build(request, "b", "w").await.unwrap();
        let step = store.start_step(build, 0, "long").await.unwrap();
        let connection = store
            .worker_connected("w", "127.0.0.1:1", "{}")
            .await
            .unwrap();
        assert_eq!(store.connected_workers().await.unwrap(), ["w"]);
        store.close().await;
        let _ = connection;

        // The master died: a new one opens the same database and recovers.
        let store = open(&db).await;
        assert_eq!(
            store.recover_interrupted().await.unwrap(),
            [build],
            "{}",
            db.label
        );
        assert!(store.connected_workers().await.unwrap().is_empty());
        let queued = store.queued_build_requests().await.unwrap();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].id, request);
        let stored = store.build(build).await.unwrap().unwrap();
        assert_eq!(stored.result, Some(Results::Retry));
        let steps = store.steps(build).await.unwrap();
        assert_eq!(steps[0].id, step);
        assert_eq!(steps[0].result, Some(Results::Exception));
        assert!(store.recover_interrupted().await.unwrap().is_empty());
        store.close().await;
    }
}

/// Deterministic bytes so the log can be checked without keeping a copy.
fn log_byte(i: usize) -> u8 {
    let line = i / 61;
    if i % 61 == 60 {
        b'\n'
    } else {
        b'a' + ((i * 7 + line) % 26) as u8
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_log_goes_in_and_comes_back_chunk_by_chunk() {
    const CHUNK: usize = 65536;
    const CHUNKS: usize = 160; // 10 MiB
    for db in test_databases().await {
        let store = open(&db).await;
        let request = store.add_build_request("b", "forced", None).await.unwrap();
        let build = store.start_build(request, "b", "w").await.unwrap();
        let step = store.start_step(build, 0, "loud").await.unwrap();
        assert_eq!(store.next_log_seq(step).await.unwrap(), 0);
        let mut chunk = vec![0u8; CHUNK];
        for seq in 0..CHUNKS {
            for (j, b) in chunk.iter_mut().enumerate() {
                *b = log_byte(seq * CHUNK + j);
            }
            store.append_log(step, seq as i64, &chunk).await.unwrap();
        }
        assert_eq!(store.next_log_seq(step).await.unwrap(), CHUNKS as i64);
        let mut offset = 0usize;
        let mut largest = 0usize;
        store
            .read_log(step, |text| {
                largest = largest.max(text.len());
                for (j, b) in text.iter().enumerate() {
                    assert_eq!(*b, log_byte(offset + j), "byte {}", offset + j);
                }
                offset += text.len();
                true
            })
            .await
            .unwrap();
        assert_eq!(offset, CHUNK * CHUNKS, "{}", db.label);
        assert_eq!(largest, CHUNK, "read back one chunk at a time");
        // Stopping early reads no further.
        let mut seen = 0;
        store
            .read_log(step, |_| {
                seen += 1;
                false
            })
            .await
            .unwrap();
        assert_eq!(seen, 1);
        store.close().await;
    }
}

#[tokio::test]
async fn an_unknown_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open("mysql://x", dir.path()).await.unwrap_err();
    assert!(err.to_string().contains("sqlite:FILE"), "{err}");
}

#[tokio::test]
async fn a_master_directory_name_with_url_characters_works() {
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("odd dir?#%20x");
    std::fs::create_dir(&odd).unwrap();
    let store = Store::open("sqlite:state.sqlite", &odd).await.unwrap();
    store.add_build_request("b", "r", None).await.unwrap();
    store.close().await;
    assert!(odd.join("state.sqlite").is_file());
    // WAL mode is on: the write-ahead log sits beside the database while it is open.
    let store = Store::open("sqlite:state.sqlite", &odd).await.unwrap();
    assert_eq!(store.queued_build_requests().await.unwrap().len(), 1);
    assert!(odd.join("state.sqlite-wal").exists());
    store.close().await;
}
