//! Typed reading of msgpack maps, so every decoding error names the field that was wrong.

use std::collections::HashMap;

use rmpv::Value;

use crate::frame::FrameError;

/// The short name of a value's msgpack type, for error messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Nil => "nil",
        Value::Boolean(_) => "bool",
        Value::Integer(_) => "int",
        Value::F32(_) | Value::F64(_) => "float",
        Value::String(_) => "str",
        Value::Binary(_) => "bin",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
        Value::Ext(..) => "ext",
    }
}

fn wrong_type(field: &str, expected: &'static str, value: &Value) -> FrameError {
    FrameError::WrongType {
        field: field.to_string(),
        expected,
        found: kind(value),
    }
}

fn invalid(field: &str, reason: impl Into<String>) -> FrameError {
    FrameError::Invalid {
        field: field.to_string(),
        reason: reason.into(),
    }
}

/// Text: msgpack `str`, or `bin` holding UTF-8, which Buildbot's worker also accepts
/// (`pbutil.decode`) because Python `bytes` in a master's arguments arrive as `bin`.
pub(crate) fn text(value: &Value, field: &str) -> Result<String, FrameError> {
    match value {
        Value::String(s) => match s.as_str() {
            Some(s) => Ok(s.to_string()),
            None => Err(invalid(field, "str is not valid UTF-8")),
        },
        Value::Binary(b) => {
            String::from_utf8(b.clone()).map_err(|_| wrong_type(field, "str", value))
        }
        _ => Err(wrong_type(field, "str", value)),
    }
}

/// Text or nil.
pub(crate) fn opt_text(value: &Value, field: &str) -> Result<Option<String>, FrameError> {
    match value {
        Value::Nil => Ok(None),
        _ => text(value, field).map(Some),
    }
}

/// File data: only msgpack `bin`, because the worker writes it to a binary file as it is.
pub(crate) fn bytes(value: &Value, field: &str) -> Result<Vec<u8>, FrameError> {
    match value {
        Value::Binary(b) => Ok(b.clone()),
        _ => Err(wrong_type(field, "bin", value)),
    }
}

/// A non-negative integer.
pub(crate) fn uint(value: &Value, field: &str) -> Result<u64, FrameError> {
    match value {
        Value::Integer(i) => i
            .as_u64()
            .ok_or_else(|| invalid(field, format!("{i} is not a non-negative integer"))),
        _ => Err(wrong_type(field, "int", value)),
    }
}

/// A non-negative integer or nil.
pub(crate) fn opt_uint(value: &Value, field: &str) -> Result<Option<u64>, FrameError> {
    match value {
        Value::Nil => Ok(None),
        _ => uint(value, field).map(Some),
    }
}

/// A signed integer.
pub(crate) fn int(value: &Value, field: &str) -> Result<i64, FrameError> {
    match value {
        Value::Integer(i) => i
            .as_i64()
            .ok_or_else(|| invalid(field, format!("{i} does not fit a signed 64-bit integer"))),
        _ => Err(wrong_type(field, "int", value)),
    }
}

/// A number; Python sends whole numbers of seconds as int and fractions as float.
pub(crate) fn number(value: &Value, field: &str) -> Result<f64, FrameError> {
    let n = match value {
        Value::Integer(i) => i.as_f64().unwrap_or(f64::NAN),
        Value::F32(f) => f64::from(*f),
        Value::F64(f) => *f,
        _ => return Err(wrong_type(field, "number", value)),
    };
    if n.is_finite() {
        Ok(n)
    } else {
        Err(invalid(field, "not a finite number"))
    }
}

/// A boolean.
pub(crate) fn boolean(value: &Value, field: &str) -> Result<bool, FrameError> {
    match value {
        Value::Boolean(b) => Ok(*b),
        _ => Err(wrong_type(field, "bool", value)),
    }
}

/// An array (Python lists and tuples both arrive as arrays).
pub(crate) fn array<'a>(value: &'a Value, field: &str) -> Result<&'a [Value], FrameError> {
    match value {
        Value::Array(items) => Ok(items),
        _ => Err(wrong_type(field, "array", value)),
    }
}

