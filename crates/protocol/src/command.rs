//! The commands a master starts on a worker and their arguments (worker-protocol.md §2.6).
//!
//! Paths are the worker's absolute paths, computed by the master; they stay `String`s because
//! they follow the worker's platform, not this process's. Unknown argument keys are ignored on
//! decoding, as Buildbot's worker does; known ones are checked strictly.

use std::collections::BTreeMap;

use rmpv::Value;

use crate::fields::{self, Fields};
use crate::frame::FrameError;

/// A command and its arguments, as sent in `start_command`.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Run a program or a shell script (boxed: its arguments dwarf every other command's).
    Shell(Box<ShellArgs>),
    /// Create directories (with parents).
    Mkdir {
        /// Absolute paths.
        paths: Vec<String>,
    },
    /// Remove directory trees (`rm -rf`).
    Rmdir(RmdirArgs),
    /// Copy a directory tree (`cp -R -P -p`).
    Cpdir(CpdirArgs),
    /// `os.stat` a path; answered with a `stat` update.
    Stat {
        /// Absolute path.
        path: String,
    },
    /// Expand a glob pattern (recursive); answered with a `files` update of absolute paths.
    Glob {
        /// Absolute pattern.
        path: String,
    },
    /// List a directory; answered with a `files` update of names.
    Listdir {
        /// Absolute path.
        path: String,
    },
    /// Remove a file.
    Rmfile {
        /// Absolute path.
        path: String,
    },
    /// Send a worker file to the master, block by block.
    UploadFile(UploadFileArgs),
    /// Send a worker directory to the master as a tar stream, block by block.
    UploadDirectory(UploadDirectoryArgs),
    /// Write a file on the worker from blocks the master sends.
    DownloadFile(DownloadFileArgs),
}

/// Arguments of `shell`.
#[derive(Debug, Clone, PartialEq)]
pub struct ShellArgs {
    /// Absolute directory to run in; the worker creates it if missing.
    pub workdir: String,
    /// What to run.
    pub command: CommandLine,
    /// Environment changes applied to the worker's environment.
    pub env: BTreeMap<String, EnvValue>,
    /// Whether stdout is sent back.
    pub want_stdout: bool,
    /// Whether stderr is sent back.
    pub want_stderr: bool,
    /// Extra log files the worker watches, by log name.
    pub logfiles: BTreeMap<String, LogFileSpec>,
    /// Seconds without output before the command is killed.
    pub timeout: Option<f64>,
    /// Seconds the command may run in all.
    pub max_time: Option<f64>,
    /// Lines of output after which the command is killed.
    pub max_lines: Option<u64>,
    /// Seconds between SIGTERM and SIGKILL when killing.
    pub sigterm_time: Option<f64>,
    /// Run under a pseudo-terminal.
    pub use_pty: bool,
    /// Print the whole environment in the header (it is long, and may hold secrets).
    pub log_environ: bool,
    /// Text written to the command's stdin.
    pub initial_stdin: Option<String>,
    /// Signal name used to interrupt (worker default: `KILL`).
    pub interrupt_signal: Option<String>,
}

impl ShellArgs {
    /// A shell command with the worker's defaults, except that the environment is not logged.
    pub fn new(workdir: impl Into<String>, command: CommandLine) -> Self {
        ShellArgs {
            workdir: workdir.into(),
            command,
            env: BTreeMap::new(),
            want_stdout: true,
            want_stderr: true,
            logfiles: BTreeMap::new(),
            timeout: None,
            max_time: None,
            max_lines: None,
            sigterm_time: None,
            use_pty: false,
            log_environ: false,
            initial_stdin: None,
            interrupt_signal: None,
        }
    }
}

/// The program of a `shell` command.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandLine {
    /// Executed directly, looked up in `$PATH`.
    Argv(Vec<Arg>),
    /// Run with `/bin/sh -c`.
    Script(String),
}

/// One argument of an argv command line.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// Passed and logged as it is.
    Plain(String),
    /// `real` is passed, `fake` is what the log shows (for passwords).
    Obfuscated {
        /// The argument given to the program.
        real: String,
        /// The argument shown in logs.
        fake: String,
    },
}

/// An environment change of a `shell` command.
#[derive(Debug, Clone, PartialEq)]
pub enum EnvValue {
    /// Set to this text (`${VAR}` is substituted by the worker).
    Set(String),
    /// Remove the variable.
    Unset,
    /// Set to the items joined with the worker's path separator.
    PathList(Vec<String>),
}

/// A log file a `shell` command watches.
#[derive(Debug, Clone, PartialEq)]
pub struct LogFileSpec {
    /// Path, relative to the workdir.
    pub filename: String,
    /// Start at the file's current end rather than its beginning.
    pub follow: bool,
}

