use proptest::prelude::*;
use rmpv::Value;

use super::*;
use crate::command::{Command, CommandLine, ShellArgs};
use crate::message::{CommandId, WorkerSettings};
use crate::update::{FileStat, LogChunk, Update};

fn map(pairs: Vec<(&str, Value)>) -> Value {
    Value::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, value).unwrap();
    out
}

fn roundtrip(request: Request) {
    let frame = Frame::Request {
        seq_number: SeqNumber(42),
        request,
    };
    assert_eq!(Frame::decode(&frame.encode()), Ok(frame));
}

fn id() -> CommandId {
    CommandId::from("7")
}

#[test]
fn every_request_roundtrips() {
    let requests = vec![
        Request::Print {
            message: "attached".into(),
        },
        Request::Keepalive,
        Request::GetWorkerInfo,
        Request::SetWorkerSettings(WorkerSettings::default()),
        Request::StartCommand {
            command_id: id(),
            command: Command::from(ShellArgs::new(
                "/w/b",
                CommandLine::Script("echo hi".into()),
            )),
            builder_name: Some("b".into()),
        },
        Request::InterruptCommand {
            command_id: id(),
            why: "stopped by user".into(),
        },
        Request::Shutdown,
        Request::Update {
            command_id: id(),
            updates: vec![
                Update::Stdout(LogChunk::from_lines("é\nb\n", 1.5)),
                Update::Stderr(LogChunk::from_lines("x\n", 2.0)),
                Update::Header(LogChunk::from_lines("echo hi\n", 1.0)),
                Update::Log {
                    name: "server.log".into(),
                    chunk: LogChunk::from_lines("l\n", 3.0),
                },
                Update::Rc(3),
                Update::Elapsed(0.25),
                Update::FailureReason("timeout".into()),
                Update::Files(vec!["a".into(), "b".into()]),
                Update::Stat(FileStat {
                    mode: 0o100644,
                    ino: 1,
                    dev: 2,
                    nlink: 1,
                    uid: 0,
                    gid: 0,
                    size: 10,
                    atime: 1,
                    mtime: 2,
                    ctime: -3,
                }),
                Update::Other {
                    key: "future_key".into(),
                    value: Value::from(1),
                },
            ],
        },
        Request::Complete {
            command_id: id(),
            failure: None,
        },
        Request::Complete {
            command_id: id(),
            failure: Some("[Failure instance: Traceback: ...]".into()),
        },
        Request::UploadFileWrite {
            command_id: id(),
            data: vec![0, 255, 10],
        },
        Request::UploadFileClose { command_id: id() },
        Request::UploadFileUtime {
            command_id: id(),
            access_time: 1.5,
            modified_time: 2.5,
        },
        Request::UploadDirectoryWrite {
            command_id: id(),
            data: vec![1, 2],
        },
        Request::UploadDirectoryUnpack { command_id: id() },
        Request::ReadFile {
            command_id: id(),
            length: 16384,
        },
        Request::ReadFileClose { command_id: id() },
    ];
    for request in requests {
        roundtrip(request);
    }
}

#[test]
fn responses_roundtrip_and_exceptions_carry_is_exception() {
    for response in [
        Response::ok(),
        Response::Result(Value::Binary(vec![1, 2, 3])),
        Response::Exception("Command nosuch does not exist.".into()),
    ] {
        let frame = Frame::Response {
            seq_number: SeqNumber(3),
            response,
        };
        assert_eq!(Frame::decode(&frame.encode()), Ok(frame));
    }
    let exception = Frame::Response {
        seq_number: SeqNumber(0),
        response: Response::Exception("boom".into()),
    };
    let Value::Map(entries) = exception.to_value() else {
        panic!("not a map")
    };
    assert!(entries.contains(&(Value::from("is_exception"), Value::Boolean(true))));
}

