//! The file-system commands on a real oebb worker.

mod common;

use common::{TestMaster, TestWorker, PASSWORD};
use oebb_protocol::{Command, CpdirArgs, RmdirArgs, Update};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_system_commands_work_like_the_stock_worker() {
    let master = TestMaster::bind().await;
    let worker = TestWorker::start(&master.address, PASSWORD);
    let mut master = master.accept().await;
    let base = worker.dir();

    // mkdir: several paths with their parents; an existing one is fine.
    let paths = vec![
        master.path("src/a/b"),
        master.path("src/c"),
        master.path("src"),
    ];
    let run = master.run(Command::Mkdir { paths }).await;
    assert_eq!(run.rc(), Some(0), "{run:?}");
    assert!(run.updates.iter().any(|u| matches!(u, Update::Elapsed(_))));
    assert!(base.join("src/a/b").is_dir() && base.join("src/c").is_dir());
    std::fs::write(base.join("src/a/one.txt"), "1").unwrap();
    std::fs::write(base.join("src/a/b/two.txt"), "22").unwrap();
    std::fs::write(base.join("src/.hidden.txt"), "").unwrap();

    // stat: a file's size and type; a missing path gives errno ENOENT as rc.
    let run = master
        .run(Command::Stat {
            path: master.path("src/a/b/two.txt"),
        })
        .await;
    let stat = run
        .updates
        .iter()
        .find_map(|u| match u {
            Update::Stat(s) => Some(*s),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no stat: {run:?}"));
    assert_eq!((stat.size, stat.is_file()), (2, true));
    assert_eq!(run.rc(), Some(0));
    let run = master
        .run(Command::Stat {
            path: master.path("nowhere"),
        })
        .await;
    assert_eq!(run.rc(), Some(ENOENT), "{run:?}");
    let expected = format!(
        "stat: No such file or directory: {}\n",
        master.path("nowhere")
    );
    assert_eq!(run.header(), expected);

    // listdir: names.
    let run = master
        .run(Command::Listdir {
            path: master.path("src"),
        })
        .await;
    let mut names = run.files();
    names.sort();
    assert_eq!(names, [".hidden.txt", "a", "c"]);
    let run = master
        .run(Command::Listdir {
            path: master.path("nowhere"),
        })
        .await;
    assert_eq!(run.rc(), Some(ENOENT));

    // glob: recursive, absolute paths, wildcards skip dot files like Python's glob.
    let run = master
        .run(Command::Glob {
            path: master.path("src/**/*.txt"),
        })
        .await;
    let mut found = run.files();
    found.sort();
    assert_eq!(
        found,
        [master.path("src/a/b/two.txt"), master.path("src/a/one.txt")]
    );
    assert_eq!(run.rc(), Some(0));

    // cpdir: the tree is copied (cp -R -P -p -v output comes back).
    let run = master
        .run(Command::Cpdir(CpdirArgs {
            from_path: master.path("src"),
            to_path: master.path("copies/src2"),
            timeout: None,
            max_time: None,
            log_environ: false,
        }))
        .await;
    assert_eq!(run.rc(), Some(0), "{run:?}");
    assert_eq!(
        std::fs::read_to_string(base.join("copies/src2/a/b/two.txt")).unwrap(),
        "22"
    );
    assert!(run.stdout().contains("two.txt"), "{run:?}");

    // rmfile: gone; again: ENOENT.
    let rmfile = Command::Rmfile {
        path: master.path("src/a/one.txt"),
    };
    assert_eq!(master.run(rmfile.clone()).await.rc(), Some(0));
    assert!(!base.join("src/a/one.txt").exists());
    assert_eq!(master.run(rmfile).await.rc(), Some(ENOENT));

    // Failures: mkdir under a file (ENOTDIR), cp of a missing tree, a bad glob pattern.
    let run = master
        .run(Command::Mkdir {
            paths: vec![master.path("src/a/b/two.txt/sub")],
        })
        .await;
    assert_eq!(run.rc(), Some(ENOTDIR), "{run:?}");
    assert!(
        run.header().starts_with("mkdir: Not a directory: "),
        "{run:?}"
    );
    let run = master
        .run(Command::Cpdir(CpdirArgs {
            from_path: master.path("nowhere"),
            to_path: master.path("copies/none"),
            timeout: None,
            max_time: None,
            log_environ: false,
        }))
        .await;
    assert_ne!(run.rc(), Some(0), "{run:?}");
    assert!(run.stderr().contains("nowhere"), "{run:?}");
    let run = master
        .run(Command::Glob {
            path: master.path("src/***"),
        })
        .await;
    assert_eq!(run.rc(), Some(1), "{run:?}");

    // rmdir: trees gone, even one with a read-only directory inside.
    let locked = base.join("copies/src2/a");
    let mut perms = std::fs::metadata(&locked).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o500);
    std::fs::set_permissions(&locked, perms).unwrap();
    let run = master
        .run(Command::Rmdir(RmdirArgs {
            paths: vec![master.path("src"), master.path("copies")],
            timeout: None,
            max_time: None,
            log_environ: false,
        }))
        .await;
    assert_eq!(run.rc(), Some(0), "{run:?}");
    assert!(!base.join("src").exists() && !base.join("copies").exists());
    worker.stop().await;
}

/// Linux's errno for a missing path.
const ENOENT: i64 = 2;

/// Linux's errno for a path through a regular file.
const ENOTDIR: i64 = 20;