/// An array of text.
pub(crate) fn text_list(value: &Value, field: &str) -> Result<Vec<String>, FrameError> {
    array(value, field)?
        .iter()
        .enumerate()
        .map(|(i, item)| text(item, &format!("{field}[{i}]")))
        .collect()
}

/// A msgpack map whose keys are all text, read field by field.
pub(crate) struct Fields<'a> {
    context: String,
    entries: Vec<(String, &'a Value)>,
    /// Position of each key in `entries`: a peer's map can hold a million keys, so neither the
    /// duplicate check nor a lookup may scan them all.
    index: HashMap<String, usize>,
}

impl<'a> Fields<'a> {
    /// Reads `value` as a map; `context` prefixes every field name in errors.
    pub(crate) fn new(value: &'a Value, context: &str) -> Result<Self, FrameError> {
        let Value::Map(pairs) = value else {
            return Err(wrong_type(context, "map", value));
        };
        let mut entries: Vec<(String, &'a Value)> = Vec::with_capacity(pairs.len());
        let mut index = HashMap::with_capacity(pairs.len());
        for (key, val) in pairs {
            let key = text(key, &format!("{context} key"))?;
            if index.insert(key.clone(), entries.len()).is_some() {
                // Python would silently keep the last one; a peer sending two is broken.
                return Err(invalid(context, format!("duplicate key {key:?}")));
            }
            entries.push((key, val));
        }
        Ok(Fields {
            context: context.to_string(),
            entries,
            index,
        })
    }

    /// The dotted name of `key` for error messages.
    pub(crate) fn path(&self, key: &str) -> String {
        if self.context.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.context)
        }
    }

    /// The value of `key`, if present.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.index.get(key).map(|&i| self.entries[i].1)
    }

    /// The value of `key`, which must be present (nil allowed).
    pub(crate) fn required(&self, key: &str) -> Result<&'a Value, FrameError> {
        self.get(key).ok_or_else(|| FrameError::Missing {
            field: self.path(key),
        })
    }

    /// The value of `key` when present and not nil.
    pub(crate) fn present(&self, key: &str) -> Option<&'a Value> {
        self.get(key).filter(|v| !v.is_nil())
    }

    /// The keys in the order they came.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    pub(crate) fn text(&self, key: &str) -> Result<String, FrameError> {
        text(self.required(key)?, &self.path(key))
    }

    pub(crate) fn opt_text(&self, key: &str) -> Result<Option<String>, FrameError> {
        self.present(key)
            .map(|v| text(v, &self.path(key)))
            .transpose()
    }

    pub(crate) fn uint(&self, key: &str) -> Result<u64, FrameError> {
        uint(self.required(key)?, &self.path(key))
    }

    pub(crate) fn opt_uint(&self, key: &str) -> Result<Option<u64>, FrameError> {
        self.present(key)
            .map(|v| uint(v, &self.path(key)))
            .transpose()
    }

    pub(crate) fn number(&self, key: &str) -> Result<f64, FrameError> {
        number(self.required(key)?, &self.path(key))
    }

    pub(crate) fn opt_number(&self, key: &str) -> Result<Option<f64>, FrameError> {
        self.present(key)
            .map(|v| number(v, &self.path(key)))
            .transpose()
    }

    pub(crate) fn bool_or(&self, key: &str, default: bool) -> Result<bool, FrameError> {
        self.present(key)
            .map(|v| boolean(v, &self.path(key)))
            .transpose()
            .map(|b| b.unwrap_or(default))
    }

    pub(crate) fn text_list(&self, key: &str) -> Result<Vec<String>, FrameError> {
        text_list(self.required(key)?, &self.path(key))
    }

    pub(crate) fn bytes(&self, key: &str) -> Result<Vec<u8>, FrameError> {
        bytes(self.required(key)?, &self.path(key))
    }
}

/// Builds a msgpack map from text keys, in the given order.
pub(crate) fn map<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

/// Nil for `None`.
pub(crate) fn opt<T: Into<Value>>(value: Option<T>) -> Value {
    value.map_or(Value::Nil, Into::into)
}