#[test]
fn decodes_the_workers_update_as_captured() {
    // worker-protocol.md §2.4: shell `echo hello`.
    let value = map(vec![
        ("op", Value::from("update")),
        ("seq_number", Value::from(5)),
        ("command_id", Value::from("2")),
        (
            "args",
            Value::Array(vec![
                Value::Array(vec![
                    Value::from("stdout"),
                    Value::Array(vec![
                        Value::from("hello\n"),
                        Value::Array(vec![Value::from(5)]),
                        Value::Array(vec![Value::from(1764061200.5)]),
                    ]),
                ]),
                Value::Array(vec![Value::from("rc"), Value::from(0)]),
                Value::Array(vec![Value::from("elapsed"), Value::from(0.0167)]),
            ]),
        ),
    ]);
    let frame = Frame::decode(&encode(&value)).unwrap();
    assert_eq!(
        frame,
        Frame::Request {
            seq_number: SeqNumber(5),
            request: Request::Update {
                command_id: CommandId::from("2"),
                updates: vec![
                    Update::Stdout(LogChunk {
                        text: "hello\n".into(),
                        newline_offsets: vec![5],
                        line_times: vec![1764061200.5],
                    }),
                    Update::Rc(0),
                    Update::Elapsed(0.0167),
                ],
            },
        }
    );
}

#[test]
fn decodes_set_worker_settings_with_integer_timeout() {
    let value = map(vec![
        ("op", Value::from("set_worker_settings")),
        ("seq_number", Value::from(2)),
        (
            "args",
            map(vec![
                ("newline_re", Value::from("(\r\n)")),
                ("max_line_length", Value::from(4096)),
                ("buffer_timeout", Value::from(5)),
                ("buffer_size", Value::from(65536)),
            ]),
        ),
    ]);
    let Frame::Request {
        request: Request::SetWorkerSettings(settings),
        ..
    } = Frame::decode(&encode(&value)).unwrap()
    else {
        panic!("not set_worker_settings")
    };
    assert_eq!(settings.buffer_timeout, 5.0);
    assert_eq!(settings.max_line_length, 4096);
}

fn decode_err(value: Value) -> FrameError {
    Frame::decode(&encode(&value)).unwrap_err()
}

#[test]
fn malformed_frames_say_what_is_wrong() {
    assert!(matches!(
        Frame::decode(&[0x92, 0x01]),
        Err(FrameError::Msgpack(_))
    ));
    // rmpv reads the reserved marker 0xc1 as nil; it is still refused, as a non-map.
    assert!(matches!(
        Frame::decode(&[0xc1]),
        Err(FrameError::WrongType { found: "nil", .. })
    ));
    assert!(matches!(Frame::decode(&[]), Err(FrameError::Msgpack(_))));
    assert_eq!(
        Frame::decode(&[0x80, 0x00]),
        Err(FrameError::TrailingBytes(1))
    );
    assert_eq!(
        decode_err(Value::from(1)),
        FrameError::WrongType {
            field: String::new(),
            expected: "map",
            found: "int"
        }
    );
    assert_eq!(
        decode_err(map(vec![("seq_number", Value::from(1))])),
        FrameError::Missing { field: "op".into() }
    );
    assert!(matches!(
        decode_err(map(vec![("op", Value::from("keepalive")), ("seq_number", Value::from(-1))])),
        FrameError::Invalid { field, .. } if field == "seq_number"
    ));
    assert_eq!(
        decode_err(map(vec![
            ("op", Value::from("start_build")),
            ("seq_number", Value::from(1))
        ])),
        FrameError::UnknownOp("start_build".into())
    );
    assert_eq!(
        decode_err(map(vec![
            ("op", Value::from("update_upload_file_write")),
            ("seq_number", Value::from(1)),
            ("command_id", Value::from("1")),
            ("args", Value::from("text, not bin")),
        ])),
        FrameError::WrongType {
            field: "args".into(),
            expected: "bin",
            found: "str"
        }
    );
    assert!(matches!(
        decode_err(Value::Map(vec![
            (Value::from("op"), Value::from("keepalive")),
            (Value::from("op"), Value::from("shutdown")),
            (Value::from("seq_number"), Value::from(1)),
        ])),
        FrameError::Invalid { reason, .. } if reason.contains("duplicate key \"op\"")
    ));
    assert!(matches!(
        decode_err(map(vec![
            ("op", Value::from("response")),
            ("seq_number", Value::from(1)),
            ("result", Value::from(3)),
            ("is_exception", Value::Boolean(true)),
        ])),
        FrameError::WrongType { field, .. } if field == "result"
    ));
}

