//! Running one child process for `shell`, `rmdir` and `cpdir`, like the stock worker's
//! `RunProcess`: its own process group, output streamed into the update buffer, killed on
//! `timeout` (no output), `maxTime`, `max_lines` or an interrupt.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use oebb_protocol::{LogFileSpec, Update};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};

use crate::logfiles::{LogWatcher, POLL_INTERVAL};
use crate::output::Output;

/// How long a process group gets between the first signal and SIGKILL when the master gave no
/// `sigtermTime`.
const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(5);

/// How long the pipes may stay silent after the process exited, held open by children it left
/// behind (a server a step started), before the command ends anyway.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(1);

/// How long output from what the process left behind may keep the command going at most.
const MAX_DRAIN_AFTER_EXIT: Duration = Duration::from_secs(10);

/// The exit code reported when the program cannot be started, as a shell would.
const RC_CANNOT_START: i64 = 127;

/// What to run and how.
pub(crate) struct ProcessSpec {
    /// The program and its arguments as executed.
    pub argv: Vec<String>,
    /// How the command is named in kill messages (obfuscated arguments hidden).
    pub display: String,
    pub workdir: PathBuf,
    /// The whole environment of the child.
    pub env: HashMap<String, String>,
    pub timeout: Option<f64>,
    pub max_time: Option<f64>,
    pub max_lines: Option<u64>,
    pub sigterm_time: Option<f64>,
    pub interrupt_signal: Option<String>,
    pub want_stdout: bool,
    pub want_stderr: bool,
    pub initial_stdin: Option<String>,
    /// Run as this user (set by the worker's `run_as`).
    pub run_as: Option<crate::owner::RunAs>,
    /// Files the command writes that are sent as `log` updates, by log name.
    pub logfiles: BTreeMap<String, LogFileSpec>,
}

impl ProcessSpec {
    /// A plain helper command (`rm`, `cp`, `chmod`) with the worker's environment.
    pub(crate) fn helper(argv: Vec<String>, workdir: PathBuf, timeout: Option<f64>) -> Self {
        ProcessSpec {
            display: argv.join(" "),
            argv,
            workdir,
            env: crate::env::worker_environment(),
            timeout,
            max_time: None,
            max_lines: None,
            sigterm_time: None,
            interrupt_signal: None,
            want_stdout: true,
            want_stderr: true,
            initial_stdin: None,
            logfiles: BTreeMap::new(),
            run_as: None,
        }
    }
}

/// The interrupt signal of one command: `Some(why)` once the master interrupted it.
pub(crate) type Interrupt = watch::Receiver<Option<String>>;

fn seconds(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::MAX)
}

/// A signal name of `interruptSignal` (`KILL`, `TERM`, `SIGINT`, `9`…); unknown ones kill.
fn signal_number(name: &str) -> libc::c_int {
    if let Ok(n) = name.parse::<libc::c_int>() {
        return n;
    }
    match name.trim_start_matches("SIG") {
        "TERM" => libc::SIGTERM,
        "INT" => libc::SIGINT,
        "HUP" => libc::SIGHUP,
        "QUIT" => libc::SIGQUIT,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        _ => libc::SIGKILL,
    }
}

/// How a process group is killed. With `sigtermTime`, as the stock worker: TERM, then the
/// `interruptSignal` (default KILL) after that time. With only an `interruptSignal`, that signal.
/// With neither (the stock worker would send KILL at once), TERM so that programs can clean up.
/// Whatever was sent, KILL follows after a grace if the group is still there.
struct KillPlan {
    first: libc::c_int,
    /// The second signal and the delay before it.
    then: Option<(Duration, libc::c_int)>,
}

impl KillPlan {
    fn new(interrupt_signal: Option<&str>, sigterm_time: Option<f64>) -> KillPlan {
        let signal = interrupt_signal.map(signal_number);
        match (sigterm_time, signal) {
            (Some(time), signal) => KillPlan {
                first: libc::SIGTERM,
                then: Some((seconds(time), signal.unwrap_or(libc::SIGKILL))),
            },
            (None, Some(signal)) => KillPlan {
                first: signal,
                then: None,
            },
            (None, None) => KillPlan {
                first: libc::SIGTERM,
                then: None,
            },
        }
    }

    /// Sends the first signal; returns when and what to send next.
    fn start(&self, pgid: i32) -> Option<(Instant, libc::c_int)> {
        signal_group(pgid, self.first);
        if self.first == libc::SIGKILL {
            return None;
        }
        let (delay, next) = self.then.unwrap_or((DEFAULT_KILL_GRACE, libc::SIGKILL));
        Some((Instant::now() + delay, next))
    }