/// Arguments of `rmdir`.
#[derive(Debug, Clone, PartialEq)]
pub struct RmdirArgs {
    /// Absolute paths.
    pub paths: Vec<String>,
    /// Seconds without output (worker default 120 when `None`).
    pub timeout: Option<f64>,
    /// Seconds in all.
    pub max_time: Option<f64>,
    /// Print the environment in the header.
    pub log_environ: bool,
}

/// Arguments of `cpdir`.
#[derive(Debug, Clone, PartialEq)]
pub struct CpdirArgs {
    /// Absolute source directory.
    pub from_path: String,
    /// Absolute destination directory.
    pub to_path: String,
    /// Seconds without output (worker default 120 when `None`).
    pub timeout: Option<f64>,
    /// Seconds in all.
    pub max_time: Option<f64>,
    /// Print the environment in the header.
    pub log_environ: bool,
}

/// Arguments of `upload_file`.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadFileArgs {
    /// Absolute path of the worker's file.
    pub path: String,
    /// Bytes per `update_upload_file_write`, chosen by the master.
    pub blocksize: u64,
    /// Largest size accepted; the upload fails beyond it.
    pub maxsize: Option<u64>,
    /// Also send the file's times (`update_upload_file_utime`).
    pub keepstamp: bool,
}

/// Arguments of `upload_directory`.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadDirectoryArgs {
    /// Absolute path of the worker's directory.
    pub path: String,
    /// Bytes per `update_upload_directory_write`.
    pub blocksize: u64,
    /// Largest size accepted.
    pub maxsize: Option<u64>,
    /// Compression of the tar stream.
    pub compress: Option<Compression>,
}

/// Compression of an uploaded directory's tar stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// gzip.
    Gz,
    /// bzip2.
    Bz2,
}

/// Arguments of `download_file`.
#[derive(Debug, Clone, PartialEq)]
pub struct DownloadFileArgs {
    /// Absolute path of the worker's file to write.
    pub path: String,
    /// Largest block the worker asks for per `update_read_file`.
    pub blocksize: u64,
    /// Largest size accepted.
    pub maxsize: Option<u64>,
    /// Unix permission bits of the written file.
    pub mode: Option<u32>,
}

impl From<ShellArgs> for Command {
    fn from(args: ShellArgs) -> Command {
        Command::Shell(Box::new(args))
    }
}