#[test]
fn malformed_updates_name_the_pair() {
    let update = |pair: Value| {
        decode_err(map(vec![
            ("op", Value::from("update")),
            ("seq_number", Value::from(1)),
            ("command_id", Value::from("1")),
            ("args", Value::Array(vec![pair])),
        ]))
    };
    assert_eq!(
        update(Value::Array(vec![Value::from("rc"), Value::from("0")])),
        FrameError::WrongType {
            field: "args[0][1]".into(),
            expected: "int",
            found: "str"
        }
    );
    assert!(matches!(
        update(Value::Array(vec![Value::from("stat"), Value::Array(vec![Value::from(1)])])),
        FrameError::Invalid { field, .. } if field == "args[0][1]"
    ));
    assert!(matches!(
        update(Value::Array(vec![Value::from("stdout"), Value::from("hello\n")])),
        FrameError::WrongType { field, .. } if field == "args[0][1]"
    ));
    assert!(matches!(
        update(Value::from("rc")),
        FrameError::WrongType { field, expected: "array", .. } if field == "args[0]"
    ));
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let mut bytes = vec![0x91; 100_000]; // fixarray of one element, nested
    bytes.push(0xc0);
    assert!(matches!(Frame::decode(&bytes), Err(FrameError::Msgpack(_))));
}

/// A map of 200,000 keys from a hostile peer: each key was compared with every earlier one,
/// so this took hours of CPU (40,000 keys: 22 s in a release build); now a hash set.
#[test]
fn a_map_of_many_keys_decodes_without_comparing_every_pair() {
    let mut pairs = vec![
        (Value::from("op"), Value::from("keepalive")),
        (Value::from("seq_number"), Value::from(1)),
    ];
    pairs.extend((0..200_000).map(|i| (Value::from(format!("k{i}")), Value::Nil)));
    let frame = Frame::decode(&encode(&Value::Map(pairs.clone()))).unwrap();
    assert_eq!(frame.to_value().as_map().map(Vec::len), Some(2));
    pairs.push((Value::from("k7"), Value::Nil));
    assert!(matches!(
        Frame::decode(&encode(&Value::Map(pairs))),
        Err(FrameError::Invalid { reason, .. }) if reason == "duplicate key \"k7\""
    ));
}

/// A `get_worker_info` answer with 200,000 environment variables: each was looked up by a scan
/// of the map (40,000: 46 s in a release build).
#[test]
fn a_worker_info_of_many_variables_reads_without_scanning_for_each() {
    let environ = (0..200_000)
        .map(|i| (Value::from(format!("V{i}")), Value::from("x")))
        .collect();
    let info = map(vec![
        ("basedir", Value::from("/w")),
        ("system", Value::from("posix")),
        ("environ", Value::Map(environ)),
    ]);
    let info = crate::WorkerInfo::from_value(&info).unwrap();
    assert_eq!(info.environ.len(), 200_000);
    assert_eq!(info.environ["V199999"], "x");
}

#[test]
fn huge_announced_lengths_fail_without_allocating() {
    // array32 / bin32 / str32 announcing 4 G entries with nothing behind them
    for marker in [0xdd, 0xc6, 0xdb, 0xdf] {
        let bytes = [marker, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(Frame::decode(&bytes), Err(FrameError::Msgpack(_))));
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Frame::decode(&bytes);
    }

    #[test]
    fn arbitrary_bytes_after_a_map_header_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
        prefix in 0x81u8..0x8f,
    ) {
        let mut framed = vec![prefix, 0xa2, b'o', b'p'];
        framed.extend(bytes);
        let _ = Frame::decode(&framed);
    }

    #[test]
    fn arbitrary_print_messages_roundtrip(message in ".*", seq in any::<u64>()) {
        let frame = Frame::Request {
            seq_number: SeqNumber(seq),
            request: Request::Print { message },
        };
        prop_assert_eq!(Frame::decode(&frame.encode()), Ok(frame));
    }
}