    /// Sends the next signal; returns the KILL that follows a grace if it was not KILL.
    fn escalate(&self, pgid: i32, signal: libc::c_int) -> Option<(Instant, libc::c_int)> {
        signal_group(pgid, signal);
        (signal != libc::SIGKILL).then(|| (Instant::now() + DEFAULT_KILL_GRACE, libc::SIGKILL))
    }
}

/// Sends `signal` to every process of the group `pgid`.
fn signal_group(pgid: i32, signal: libc::c_int) {
    if pgid <= 1 {
        // kill(0) or kill(-1) would signal the worker's own group or every process.
        tracing::error!(pgid, "not signalling: no process group of a command");
        return;
    }
    // SAFETY: kill(2) has no memory effects; a negative pid addresses the process group.
    let rc = unsafe { libc::kill(-pgid, signal) };
    if rc != 0 {
        tracing::debug!(pgid, signal, "kill: {}", std::io::Error::last_os_error());
    }
}

async fn read_some<R: AsyncRead + Unpin>(
    reader: &mut Option<R>,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    match reader {
        Some(r) => r.read(buf).await,
        None => std::future::pending().await,
    }
}

async fn at(deadline: Option<Instant>) {
    match deadline {
        Some(d) => sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Sets every signal back to its default action in a command about to exec. Signals the worker
/// inherited as ignored (SIGINT and SIGQUIT when a shell started it in the background, SIGHUP
/// under nohup) stay ignored through exec, and a shell cannot even trap a signal ignored on
/// entry: a step would then never see the master's `interruptSignal`. The stock worker
/// (Twisted) resets them too.
fn default_signal_dispositions() {
    for signal in 1..32 {
        if signal != libc::SIGKILL && signal != libc::SIGSTOP {
            // SAFETY: signal(2) with SIG_DFL is async-signal-safe and has no memory effects.
            unsafe { libc::signal(signal, libc::SIG_DFL) };
        }
    }
}

/// The file-descriptor limit (soft) commands start with, when the process raised its own; 0
/// leaves them the process's.
static COMMAND_FD_LIMIT: AtomicU64 = AtomicU64::new(0);

/// Commands start with `soft` as their file-descriptor limit: a master or worker that raised its
/// own limit for its connections gives commands the limit they would have had, since old
/// programs close every descriptor up to the limit before each subprocess (Python 2's
/// `close_fds`), which takes long with a limit of a million.
pub fn commands_keep_fd_limit(soft: u64) {
    COMMAND_FD_LIMIT.store(soft, Ordering::Relaxed);
}

/// In the child, before exec: sets the soft file-descriptor limit of [`commands_keep_fd_limit`].
fn restore_fd_limit(soft: u64) {
    if soft == 0 {
        return;
    }
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit are plain system calls (async-signal-safe) writing and reading
    // only `limit`, a local of this child.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur > soft {
            limit.rlim_cur = soft as libc::rlim_t;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// Runs the process to its end; returns its rc (-1 when killed). The caller sends the rc.
pub(crate) async fn run(spec: ProcessSpec, output: &mut Output, interrupt: &mut Interrupt) -> i64 {
    let started = Instant::now();
    // Before the process starts, so `follow` skips only what was there before.
    let mut watcher = LogWatcher::new(&spec.workdir, &spec.logfiles);
    let mut next_poll = (!watcher.is_empty()).then(|| started + POLL_INTERVAL);
    let mut command = tokio::process::Command::new(&spec.argv[0]);
    command
        .args(&spec.argv[1..])
        .current_dir(&spec.workdir)
        .env_clear()
        .envs(&spec.env)
        .stdin(if spec.initial_stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(user) = &spec.run_as {
        // As root, std also drops the supplementary groups before the exec.
        command.uid(user.uid).gid(user.gid);
    }
    // SAFETY: between fork and exec only async-signal-safe calls are allowed; signal(2),
    // getrlimit(2) and setrlimit(2) are, and the closure touches no memory of the parent.
    unsafe {
        let fd_limit = COMMAND_FD_LIMIT.load(Ordering::Relaxed);
        command.pre_exec(move || {
            default_signal_dispositions();
            restore_fd_limit(fd_limit);
            Ok(())
        });
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            output.header(&format!("cannot start {}: {e}\n", spec.argv[0]));
            return RC_CANNOT_START;
        }
    };
    let pgid = child.id().map(|id| id as i32).unwrap_or(0);
    if let (Some(text), Some(mut stdin)) = (spec.initial_stdin.clone(), child.stdin.take()) {
        tokio::spawn(async move {
            let _ = stdin.write_all(text.as_bytes()).await;
        });
    }
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let mut out_buf = vec![0u8; 65536];
    let mut err_buf = vec![0u8; 65536];
    let max_deadline = spec.max_time.map(|t| started + seconds(t));
    let mut last_output = started;
    let mut lines = 0u64;
    let mut status: Option<ExitStatus> = None;
    let mut exited_at = started;
    let mut killed = false;
    let mut escalate_at: Option<(Instant, libc::c_int)> = None;
    let mut listening = true;
    let plan = KillPlan::new(spec.interrupt_signal.as_deref(), spec.sigterm_time);
    let kill = |output: &mut Output, message: String, reason: Option<&str>| {
        if let Some(reason) = reason {
            output.push(Update::FailureReason(reason.to_string()));
        }
        output.header(&format!("\n{message}, attempting to kill\n"));
        plan.start(pgid)
    };
    let backlog = output.outbox().backlog();
    let mut master_caught_up = started;
    loop {
        if status.is_some() && stdout.is_none() && stderr.is_none() {
            break;
        }
        let congested = backlog.congested();
        let running = status.is_none() && !killed;
        // Waiting for the master is no silence of the command's.
        let idle_deadline = spec
            .timeout
            .filter(|_| running && !congested)
            .map(|t| last_output + seconds(t));
        let drain_deadline = (status.is_some() && !congested).then(|| {
            let since = exited_at.max(master_caught_up);
            (since.max(last_output) + DRAIN_AFTER_EXIT).min(since + MAX_DRAIN_AFTER_EXIT)
        });
        tokio::select! {
            () = backlog.drained(), if congested => {
                master_caught_up = Instant::now();
                last_output = master_caught_up;
            }
            read = read_some(&mut stdout, &mut out_buf), if !congested => match read {
                Ok(n) if n > 0 => {
                    last_output = Instant::now();
                    lines += memchr_count(&out_buf[..n]);
                    if spec.want_stdout {
                        output.stdout(&out_buf[..n]);
                    }
                }
                _ => stdout = None,
            },
            read = read_some(&mut stderr, &mut err_buf), if !congested => match read {
                Ok(n) if n > 0 => {
                    last_output = Instant::now();
                    lines += memchr_count(&err_buf[..n]);
                    if spec.want_stderr {
                        output.stderr(&err_buf[..n]);
                    }
                }
                _ => stderr = None,
            },
            waited = child.wait(), if status.is_none() => {
                status = Some(waited.unwrap_or_else(|_| ExitStatus::from_raw(1 << 8)));
                exited_at = Instant::now();
                if killed {
                    // What the leader left behind in its group goes too.
                    signal_group(pgid, libc::SIGKILL);
                    escalate_at = None;
                }
            }
            _ = at(output.deadline()) => output.flush(),
            _ = at(idle_deadline) => {
                let t = spec.timeout.unwrap_or_default();
                let message = format!("command timed out: {t} seconds without output running {}", spec.display);
                escalate_at = kill(output, message, Some("timeout_without_output"));
                killed = true;
            }
            _ = at(max_deadline.filter(|_| running)) => {
                let t = spec.max_time.unwrap_or_default();
                let message = format!("command timed out: {t} seconds elapsed running {}", spec.display);
                escalate_at = kill(output, message, Some("timeout"));
                killed = true;
            }
            _ = at(escalate_at.map(|(when, _)| when)) => {
                escalate_at = escalate_at.and_then(|(_, signal)| plan.escalate(pgid, signal));
            }
            changed = interrupt.changed(), if listening => {
                listening = false;
                if changed.is_ok() && running {
                    let why = interrupt.borrow().clone().unwrap_or_default();
                    tracing::info!(command = %output.outbox().id(), "interrupting: {why}");
                    escalate_at = kill(output, "command interrupted".to_string(), None);
                    killed = true;
                }
            }
            _ = at(next_poll) => {
                watcher.poll(output);
                next_poll = Some(Instant::now() + POLL_INTERVAL);
            }
            _ = at(drain_deadline) => {
                stdout = None;
                stderr = None;
            }
        }
        if let Some(max) = spec.max_lines {
            if lines > max && !killed && status.is_none() {
                let message = format!(
                    "command exceeds max lines: {lines}/{max} written/allowed running {}",
                    spec.display
                );
                escalate_at = kill(output, message, Some("max_lines_failure"));
                killed = true;
            }
        }
    }
    watcher.poll(output);
    let status = status.unwrap_or_else(|| ExitStatus::from_raw(0));
    let mut rc = match (status.code(), status.signal()) {
        (Some(code), _) => i64::from(code),
        (None, Some(signal)) => {
            output.header(&format!("process killed by signal {signal}\n"));
            -1
        }
        (None, None) => -1,
    };
    if killed && rc == 0 {
        rc = -1;
    }
    output.end_streams();
    rc
}

fn memchr_count(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}