impl Command {
    /// The `command_name` on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Shell(_) => "shell",
            Command::Mkdir { .. } => "mkdir",
            Command::Rmdir(_) => "rmdir",
            Command::Cpdir(_) => "cpdir",
            Command::Stat { .. } => "stat",
            Command::Glob { .. } => "glob",
            Command::Listdir { .. } => "listdir",
            Command::Rmfile { .. } => "rmfile",
            Command::UploadFile(_) => "upload_file",
            Command::UploadDirectory(_) => "upload_directory",
            Command::DownloadFile(_) => "download_file",
        }
    }

    /// The `args` map of `start_command`.
    pub(crate) fn args_value(&self) -> Value {
        let text = |s: &str| Value::from(s);
        let list = |items: &[String]| Value::Array(items.iter().map(|s| text(s)).collect());
        match self {
            Command::Shell(a) => shell_args_value(a),
            Command::Mkdir { paths } => fields::map([("paths", list(paths))]),
            Command::Rmdir(a) => {
                let mut m = vec![
                    (text("paths"), list(&a.paths)),
                    (text("logEnviron"), Value::from(a.log_environ)),
                ];
                // Sending nil would mean "no timeout"; leaving the key out keeps 120 s.
                push_some(&mut m, "timeout", a.timeout);
                push_some(&mut m, "maxTime", a.max_time);
                Value::Map(m)
            }
            Command::Cpdir(a) => {
                let mut m = vec![
                    (text("from_path"), text(&a.from_path)),
                    (text("to_path"), text(&a.to_path)),
                    (text("logEnviron"), Value::from(a.log_environ)),
                ];
                push_some(&mut m, "timeout", a.timeout);
                push_some(&mut m, "maxTime", a.max_time);
                Value::Map(m)
            }
            Command::Stat { path }
            | Command::Glob { path }
            | Command::Listdir { path }
            | Command::Rmfile { path } => fields::map([("path", text(path))]),
            Command::UploadFile(a) => fields::map([
                ("path", text(&a.path)),
                ("blocksize", Value::from(a.blocksize)),
                ("maxsize", fields::opt(a.maxsize)),
                ("keepstamp", Value::from(a.keepstamp)),
            ]),
            Command::UploadDirectory(a) => fields::map([
                ("path", text(&a.path)),
                ("blocksize", Value::from(a.blocksize)),
                ("maxsize", fields::opt(a.maxsize)),
                (
                    "compress",
                    fields::opt(a.compress.map(|c| match c {
                        Compression::Gz => "gz",
                        Compression::Bz2 => "bz2",
                    })),
                ),
            ]),
            Command::DownloadFile(a) => fields::map([
                ("path", text(&a.path)),
                ("blocksize", Value::from(a.blocksize)),
                ("maxsize", fields::opt(a.maxsize)),
                ("mode", fields::opt(a.mode)),
            ]),
        }
    }

    /// Reads the command `name` (snake_case or Buildbot's camelCase alias) from its `args`.
    pub(crate) fn from_value(name: &str, args: &Value) -> Result<Command, FrameError> {
        let a = Fields::new(args, "args")?;
        Ok(match name {
            "shell" => Command::Shell(Box::new(shell_args_from(&a)?)),
            "mkdir" => Command::Mkdir {
                paths: a.text_list("paths")?,
            },
            "rmdir" => Command::Rmdir(RmdirArgs {
                paths: a.text_list("paths")?,
                timeout: a.opt_number("timeout")?,
                max_time: a.opt_number("maxTime")?,
                log_environ: a.bool_or("logEnviron", true)?,
            }),
            "cpdir" => Command::Cpdir(CpdirArgs {
                from_path: a.text("from_path")?,
                to_path: a.text("to_path")?,
                timeout: a.opt_number("timeout")?,
                max_time: a.opt_number("maxTime")?,
                log_environ: a.bool_or("logEnviron", true)?,
            }),
            "stat" => Command::Stat {
                path: a.text("path")?,
            },
            "glob" => Command::Glob {
                path: a.text("path")?,
            },
            "listdir" => Command::Listdir {
                path: a.text("path")?,
            },
            "rmfile" => Command::Rmfile {
                path: a.text("path")?,
            },
            "upload_file" | "uploadFile" => Command::UploadFile(UploadFileArgs {
                path: a.text("path")?,
                blocksize: a.uint("blocksize")?,
                maxsize: required_opt_uint(&a, "maxsize")?,
                keepstamp: a.bool_or("keepstamp", false)?,
            }),
            "upload_directory" | "uploadDirectory" => {
                let compress = match fields::opt_text(a.required("compress")?, &a.path("compress"))?
                    .as_deref()
                {
                    None => None,
                    Some("gz") => Some(Compression::Gz),
                    Some("bz2") => Some(Compression::Bz2),
                    Some(other) => {
                        return Err(FrameError::Invalid {
                            field: a.path("compress"),
                            reason: format!("{other:?} is not nil, \"gz\" or \"bz2\""),
                        })
                    }
                };
                Command::UploadDirectory(UploadDirectoryArgs {
                    path: a.text("path")?,
                    blocksize: a.uint("blocksize")?,
                    maxsize: required_opt_uint(&a, "maxsize")?,
                    compress,
                })
            }
            "download_file" | "downloadFile" => {
                let mode = match required_opt_uint(&a, "mode")? {
                    None => None,
                    Some(mode) => Some(u32::try_from(mode).map_err(|_| FrameError::Invalid {
                        field: a.path("mode"),
                        reason: format!("{mode} is not a file mode"),
                    })?),
                };
                Command::DownloadFile(DownloadFileArgs {
                    path: a.text("path")?,
                    blocksize: a.uint("blocksize")?,
                    maxsize: required_opt_uint(&a, "maxsize")?,
                    mode,
                })
            }
            other => return Err(FrameError::UnknownCommand(other.to_string())),
        })
    }
}

fn push_some(map: &mut Vec<(Value, Value)>, key: &str, value: Option<f64>) {
    if let Some(value) = value {
        map.push((Value::from(key), Value::from(value)));
    }
}

/// A key the worker reads with `args[key]` (so it must be there) whose value may be nil.
fn required_opt_uint(a: &Fields<'_>, key: &str) -> Result<Option<u64>, FrameError> {
    fields::opt_uint(a.required(key)?, &a.path(key))
}

