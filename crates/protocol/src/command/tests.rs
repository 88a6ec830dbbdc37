use std::collections::BTreeMap;

use rmpv::Value;

use super::*;
use crate::frame::{Frame, FrameError};
use crate::message::{CommandId, Request};
use crate::sequence::SeqNumber;

fn map(pairs: Vec<(&str, Value)>) -> Value {
    Value::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

fn start(name: &str, args: Value) -> Result<Command, FrameError> {
    let value = map(vec![
        ("op", Value::from("start_command")),
        ("seq_number", Value::from(4)),
        ("command_id", Value::from("2")),
        ("command_name", Value::from(name)),
        ("args", args),
    ]);
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, &value).unwrap();
    let frame = Frame::decode(&bytes).map_err(|e| match e {
        // Set-up errors come wrapped with what the worker needs to answer them.
        FrameError::BadCommand {
            seq_number: 4,
            command,
            reason,
        } if command == name => *reason,
        other => panic!("a start_command error not wrapped as BadCommand: {other:?}"),
    })?;
    match frame {
        Frame::Request {
            request: Request::StartCommand { command, .. },
            ..
        } => Ok(command),
        other => panic!("not start_command: {other:?}"),
    }
}

fn roundtrip(command: Command) {
    let frame = Frame::Request {
        seq_number: SeqNumber(1),
        request: Request::StartCommand {
            command_id: CommandId::from("c"),
            command,
            builder_name: None,
        },
    };
    assert_eq!(Frame::decode(&frame.encode()), Ok(frame));
}

#[test]
fn every_command_roundtrips() {
    let mut shell = ShellArgs::new(
        "/w/b/build",
        CommandLine::Argv(vec![
            Arg::Plain("psql".into()),
            Arg::Obfuscated {
                real: "secret".into(),
                fake: "***".into(),
            },
        ]),
    );
    shell.env = BTreeMap::from([
        ("PGPORT".to_string(), EnvValue::Set("5433".into())),
        ("LANG".to_string(), EnvValue::Unset),
        (
            "PATH".to_string(),
            EnvValue::PathList(vec!["/pg/bin".into(), "${PATH}".into()]),
        ),
    ]);
    shell.logfiles = BTreeMap::from([(
        "odoo".to_string(),
        LogFileSpec {
            filename: "odoo.log".into(),
            follow: true,
        },
    )]);
    shell.timeout = Some(1200.0);
    shell.max_time = Some(3600.5);
    shell.max_lines = Some(10);
    shell.sigterm_time = Some(5.0);
    shell.use_pty = true;
    shell.initial_stdin = Some("y\n".into());
    shell.interrupt_signal = Some("TERM".into());
    for command in [
        Command::from(shell),
        Command::from(ShellArgs::new("/w", CommandLine::Script("exit 3".into()))),
        Command::Mkdir {
            paths: vec!["/w/a".into(), "/w/b".into()],
        },
        Command::Rmdir(RmdirArgs {
            paths: vec!["/w/a".into()],
            timeout: Some(60.0),
            max_time: None,
            log_environ: false,
        }),
        Command::Cpdir(CpdirArgs {
            from_path: "/w/a".into(),
            to_path: "/w/b".into(),
            timeout: None,
            max_time: Some(10.0),
            log_environ: true,
        }),
        Command::Stat {
            path: "/w/a".into(),
        },
        Command::Glob {
            path: "/w/**/*.log".into(),
        },
        Command::Listdir { path: "/w".into() },
        Command::Rmfile {
            path: "/w/a.txt".into(),
        },
        Command::UploadFile(UploadFileArgs {
            path: "/w/a.txt".into(),
            blocksize: 262144,
            maxsize: None,
            keepstamp: true,
        }),
        Command::UploadDirectory(UploadDirectoryArgs {
            path: "/w/dir".into(),
            blocksize: 16384,
            maxsize: Some(1 << 30),
            compress: Some(Compression::Bz2),
        }),
        Command::DownloadFile(DownloadFileArgs {
            path: "/w/buildout.cfg".into(),
            blocksize: 16384,
            maxsize: None,
            mode: Some(0o644),
        }),
    ] {
        roundtrip(command);
    }
}

