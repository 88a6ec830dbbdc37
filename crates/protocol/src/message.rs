//! The requests of msgpack_experimental_v7 and their responses (worker-protocol.md §2.2–2.3).

use std::fmt;

use rmpv::Value;

use crate::command::Command;
use crate::fields::{self, Fields};
use crate::frame::FrameError;
use crate::update::Update;

/// The master's name for one command run on a worker; unique per connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandId(pub String);

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for CommandId {
    fn from(id: &str) -> Self {
        CommandId(id.to_string())
    }
}

/// Which way a request travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Sent by the master, handled by the worker.
    ToWorker,
    /// Sent by the worker, handled by the master.
    ToMaster,
}

/// How the worker buffers and splits command output (`set_worker_settings`).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSettings {
    /// Bytes of output buffered before an `update` is sent.
    pub buffer_size: u64,
    /// Seconds output may wait in the buffer before an `update` is sent.
    pub buffer_timeout: f64,
    /// Python regular expression whose matches the worker turns into newlines.
    pub newline_re: String,
    /// Longer lines are split.
    pub max_line_length: u64,
}

impl Default for WorkerSettings {
    /// The stock Buildbot master's values; a master that wants live logs lowers `buffer_timeout`.
    fn default() -> Self {
        WorkerSettings {
            buffer_size: 65536,
            buffer_timeout: 5.0,
            newline_re: r"(\r\n|\r(?=.)|\033\[u|\033\[[0-9]+;[0-9]+[Hf]|\033\[2J|\x08+)"
                .to_string(),
            max_line_length: 4096,
        }
    }
}

/// A request, by op. Each variant says which side sends it.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Master → worker: log a message.
    Print {
        /// The text the worker logs.
        message: String,
    },
    /// Master → worker: liveness check, answered with nil.
    Keepalive,
    /// Master → worker: ask for the worker's information (a map, see [`crate::WorkerInfo`]).
    GetWorkerInfo,
    /// Master → worker: output buffering for the commands started afterwards.
    SetWorkerSettings(WorkerSettings),
    /// Master → worker: start a command; its updates and completion come as requests back.
    StartCommand {
        /// The master's name for this run of the command.
        command_id: CommandId,
        /// The command and its arguments.
        command: Command,
        /// Sent by the stock master, ignored by the worker.
        builder_name: Option<String>,
    },
    /// Master → worker: interrupt a running command.
    InterruptCommand {
        /// The command to interrupt.
        command_id: CommandId,
        /// Why, for the worker's log and the command's header.
        why: String,
    },
    /// Master → worker: the worker process exits after answering.
    Shutdown,
    /// Worker → master: output, exit code and other results of a command.
    Update {
        /// The command they belong to.
        command_id: CommandId,
        /// The `[key, value]` pairs, in order.
        updates: Vec<Update>,
    },
    /// Worker → master: the command has ended.
    Complete {
        /// The command that ended.
        command_id: CommandId,
        /// The Python failure text when the command raised, `None` when it ran to its end.
        failure: Option<String>,
    },
    /// Worker → master: the next block of a file uploaded to the master.
    UploadFileWrite {
        /// The `upload_file` command.
        command_id: CommandId,
        /// The block (`bin`).
        data: Vec<u8>,
    },
    /// Worker → master: the uploaded file is complete.
    UploadFileClose {
        /// The `upload_file` command.
        command_id: CommandId,
    },
    /// Worker → master: set the uploaded file's times (`keepstamp`).
    UploadFileUtime {
        /// The `upload_file` command.
        command_id: CommandId,
        /// Seconds since the epoch.
        access_time: f64,
        /// Seconds since the epoch.
        modified_time: f64,
    },
    /// Worker → master: the next block of a tar stream of an uploaded directory.
    UploadDirectoryWrite {
        /// The `upload_directory` command.
        command_id: CommandId,
        /// The block (`bin`).
        data: Vec<u8>,
    },
    /// Worker → master: the tar stream is complete; unpack it now.
    UploadDirectoryUnpack {
        /// The `upload_directory` command.
        command_id: CommandId,
    },
    /// Worker → master: send the next block of the file being downloaded to the worker; the
    /// response is `bin` of at most `length` bytes, empty (or nil) at the end of the file.
    ReadFile {
        /// The `download_file` command.
        command_id: CommandId,
        /// The largest block the worker accepts.
        length: u64,
    },
    /// Worker → master: the download is over.
    ReadFileClose {
        /// The `download_file` command.
        command_id: CommandId,
    },
}

