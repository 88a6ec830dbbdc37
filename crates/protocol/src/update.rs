//! The `[key, value]` pairs of an `update` (worker-protocol.md §2.5).

use rmpv::Value;

use crate::fields;
use crate::frame::FrameError;

/// Whole lines of one output stream, as the worker batches them.
#[derive(Debug, Clone, PartialEq)]
pub struct LogChunk {
    /// One or more lines, each ending with `\n`.
    pub text: String,
    /// Position of each line's `\n` in `text`, counted in Unicode code points (Python `str`).
    pub newline_offsets: Vec<u64>,
    /// Unix time at which each line was read. The worker can send fewer times than offsets
    /// when it splits an over-long trailing line, so the lengths are not checked against each other.
    pub line_times: Vec<f64>,
}

impl LogChunk {
    /// A chunk of whole lines stamped with one time, as the worker would send it.
    pub fn from_lines(text: &str, time: f64) -> LogChunk {
        let newline_offsets: Vec<u64> = text
            .chars()
            .enumerate()
            .filter(|(_, c)| *c == '\n')
            .map(|(i, _)| i as u64)
            .collect();
        let line_times = vec![time; newline_offsets.len()];
        LogChunk {
            text: text.to_string(),
            newline_offsets,
            line_times,
        }
    }

    fn to_value(&self) -> Value {
        Value::Array(vec![
            Value::from(self.text.as_str()),
            Value::Array(
                self.newline_offsets
                    .iter()
                    .map(|&o| Value::from(o))
                    .collect(),
            ),
            Value::Array(self.line_times.iter().map(|&t| Value::from(t)).collect()),
        ])
    }

    fn from_value(value: &Value, field: &str) -> Result<LogChunk, FrameError> {
        let [text, offsets, times] = fields::array(value, field)? else {
            return Err(FrameError::Invalid {
                field: field.to_string(),
                reason: "expected [text, [newline offsets], [line times]]".to_string(),
            });
        };
        let text = fields::text(text, &format!("{field}[0]"))?;
        let newline_offsets = fields::array(offsets, &format!("{field}[1]"))?
            .iter()
            .map(|o| fields::uint(o, &format!("{field}[1][]")))
            .collect::<Result<Vec<_>, _>>()?;
        let line_times = fields::array(times, &format!("{field}[2]"))?
            .iter()
            .map(|t| fields::number(t, &format!("{field}[2][]")))
            .collect::<Result<_, _>>()?;
        Ok(LogChunk {
            text,
            newline_offsets,
            line_times,
        })
    }
}

/// `tuple(os.stat(path))` as the `stat` command sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    /// `st_mode`: file type and permission bits.
    pub mode: u64,
    /// `st_ino`.
    pub ino: u64,
    /// `st_dev`.
    pub dev: u64,
    /// `st_nlink`.
    pub nlink: u64,
    /// `st_uid`.
    pub uid: u64,
    /// `st_gid`.
    pub gid: u64,
    /// `st_size` in bytes.
    pub size: u64,
    /// `st_atime`, whole seconds.
    pub atime: i64,
    /// `st_mtime`, whole seconds.
    pub mtime: i64,
    /// `st_ctime`, whole seconds.
    pub ctime: i64,
}

impl FileStat {
    /// Whether the path is a directory (`S_ISDIR`).
    pub fn is_dir(&self) -> bool {
        self.mode & 0o170000 == 0o040000
    }

    /// Whether the path is a regular file (`S_ISREG`).
    pub fn is_file(&self) -> bool {
        self.mode & 0o170000 == 0o100000
    }

    fn to_value(self) -> Value {
        let unsigned = [
            self.mode, self.ino, self.dev, self.nlink, self.uid, self.gid, self.size,
        ];
        let signed = [self.atime, self.mtime, self.ctime];
        Value::Array(
            unsigned
                .iter()
                .map(|&n| Value::from(n))
                .chain(signed.iter().map(|&n| Value::from(n)))
                .collect(),
        )
    }

    fn from_value(value: &Value, field: &str) -> Result<FileStat, FrameError> {
        let items = fields::array(value, field)?;
        let [mode, ino, dev, nlink, uid, gid, size, atime, mtime, ctime] = items else {
            return Err(FrameError::Invalid {
                field: field.to_string(),
                reason: format!("expected the 10 integers of os.stat, found {}", items.len()),
            });
        };
        let u = |v: &Value, i: usize| fields::uint(v, &format!("{field}[{i}]"));
        let s = |v: &Value, i: usize| fields::int(v, &format!("{field}[{i}]"));
        Ok(FileStat {
            mode: u(mode, 0)?,
            ino: u(ino, 1)?,
            dev: u(dev, 2)?,
            nlink: u(nlink, 3)?,
            uid: u(uid, 4)?,
            gid: u(gid, 5)?,
            size: u(size, 6)?,
            atime: s(atime, 7)?,
            mtime: s(mtime, 8)?,
            ctime: s(ctime, 9)?,
        })
    }
}