#[test]
fn decodes_the_stock_masters_shell_command() {
    // worker-protocol.md §2.4, with the nils the stock master sends.
    let args = map(vec![
        ("workdir", Value::from("/w/hello-0/build")),
        ("env", map(vec![])),
        ("want_stdout", Value::Boolean(true)),
        ("want_stderr", Value::Boolean(true)),
        ("logfiles", map(vec![])),
        ("timeout", Value::from(1200)),
        ("maxTime", Value::Nil),
        ("max_lines", Value::Nil),
        ("sigtermTime", Value::Nil),
        ("usePTY", Value::Boolean(false)),
        ("logEnviron", Value::Boolean(true)),
        ("initial_stdin", Value::Nil),
        ("interruptSignal", Value::from("KILL")),
        (
            "command",
            Value::Array(vec![Value::from("echo"), Value::from("hello")]),
        ),
        ("some_future_arg", Value::from(1)),
    ]);
    let Command::Shell(shell) = start("shell", args).unwrap() else {
        panic!("not shell")
    };
    assert_eq!(shell.workdir, "/w/hello-0/build");
    assert_eq!(
        shell.command,
        CommandLine::Argv(vec![Arg::Plain("echo".into()), Arg::Plain("hello".into())])
    );
    assert_eq!(shell.timeout, Some(1200.0));
    assert_eq!(shell.max_time, None);
    assert!(shell.log_environ);
    assert_eq!(shell.interrupt_signal.as_deref(), Some("KILL"));
}

#[test]
fn shell_defaults_follow_the_worker() {
    let args = map(vec![
        ("workdir", Value::from("/w")),
        ("command", Value::Binary(b"ls -l".to_vec())),
    ]);
    let Command::Shell(shell) = start("shell", args).unwrap() else {
        panic!("not shell")
    };
    assert_eq!(shell.command, CommandLine::Script("ls -l".into()));
    assert!(shell.want_stdout && shell.want_stderr && shell.log_environ);
    assert!(!shell.use_pty);
    assert!(shell.env.is_empty());
}

#[test]
fn camel_case_transfer_names_are_accepted() {
    let args = map(vec![
        ("path", Value::from("/w/f")),
        ("blocksize", Value::from(16384)),
        ("maxsize", Value::Nil),
        ("mode", Value::Nil),
    ]);
    assert!(matches!(
        start("downloadFile", args),
        Ok(Command::DownloadFile(_))
    ));
}

#[test]
fn strict_arguments_are_checked() {
    let shell_with = |key: &str, value: Value| {
        start(
            "shell",
            map(vec![
                ("workdir", Value::from("/w")),
                ("command", Value::from("true")),
                (key, value),
            ]),
        )
    };
    assert_eq!(
        shell_with("usePTY", Value::Nil).map(|_| ()),
        Ok(()),
        "nil means the default"
    );
    assert_eq!(
        shell_with("usePTY", Value::from(1)).unwrap_err(),
        FrameError::WrongType {
            field: "args.usePTY".into(),
            expected: "bool",
            found: "int"
        }
    );
    assert!(matches!(
        shell_with("env", map(vec![("A", Value::from(1))])).unwrap_err(),
        FrameError::WrongType { field, .. } if field == "args.env.A"
    ));
    assert!(matches!(
        start(
            "shell",
            map(vec![
                ("workdir", Value::from("/w")),
                ("command", Value::Array(vec![Value::Array(vec![Value::from("x")])])),
            ])
        )
        .unwrap_err(),
        FrameError::Invalid { field, .. } if field == "args.command[0]"
    ));
    assert_eq!(
        start("shell", map(vec![("command", Value::from("true"))])).unwrap_err(),
        FrameError::Missing {
            field: "args.workdir".into()
        }
    );
    // The worker reads maxsize and mode with args[...]: the keys must be there.
    assert_eq!(
        start(
            "download_file",
            map(vec![
                ("path", Value::from("/w/f")),
                ("blocksize", Value::from(16384)),
                ("maxsize", Value::Nil),
            ])
        )
        .unwrap_err(),
        FrameError::Missing {
            field: "args.mode".into()
        }
    );
    assert!(matches!(
        start(
            "upload_directory",
            map(vec![
                ("path", Value::from("/w/d")),
                ("blocksize", Value::from(1)),
                ("maxsize", Value::Nil),
                ("compress", Value::from("xz")),
            ])
        )
        .unwrap_err(),
        FrameError::Invalid { field, .. } if field == "args.compress"
    ));
    assert_eq!(
        start("nosuch", map(vec![])).unwrap_err(),
        FrameError::UnknownCommand("nosuch".into())
    );
    assert!(matches!(
        start("mkdir", map(vec![("paths", Value::from("/w/a"))])).unwrap_err(),
        FrameError::WrongType { field, expected: "array", .. } if field == "args.paths"
    ));
}

#[test]
fn rmdir_leaves_out_an_unset_timeout_to_keep_the_workers_default() {
    let args = Command::Rmdir(RmdirArgs {
        paths: vec!["/w".into()],
        timeout: None,
        max_time: None,
        log_environ: false,
    })
    .args_value();
    let Value::Map(entries) = args else {
        panic!("not a map")
    };
    assert!(!entries.iter().any(|(k, _)| k.as_str() == Some("timeout")));
}
