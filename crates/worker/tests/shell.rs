//! The `shell` command on a real oebb worker: output, exit codes, environment, timeouts,
//! interrupts and concurrency.

mod common;

use std::collections::BTreeMap;

use common::{process_gone, script, TestMaster, TestWorker, PASSWORD};
use oebb_protocol::{Arg, Command, CommandLine, EnvValue, ShellArgs, Update};

async fn attached() -> (TestWorker, common::Session) {
    let master = TestMaster::bind().await;
    let worker = TestWorker::start(&master.address, PASSWORD);
    let session = master.accept().await;
    (worker, session)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_reports_output_and_exit_code() {
    let (worker, mut master) = attached().await;
    assert_eq!(master.info.basedir, worker.dir().to_str().unwrap());
    let workdir = master.path("build");

    let run = master
        .run(script(&workdir, "echo out; echo err >&2; printf partial; exit 3").into())
        .await;
    assert_eq!(run.stdout(), "out\npartial\n", "{run:?}");
    assert_eq!(run.stderr(), "err\n", "{run:?}");
    assert_eq!(run.rc(), Some(3), "{run:?}");
    assert!(run.has_elapsed(), "{run:?}");
    assert_eq!(run.failure, None);
    let header = run.header();
    assert!(header.starts_with("echo out;"), "{header}");
    assert!(header.contains(&format!(" in dir {workdir}\n")), "{header}");
    assert!(
        !header.contains("timeout None"),
        "no timeout, none shown: {header}"
    );
    assert!(header.contains("elapsedTime="), "{header}");
    // rc comes before the closing header line, as from the stock worker.
    let rc_at = run.updates.iter().position(|u| matches!(u, Update::Rc(_)));
    let last_header = run
        .updates
        .iter()
        .rposition(|u| matches!(u, Update::Header(_)));
    assert!(rc_at < last_header, "{run:?}");
    assert!(std::path::Path::new(&workdir).is_dir(), "workdir created");

    // argv form: no shell, the program found in $PATH; obfuscated args are passed, not shown.
    let argv = CommandLine::Argv(vec![
        Arg::Plain("echo".into()),
        Arg::Obfuscated {
            real: "hunter2".into(),
            fake: "XXXX".into(),
        },
    ]);
    let run = master.run(ShellArgs::new(&workdir, argv).into()).await;
    assert_eq!(run.stdout(), "hunter2\n");
    assert_eq!(run.rc(), Some(0));
    assert!(!run.header().contains("hunter2"), "{}", run.header());
    assert!(run.header().contains("XXXX"), "{}", run.header());

    let missing = CommandLine::Argv(vec![Arg::Plain("no-such-program-oebb".into())]);
    let run = master.run(ShellArgs::new(&workdir, missing).into()).await;
    assert_eq!(run.rc(), Some(127), "{run:?}");
    assert!(run.header().contains("no-such-program-oebb"), "{run:?}");

    // want_stdout=false drops stdout but keeps stderr.
    let mut quiet = script(&workdir, "echo hidden; echo shown >&2");
    quiet.want_stdout = false;
    let run = master.run(quiet.into()).await;
    assert_eq!(run.stdout(), "");
    assert_eq!(run.stderr(), "shown\n");

    // A relative workdir is under the basedir.
    let run = master.run(script("rel/dir", "pwd").into()).await;
    assert_eq!(run.stdout(), format!("{}\n", master.path("rel/dir")));

    // initial_stdin reaches the program.
    let mut fed = script(&workdir, "cat");
    fed.initial_stdin = Some("fed in\n".into());
    assert_eq!(master.run(fed.into()).await.stdout(), "fed in\n");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_environment_is_merged_and_expanded() {
    let (worker, mut master) = attached().await;
    let mut args = script(
        &master.path("env"),
        "echo \"$PATH\"; echo \"$JOINED\"; echo \"${HOME-unset}\"; echo \"$PLAIN\"",
    );
    args.env = BTreeMap::from([
        ("PATH".into(), EnvValue::Set("/opt/pg/bin:${PATH}".into())),
        (
            "JOINED".into(),
            EnvValue::PathList(vec!["/a".into(), "/b".into()]),
        ),
        ("HOME".into(), EnvValue::Unset),
        (
            "PLAIN".into(),
            EnvValue::Set("${NOT_SET_ANYWHERE_OEBB}x".into()),
        ),
    ]);
    args.log_environ = true;
    let run = master.run(args.into()).await;
    let path = std::env::var("PATH").unwrap();
    let expected = format!("/opt/pg/bin:{path}\n/a:/b\nunset\nx\n");
    assert_eq!(run.stdout(), expected, "{run:?}");
    // The header lists the step's variables only, never the worker's own environment.
    let header = run.header();
    assert!(header.contains("  JOINED=/a:/b\n"), "{header}");
    assert!(!header.contains("CARGO"), "{header}");
    assert!(master.info.environ.is_empty(), "{:?}", master.info.environ);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_overlong_commands_are_killed() {
    let (worker, mut master) = attached().await;
    let workdir = master.path("t");
    let mut silent = script(&workdir, "echo begin; sleep 30");
    silent.timeout = Some(0.3);
    let run = master.run(silent.into()).await;
    assert_eq!(run.rc(), Some(-1), "{run:?}");
    assert_eq!(
        run.failure_reason().as_deref(),
        Some("timeout_without_output")
    );
    assert_eq!(run.stdout(), "begin\n");
    assert!(
        run.header().contains("0.3 seconds without output"),
        "{run:?}"
    );

    // Output resets the no-output timer, but maxTime counts from the start.
    let mut chatty = script(&workdir, "while true; do echo tick; sleep 0.05; done");
    chatty.timeout = Some(0.3);
    chatty.max_time = Some(0.6);
    let run = master.run(chatty.into()).await;
    assert_eq!(run.rc(), Some(-1), "{run:?}");
    assert_eq!(run.failure_reason().as_deref(), Some("timeout"));
    assert!(run.stdout().starts_with("tick\ntick\n"), "{run:?}");

    let mut wordy = script(
        &workdir,
        "for i in 1 2 3 4 5 6 7 8 9 10; do echo $i; done; sleep 30",
    );
    wordy.max_lines = Some(5);
    let run = master.run(wordy.into()).await;
    assert_eq!(run.rc(), Some(-1), "{run:?}");
    assert_eq!(run.failure_reason().as_deref(), Some("max_lines_failure"));
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_kills_the_whole_process_group() {
    let (worker, mut master) = attached().await;
    let workdir = master.path("i");
    // A child in the background, like a server a step started: it must die too.
    let args = script(&workdir, "sleep 300 & echo $! > bg.pid; echo started; wait");
    let id = master.start(args.into()).await;
    master
        .until(&id, |run| run.stdout().contains("started"))
        .await;
    let pid: u32 = std::fs::read_to_string(format!("{workdir}/bg.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    master.interrupt(&id).await;
    let run = master.wait(&id).await;
    assert_eq!(run.rc(), Some(-1), "{run:?}");
    assert!(run.header().contains("command interrupted"), "{run:?}");
    assert!(process_gone(pid).await, "background child {pid} survived");

    // A command that ignores SIGTERM is killed after the grace (sigtermTime).
    let mut stubborn = script(&workdir, "trap '' TERM; echo started; sleep 300");
    stubborn.sigterm_time = Some(0.2);
    let id = master.start(stubborn.into()).await;
    master
        .until(&id, |run| run.stdout().contains("started"))
        .await;
    master.interrupt(&id).await;
    let run = master.wait(&id).await;
    assert_eq!(run.rc(), Some(-1), "{run:?}");

    // The master's interruptSignal is the one sent: this script traps it and exits 5. The
    // shell waits in short foreground sleeps, so the signal is never pending on a `wait` that
    // has not begun. A worker started in the background by a shell inherits SIGINT ignored;
    // ignoring it here too checks that steps still get the default back (a shell cannot trap
    // a signal ignored on entry). Nothing sends SIGINT to this test process.
    // SAFETY: signal(2) with SIG_IGN has no memory effects.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
    let mut polite = script(
        &workdir,
        "trap 'echo got INT; exit 5' INT; echo started; while :; do sleep 1; done",
    );
    polite.interrupt_signal = Some("INT".into());
    let id = master.start(polite.into()).await;
    master
        .until(&id, |run| run.stdout().contains("started"))
        .await;
    master.interrupt(&id).await;
    let run = master.wait(&id).await;
    assert_eq!(run.rc(), Some(5), "{run:?}");
    assert!(run.stdout().contains("got INT"), "{run:?}");

    // Interrupting an unknown command is answered, not an error.
    master
        .interrupt(&oebb_protocol::CommandId::from("nope"))
        .await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_run_concurrently() {
    let (worker, mut master) = attached().await;
    let workdir = master.path("c");
    // The first waits for a file only the second creates: run one after the other, the first
    // would hit its timeout.
    let mut waiter = script(
        &workdir,
        "while [ ! -f flag ]; do sleep 0.01; done; echo got it",
    );
    waiter.timeout = Some(10.0);
    let first = master.start(waiter.into()).await;
    let second = master.start(script(&workdir, "touch flag").into()).await;
    let run2 = master.wait(&second).await;
    let run1 = master.wait(&first).await;
    assert_eq!(run2.rc(), Some(0), "{run2:?}");
    assert_eq!(run1.rc(), Some(0), "{run1:?}");
    assert_eq!(run1.stdout(), "got it\n");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_batched_by_the_buffer_settings() {
    let (worker, mut master) = attached().await;
    // 2000 short lines at once fit one 64 KiB buffer: few update requests, not one per line.
    let args = script(&master.path("b"), "seq 1 2000");
    let run = master.run(Command::from(args)).await;
    let expected: String = (1..=2000).map(|i| format!("{i}\n")).collect();
    assert_eq!(run.stdout(), expected);
    assert!(run.update_requests < 50, "{} updates", run.update_requests);
    // Offsets count each line's newline, merged across chunks.
    let offsets: usize = run
        .updates
        .iter()
        .map(|u| match u {
            Update::Stdout(c) => {
                assert_eq!(c.newline_offsets.len(), c.text.matches('\n').count());
                let last = *c.newline_offsets.last().unwrap() as usize;
                assert_eq!(c.text.chars().nth(last), Some('\n'));
                c.newline_offsets.len()
            }
            _ => 0,
        })
        .sum();
    assert_eq!(offsets, 2000);

    // The worker does not wait for one update's answer before sending the next: a master
    // holding its answers still receives several, and they arrive in order.
    let id = master
        .start(script(&master.path("b"), "seq 1 200000").into())
        .await;
    let mut held = Vec::new();
    while held.len() < 3 {
        let request = tokio::time::timeout(common::WAIT, master.incoming.recv())
            .await
            .expect("the worker waits for answers before sending more")
            .unwrap();
        held.push(request);
    }
    let mut stdout = String::new();
    for request in held {
        match &request.request {
            oebb_protocol::Request::Update { updates, .. } => {
                for update in updates {
                    if let Update::Stdout(chunk) = update {
                        stdout.push_str(&chunk.text);
                    }
                }
            }
            other => panic!("expected updates, got {other:?}"),
        }
        request.respond(oebb_protocol::Response::ok());
    }
    let run = master.wait(&id).await;
    stdout.push_str(&run.stdout());
    let expected: String = (1..=200000).map(|i| format!("{i}\n")).collect();
    assert!(stdout == expected, "output out of order or lost");

    // Settings apply to the commands started after them: here, lines split at 10 chars.
    let settings = oebb_protocol::WorkerSettings {
        max_line_length: 10,
        buffer_timeout: 0.02,
        ..oebb_protocol::WorkerSettings::default()
    };
    master
        .request(oebb_protocol::Request::SetWorkerSettings(settings))
        .await;
    let run = master
        .run(script(&master.path("b"), "echo 0123456789abcdef").into())
        .await;
    assert_eq!(run.stdout(), "0123456789\nabcdef\n");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logfiles_are_sent_as_log_updates() {
    let (worker, mut master) = attached().await;
    let workdir = master.path("logs");
    std::fs::create_dir_all(&workdir).unwrap();
    std::fs::write(format!("{workdir}/old.log"), "before the step\n").unwrap();
    let mut args = script(
        &workdir,
        "echo one > server.log; echo after >> old.log; sleep 0.3; printf 'two\\nthree' >> server.log",
    );
    args.logfiles = BTreeMap::from([
        (
            "server".to_string(),
            oebb_protocol::LogFileSpec {
                filename: "server.log".into(),
                follow: false,
            },
        ),
        (
            "old".to_string(),
            oebb_protocol::LogFileSpec {
                filename: "old.log".into(),
                follow: true,
            },
        ),
    ]);
    let run = master.run(args.into()).await;
    assert_eq!(run.rc(), Some(0), "{run:?}");
    let log = |wanted: &str| -> String {
        run.updates
            .iter()
            .filter_map(|u| match u {
                Update::Log { name, chunk } if name == wanted => Some(chunk.text.as_str()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(log("server"), "one\ntwo\nthree\n", "{run:?}");
    assert_eq!(
        log("old"),
        "after\n",
        "follow skips what was there: {run:?}"
    );
    assert!(run
        .header()
        .contains("watching logfiles {'old': 'old.log', 'server': 'server.log'}"));
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_left_behind_neither_lose_output_nor_hang_the_command() {
    let (worker, mut master) = attached().await;
    let workdir = master.path("bg");
    // A late line from a child is still read; a child that holds stdout open and stays silent
    // (like a server started by a step) does not keep the command from completing.
    let args = script(
        &workdir,
        "(sleep 0.2; echo late) & sleep 300 & echo $! > server.pid; echo early",
    );
    let run = master.run(args.into()).await;
    assert_eq!(run.rc(), Some(0), "{run:?}");
    assert_eq!(run.stdout(), "early\nlate\n");
    let pid: u32 = std::fs::read_to_string(format!("{workdir}/server.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // A command that ended by itself keeps what it started running.
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    let _ = std::process::Command::new("kill")
        .arg(pid.to_string())
        .status();
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_master_slows_the_command_down() {
    let (worker, mut master) = attached().await;
    let workdir = master.path("slow");
    let finished = std::path::Path::new(&workdir).join("finished");
    // 8 MB of output, more than the worker holds for a master that does not answer (64
    // buffers of the 64 KiB the test master sets).
    let args = script(
        &workdir,
        "yes 0123456789012345678 | head -c 8000000; touch finished",
    );
    let id = master.start(args.into()).await;
    let mut held = Vec::new();
    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    while let Ok(Some(request)) = tokio::time::timeout_at(until, master.incoming.recv()).await {
        held.push(request);
    }
    let mut stdout = 0;
    for request in &held {
        if let oebb_protocol::Request::Update { updates, .. } = &request.request {
            for update in updates {
                if let Update::Stdout(chunk) = update {
                    stdout += chunk.text.len();
                }
            }
        }
    }
    eprintln!(
        "held {} requests, {stdout} bytes, finished: {}",
        held.len(),
        finished.exists()
    );
    assert!(
        held.len() <= 32,
        "{} requests sent without answers",
        held.len()
    );
    assert!(
        !finished.exists(),
        "the command ran ahead of a master that did not answer"
    );
    for request in held {
        request.respond(oebb_protocol::Response::ok());
    }
    let run = master.wait(&id).await;
    assert_eq!(run.rc(), Some(0));
    assert_eq!(stdout + run.stdout().len(), 8_000_000);
    assert!(finished.exists());
    worker.stop().await;
}