/// The answer to a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// The request succeeded with this result (nil for most ops).
    Result(Value),
    /// The request failed; the other side's error message (`is_exception`).
    Exception(String),
}

impl Response {
    /// The common nil answer.
    pub fn ok() -> Response {
        Response::Result(Value::Nil)
    }
}

impl Request {
    /// The `op` on the wire.
    pub fn op(&self) -> &'static str {
        match self {
            Request::Print { .. } => "print",
            Request::Keepalive => "keepalive",
            Request::GetWorkerInfo => "get_worker_info",
            Request::SetWorkerSettings(_) => "set_worker_settings",
            Request::StartCommand { .. } => "start_command",
            Request::InterruptCommand { .. } => "interrupt_command",
            Request::Shutdown => "shutdown",
            Request::Update { .. } => "update",
            Request::Complete { .. } => "complete",
            Request::UploadFileWrite { .. } => "update_upload_file_write",
            Request::UploadFileClose { .. } => "update_upload_file_close",
            Request::UploadFileUtime { .. } => "update_upload_file_utime",
            Request::UploadDirectoryWrite { .. } => "update_upload_directory_write",
            Request::UploadDirectoryUnpack { .. } => "update_upload_directory_unpack",
            Request::ReadFile { .. } => "update_read_file",
            Request::ReadFileClose { .. } => "update_read_file_close",
        }
    }

    /// Which side sends this request.
    pub fn direction(&self) -> Direction {
        match self {
            Request::Print { .. }
            | Request::Keepalive
            | Request::GetWorkerInfo
            | Request::SetWorkerSettings(_)
            | Request::StartCommand { .. }
            | Request::InterruptCommand { .. }
            | Request::Shutdown => Direction::ToWorker,
            _ => Direction::ToMaster,
        }
    }

    /// The command this request is about, if any.
    pub fn command_id(&self) -> Option<&CommandId> {
        match self {
            Request::Print { .. }
            | Request::Keepalive
            | Request::GetWorkerInfo
            | Request::SetWorkerSettings(_)
            | Request::Shutdown => None,
            Request::StartCommand { command_id, .. }
            | Request::InterruptCommand { command_id, .. }
            | Request::Update { command_id, .. }
            | Request::Complete { command_id, .. }
            | Request::UploadFileWrite { command_id, .. }
            | Request::UploadFileClose { command_id }
            | Request::UploadFileUtime { command_id, .. }
            | Request::UploadDirectoryWrite { command_id, .. }
            | Request::UploadDirectoryUnpack { command_id }
            | Request::ReadFile { command_id, .. }
            | Request::ReadFileClose { command_id } => Some(command_id),
        }
    }

    /// The frame fields besides `op` and `seq_number`.
    pub(crate) fn fields(&self) -> Vec<(&'static str, Value)> {
        let id = |command_id: &CommandId| ("command_id", Value::from(command_id.0.as_str()));
        match self {
            Request::Print { message } => vec![("message", Value::from(message.as_str()))],
            Request::Keepalive | Request::GetWorkerInfo | Request::Shutdown => vec![],
            Request::SetWorkerSettings(settings) => vec![(
                "args",
                fields::map([
                    ("buffer_size", Value::from(settings.buffer_size)),
                    ("buffer_timeout", Value::from(settings.buffer_timeout)),
                    ("newline_re", Value::from(settings.newline_re.as_str())),
                    ("max_line_length", Value::from(settings.max_line_length)),
                ]),
            )],
            Request::StartCommand {
                command_id,
                command,
                builder_name,
            } => {
                let mut out = vec![
                    id(command_id),
                    ("command_name", Value::from(command.name())),
                    ("args", command.args_value()),
                ];
                if let Some(builder_name) = builder_name {
                    out.push(("builder_name", Value::from(builder_name.as_str())));
                }
                out
            }
            Request::InterruptCommand { command_id, why } => {
                vec![id(command_id), ("why", Value::from(why.as_str()))]
            }
            Request::Update {
                command_id,
                updates,
            } => vec![
                id(command_id),
                (
                    "args",
                    Value::Array(updates.iter().map(Update::to_value).collect()),
                ),
            ],
            Request::Complete {
                command_id,
                failure,
            } => vec![id(command_id), ("args", fields::opt(failure.as_deref()))],
            Request::UploadFileWrite { command_id, data }
            | Request::UploadDirectoryWrite { command_id, data } => {
                vec![id(command_id), ("args", Value::Binary(data.clone()))]
            }
            Request::UploadFileUtime {
                command_id,
                access_time,
                modified_time,
            } => vec![
                id(command_id),
                ("access_time", Value::from(*access_time)),
                ("modified_time", Value::from(*modified_time)),
            ],
            Request::ReadFile { command_id, length } => {
                vec![id(command_id), ("length", Value::from(*length))]
            }
            Request::UploadFileClose { command_id }
            | Request::UploadDirectoryUnpack { command_id }
            | Request::ReadFileClose { command_id } => vec![id(command_id)],
        }
    }

    /// Reads the request `op` from the fields of its frame.
    pub(crate) fn from_fields(op: &str, frame: &Fields<'_>) -> Result<Request, FrameError> {
        let command_id = || frame.text("command_id").map(CommandId);
        Ok(match op {
            "print" => Request::Print {
                message: frame.text("message")?,
            },
            "keepalive" => Request::Keepalive,
            "get_worker_info" => Request::GetWorkerInfo,
            "shutdown" => Request::Shutdown,
            "set_worker_settings" => {
                let args = Fields::new(frame.required("args")?, "args")?;
                Request::SetWorkerSettings(WorkerSettings {
                    buffer_size: args.uint("buffer_size")?,
                    buffer_timeout: args.number("buffer_timeout")?,
                    newline_re: args.text("newline_re")?,
                    max_line_length: args.uint("max_line_length")?,
                })
            }
            "start_command" => {
                let command_name = frame.text("command_name")?;
                Request::StartCommand {
                    command_id: command_id()?,
                    command: Command::from_value(&command_name, frame.required("args")?)?,
                    builder_name: frame.opt_text("builder_name")?,
                }
            }
            "interrupt_command" => Request::InterruptCommand {
                command_id: command_id()?,
                why: frame.opt_text("why")?.unwrap_or_default(),
            },
            "update" => {
                let items = fields::array(frame.required("args")?, "args")?;
                let updates = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| Update::from_value(item, &format!("args[{i}]")))
                    .collect::<Result<_, _>>()?;
                Request::Update {
                    command_id: command_id()?,
                    updates,
                }
            }
            "complete" => Request::Complete {
                command_id: command_id()?,
                failure: fields::opt_text(frame.required("args")?, "args")?,
            },
            "update_upload_file_write" => Request::UploadFileWrite {
                command_id: command_id()?,
                data: frame.bytes("args")?,
            },
            "update_upload_file_close" => Request::UploadFileClose {
                command_id: command_id()?,
            },
            "update_upload_file_utime" => Request::UploadFileUtime {
                command_id: command_id()?,
                access_time: frame.number("access_time")?,
                modified_time: frame.number("modified_time")?,
            },
            "update_upload_directory_write" => Request::UploadDirectoryWrite {
                command_id: command_id()?,
                data: frame.bytes("args")?,
            },
            "update_upload_directory_unpack" => Request::UploadDirectoryUnpack {
                command_id: command_id()?,
            },
            "update_read_file" => Request::ReadFile {
                command_id: command_id()?,
                length: frame.uint("length")?,
            },
            "update_read_file_close" => Request::ReadFileClose {
                command_id: command_id()?,
            },
            other => return Err(FrameError::UnknownOp(other.to_string())),
        })
    }
}
