//! The map a worker answers to `get_worker_info` (worker-protocol.md §2.2).

use std::collections::BTreeMap;

use rmpv::Value;

use crate::fields::{self, Fields};
use crate::frame::FrameError;

/// What a worker says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerInfo {
    /// Absolute base directory; the master builds every command path from it.
    pub basedir: String,
    /// `posix` or `nt` (Python's `os.name`): which path syntax the worker uses.
    pub system: String,
    /// CPUs the worker reports.
    pub numcpus: Option<u64>,
    /// Worker software version (`"4.3.0"` for the stock worker).
    pub version: Option<String>,
    /// The worker's whole environment; the stock worker sends it unasked.
    pub environ: BTreeMap<String, String>,
    /// Commands the worker knows, with their versions.
    pub worker_commands: BTreeMap<String, String>,
    /// Whether the worker wants leftover builder directories removed.
    pub delete_leftover_dirs: Option<bool>,
    /// The other keys: one per file of `BASEDIR/info/` (`admin`, `host`, …) and `os_*`.
    pub other: BTreeMap<String, Value>,
}

/// A Python truth value that the stock worker sends as bool or as int (`buildbot.tac` writes
/// `delete_leftover_dirs = 0`).
fn flag(value: &Value, field: &str) -> Result<bool, FrameError> {
    match value {
        Value::Integer(i) => Ok(i.as_i64() != Some(0)),
        _ => fields::boolean(value, field),
    }
}

impl WorkerInfo {
    /// Reads the `get_worker_info` result.
    pub fn from_value(value: &Value) -> Result<WorkerInfo, FrameError> {
        let info = Fields::new(value, "worker_info")?;
        let string_map = |key: &str| -> Result<BTreeMap<String, String>, FrameError> {
            let mut out = BTreeMap::new();
            if let Some(value) = info.present(key) {
                let map = Fields::new(value, &info.path(key))?;
                for name in map.keys() {
                    let value = fields::text(map.required(name)?, &map.path(name))?;
                    out.insert(name.to_string(), value);
                }
            }
            Ok(out)
        };
        const KNOWN: [&str; 7] = [
            "basedir",
            "system",
            "numcpus",
            "version",
            "environ",
            "worker_commands",
            "delete_leftover_dirs",
        ];
        let other = info
            .keys()
            .filter(|k| !KNOWN.contains(k))
            .filter_map(|k| info.get(k).map(|v| (k.to_string(), v.clone())))
            .collect();
        Ok(WorkerInfo {
            basedir: info.text("basedir")?,
            system: info.text("system")?,
            numcpus: info.opt_uint("numcpus")?,
            version: info.opt_text("version")?,
            environ: string_map("environ")?,
            worker_commands: string_map("worker_commands")?,
            delete_leftover_dirs: info
                .present("delete_leftover_dirs")
                .map(|v| flag(v, &info.path("delete_leftover_dirs")))
                .transpose()?,
            other,
        })
    }

    /// The map to answer `get_worker_info` with.
    pub fn to_value(&self) -> Value {
        let string_map = |m: &BTreeMap<String, String>| {
            Value::Map(
                m.iter()
                    .map(|(k, v)| (Value::from(k.as_str()), Value::from(v.as_str())))
                    .collect(),
            )
        };
        let mut entries = vec![
            (Value::from("basedir"), Value::from(self.basedir.as_str())),
            (Value::from("system"), Value::from(self.system.as_str())),
            (Value::from("numcpus"), fields::opt(self.numcpus)),
            (Value::from("version"), fields::opt(self.version.as_deref())),
            (Value::from("environ"), string_map(&self.environ)),
            (
                Value::from("worker_commands"),
                string_map(&self.worker_commands),
            ),
            (
                Value::from("delete_leftover_dirs"),
                fields::opt(self.delete_leftover_dirs),
            ),
        ];
        entries.extend(
            self.other
                .iter()
                .map(|(k, v)| (Value::from(k.as_str()), v.clone())),
        );
        Value::Map(entries)
    }
}
