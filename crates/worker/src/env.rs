//! A `shell` command's environment: the worker's own, changed by the step's `env` the way the
//! stock worker's `RunProcess` does it.

use std::collections::{BTreeMap, HashMap};

use oebb_protocol::EnvValue;

/// The worker process's environment; the base every command's environment is made from.
pub(crate) fn worker_environment() -> HashMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// Applies a step's `env` to `base`: nil removes a variable, a list is joined with `:`,
/// `PYTHONPATH` keeps the worker's own after the step's, and `${VAR}` is replaced by the
/// worker's value of `VAR` (empty if unset). Returns the full environment and the step's
/// variables as they were set, for the header.
pub(crate) fn merge(
    base: &HashMap<String, String>,
    env: &BTreeMap<String, EnvValue>,
) -> (HashMap<String, String>, Vec<(String, String)>) {
    let mut merged = base.clone();
    let mut set = Vec::new();
    for (name, value) in env {
        let mut value = match value {
            EnvValue::Unset => {
                merged.remove(name);
                continue;
            }
            EnvValue::Set(text) => text.clone(),
            EnvValue::PathList(items) => items.join(":"),
        };
        if name == "PYTHONPATH" {
            value.push_str(":${PYTHONPATH}");
        }
        let value = substitute(&value, base);
        merged.insert(name.clone(), value.clone());
        set.push((name.clone(), value));
    }
    (merged, set)
}

/// Replaces each `${NAME}` (NAME of `[0-9a-zA-Z_]*`) with its value in `base`.
fn substitute(text: &str, base: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if after[name_len..].starts_with('}') {
            let name = &after[..name_len];
            out.push_str(base.get(name).map(String::as_str).unwrap_or(""));
            rest = &after[name_len + 1..];
        } else {
            out.push_str("${");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> HashMap<String, String> {
        [
            ("PATH", "/usr/bin:/bin"),
            ("HOME", "/home/w"),
            ("GONE", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn substitutes_joins_and_removes() {
        let env = BTreeMap::from([
            (
                "PATH".to_string(),
                EnvValue::Set("/opt/pg/bin:${PATH}".into()),
            ),
            (
                "LD".to_string(),
                EnvValue::PathList(vec!["/a".into(), "${HOME}/lib".into()]),
            ),
            ("GONE".to_string(), EnvValue::Unset),
            ("ODD".to_string(), EnvValue::Set("${NOPE}-$HOME-${x".into())),
            ("PYTHONPATH".to_string(), EnvValue::Set("/src".into())),
        ]);
        let (merged, set) = merge(&base(), &env);
        assert_eq!(merged["PATH"], "/opt/pg/bin:/usr/bin:/bin");
        assert_eq!(merged["LD"], "/a:/home/w/lib");
        assert_eq!(merged["ODD"], "-$HOME-${x");
        assert_eq!(merged["PYTHONPATH"], "/src:");
        assert!(!merged.contains_key("GONE"));
        assert_eq!(merged["HOME"], "/home/w");
        assert_eq!(set.len(), 4, "{set:?}");
    }
}