/// One `[key, value]` pair of an `update`.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// Standard output lines.
    Stdout(LogChunk),
    /// Standard error lines.
    Stderr(LogChunk),
    /// Lines the worker writes about the command (command line, dir, elapsed time…).
    Header(LogChunk),
    /// Lines of a watched log file.
    Log {
        /// The log's name from `logfiles`.
        name: String,
        /// Its lines.
        chunk: LogChunk,
    },
    /// Exit code; -1 when killed by a signal, errno for file-system commands.
    Rc(i64),
    /// Seconds the command ran.
    Elapsed(f64),
    /// Why the worker killed the command: `timeout_without_output`, `timeout`, `max_lines_failure`.
    FailureReason(String),
    /// Names (`listdir`) or absolute paths (`glob`).
    Files(Vec<String>),
    /// Result of `stat`.
    Stat(FileStat),
    /// A key this protocol version does not know; kept so the master can log it.
    Other {
        /// The key.
        key: String,
        /// Its value as it came.
        value: Value,
    },
}

impl Update {
    /// The key on the wire.
    pub fn key(&self) -> &str {
        match self {
            Update::Stdout(_) => "stdout",
            Update::Stderr(_) => "stderr",
            Update::Header(_) => "header",
            Update::Log { .. } => "log",
            Update::Rc(_) => "rc",
            Update::Elapsed(_) => "elapsed",
            Update::FailureReason(_) => "failure_reason",
            Update::Files(_) => "files",
            Update::Stat(_) => "stat",
            Update::Other { key, .. } => key,
        }
    }

    /// The `[key, value]` array.
    pub(crate) fn to_value(&self) -> Value {
        let value = match self {
            Update::Stdout(c) | Update::Stderr(c) | Update::Header(c) => c.to_value(),
            Update::Log { name, chunk } => {
                Value::Array(vec![Value::from(name.as_str()), chunk.to_value()])
            }
            Update::Rc(rc) => Value::from(*rc),
            Update::Elapsed(s) => Value::from(*s),
            Update::FailureReason(r) => Value::from(r.as_str()),
            Update::Files(files) => {
                Value::Array(files.iter().map(|f| Value::from(f.as_str())).collect())
            }
            Update::Stat(stat) => stat.to_value(),
            Update::Other { value, .. } => value.clone(),
        };
        Value::Array(vec![Value::from(self.key()), value])
    }

    /// Reads one `[key, value]` array; `field` names it in errors.
    pub(crate) fn from_value(pair: &Value, field: &str) -> Result<Update, FrameError> {
        let [key, value] = fields::array(pair, field)? else {
            return Err(FrameError::Invalid {
                field: field.to_string(),
                reason: "an update is a [key, value] pair".to_string(),
            });
        };
        let key = fields::text(key, &format!("{field}[0]"))?;
        let vf = format!("{field}[1]");
        Ok(match key.as_str() {
            "stdout" => Update::Stdout(LogChunk::from_value(value, &vf)?),
            "stderr" => Update::Stderr(LogChunk::from_value(value, &vf)?),
            "header" => Update::Header(LogChunk::from_value(value, &vf)?),
            "log" => {
                let [name, chunk] = fields::array(value, &vf)? else {
                    return Err(FrameError::Invalid {
                        field: vf,
                        reason: "a log update is [logname, [text, offsets, times]]".to_string(),
                    });
                };
                Update::Log {
                    name: fields::text(name, &format!("{vf}[0]"))?,
                    chunk: LogChunk::from_value(chunk, &format!("{vf}[1]"))?,
                }
            }
            "rc" => Update::Rc(fields::int(value, &vf)?),
            "elapsed" => Update::Elapsed(fields::number(value, &vf)?),
            "failure_reason" => Update::FailureReason(fields::text(value, &vf)?),
            "files" => Update::Files(fields::text_list(value, &vf)?),
            "stat" => Update::Stat(FileStat::from_value(value, &vf)?),
            _ => Update::Other {
                key,
                value: value.clone(),
            },
        })
    }
}