fn shell_args_value(a: &ShellArgs) -> Value {
    let command = match &a.command {
        CommandLine::Script(script) => Value::from(script.as_str()),
        CommandLine::Argv(argv) => Value::Array(
            argv.iter()
                .map(|arg| match arg {
                    Arg::Plain(s) => Value::from(s.as_str()),
                    Arg::Obfuscated { real, fake } => Value::Array(vec![
                        Value::from("obfuscated"),
                        Value::from(real.as_str()),
                        Value::from(fake.as_str()),
                    ]),
                })
                .collect(),
        ),
    };
    let env = Value::Map(
        a.env
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    EnvValue::Set(s) => Value::from(s.as_str()),
                    EnvValue::Unset => Value::Nil,
                    EnvValue::PathList(items) => {
                        Value::Array(items.iter().map(|s| Value::from(s.as_str())).collect())
                    }
                };
                (Value::from(k.as_str()), v)
            })
            .collect(),
    );
    let logfiles = Value::Map(
        a.logfiles
            .iter()
            .map(|(name, spec)| {
                (
                    Value::from(name.as_str()),
                    fields::map([
                        ("filename", Value::from(spec.filename.as_str())),
                        ("follow", Value::from(spec.follow)),
                    ]),
                )
            })
            .collect(),
    );
    // Every key the stock master sends, so the worker sees the same shape from both masters.
    fields::map([
        ("workdir", Value::from(a.workdir.as_str())),
        ("env", env),
        ("want_stdout", Value::from(a.want_stdout)),
        ("want_stderr", Value::from(a.want_stderr)),
        ("logfiles", logfiles),
        ("timeout", fields::opt(a.timeout)),
        ("maxTime", fields::opt(a.max_time)),
        ("max_lines", fields::opt(a.max_lines)),
        ("sigtermTime", fields::opt(a.sigterm_time)),
        ("usePTY", Value::from(a.use_pty)),
        ("logEnviron", Value::from(a.log_environ)),
        ("initial_stdin", fields::opt(a.initial_stdin.as_deref())),
        (
            "interruptSignal",
            fields::opt(a.interrupt_signal.as_deref()),
        ),
        ("command", command),
    ])
}

fn shell_args_from(a: &Fields<'_>) -> Result<ShellArgs, FrameError> {
    let command_field = a.path("command");
    let command = match a.required("command")? {
        Value::Array(items) => CommandLine::Argv(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| arg_from(item, &format!("{command_field}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        other => CommandLine::Script(fields::text(other, &command_field)?),
    };
    let mut env = BTreeMap::new();
    if let Some(value) = a.present("env") {
        let vars = Fields::new(value, &a.path("env"))?;
        for name in vars.keys() {
            let field = vars.path(name);
            let value = match vars.required(name)? {
                Value::Nil => EnvValue::Unset,
                list @ Value::Array(_) => EnvValue::PathList(fields::text_list(list, &field)?),
                other => EnvValue::Set(fields::text(other, &field)?),
            };
            env.insert(name.to_string(), value);
        }
    }
    let mut logfiles = BTreeMap::new();
    if let Some(value) = a.present("logfiles") {
        let files = Fields::new(value, &a.path("logfiles"))?;
        for name in files.keys() {
            let field = files.path(name);
            let spec = match files.required(name)? {
                map @ Value::Map(_) => {
                    let spec = Fields::new(map, &field)?;
                    LogFileSpec {
                        filename: spec.text("filename")?,
                        follow: spec.bool_or("follow", false)?,
                    }
                }
                other => LogFileSpec {
                    filename: fields::text(other, &field)?,
                    follow: false,
                },
            };
            logfiles.insert(name.to_string(), spec);
        }
    }
    Ok(ShellArgs {
        workdir: a.text("workdir")?,
        command,
        env,
        want_stdout: a.bool_or("want_stdout", true)?,
        want_stderr: a.bool_or("want_stderr", true)?,
        logfiles,
        timeout: a.opt_number("timeout")?,
        max_time: a.opt_number("maxTime")?,
        max_lines: a.opt_uint("max_lines")?,
        sigterm_time: a.opt_number("sigtermTime")?,
        use_pty: a.bool_or("usePTY", false)?,
        log_environ: a.bool_or("logEnviron", true)?,
        initial_stdin: a.opt_text("initial_stdin")?,
        interrupt_signal: a.opt_text("interruptSignal")?,
    })
}

fn arg_from(value: &Value, field: &str) -> Result<Arg, FrameError> {
    match value {
        Value::Array(parts) => match parts.as_slice() {
            [tag, real, fake] if fields::text(tag, field).ok().as_deref() == Some("obfuscated") => {
                Ok(Arg::Obfuscated {
                    real: fields::text(real, &format!("{field}[1]"))?,
                    fake: fields::text(fake, &format!("{field}[2]"))?,
                })
            }
            _ => Err(FrameError::Invalid {
                field: field.to_string(),
                reason: "an array argument must be [\"obfuscated\", real, fake]".to_string(),
            }),
        },
        other => fields::text(other, field).map(Arg::Plain),
    }
}

#[cfg(test)]
mod tests;
