//! Build properties and their interpolation into step commands (`%(prop:NAME)s`).

use std::collections::BTreeMap;

use oebb_config::paths::{self, PathError};
use serde_json::{Map, Value};

use crate::step::{Step, StepCommand};

/// A build's properties: name → (value, source).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Properties {
    values: BTreeMap<String, (Value, String)>,
}

impl Properties {
    /// Sets a property, replacing an earlier value.
    pub fn set(&mut self, name: &str, value: Value, source: &str) {
        self.values
            .insert(name.to_string(), (value, source.to_string()));
    }

    /// A property's value.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name).map(|(v, _)| v)
    }

    /// Every property with its source.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value, &str)> {
        self.values
            .iter()
            .map(|(n, (v, s))| (n.as_str(), v, s.as_str()))
    }

    /// Replaces `%(prop:NAME)s` by the property's text (strings as they are, other values as
    /// JSON, missing ones as nothing) and `%(prop:NAME:-DEFAULT)s` by DEFAULT when missing.
    pub fn interpolate(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for piece in pieces(text) {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Property { name, default } => out.push_str(&self.text(name, default)),
            }
        }
        out
    }

    /// [`Properties::interpolate`] for a path of a step: every value put in is checked to be
    /// one path component ([`paths::property_value`]), so a property can name a file or a
    /// directory but never lead the path anywhere else.
    pub fn interpolate_path(&self, template: &str) -> Result<String, PathError> {
        let mut out = String::with_capacity(template.len());
        for piece in pieces(template) {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Property { name, default } => {
                    let value = self.text(name, default);
                    paths::property_value(name, &value)?;
                    out.push_str(&value);
                }
            }
        }
        Ok(out)
    }

    /// The text a placeholder is replaced by.
    fn text(&self, name: &str, default: Option<&str>) -> String {
        match (self.get(name), default) {
            (Some(Value::String(s)), _) => s.clone(),
            (Some(Value::Null), Some(d)) | (None, Some(d)) => d.to_string(),
            (Some(v), _) => v.to_string(),
            (None, None) => String::new(),
        }
    }
}

/// A piece of a text with placeholders.
enum Piece<'a> {
    Text(&'a str),
    Property {
        name: &'a str,
        default: Option<&'a str>,
    },
}

/// `text` cut into literal text and `%(prop:NAME[:-DEFAULT])s` placeholders; an unclosed
/// placeholder is text.
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(paths::PLACEHOLDER) {
        let after = &rest[start + paths::PLACEHOLDER.len()..];
        let Some(end) = after.find(")s") else {
            break;
        };
        out.push(Piece::Text(&rest[..start]));
        let spec = &after[..end];
        let (name, default) = match spec.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (spec, None),
        };
        out.push(Piece::Property { name, default });
        rest = &after[end + 2..];
    }
    out.push(Piece::Text(rest));
    out
}

/// The texts of a step that become paths, on the worker or on the master.
fn path_templates(step: &Step) -> Vec<String> {
    let mut out = vec![step.workdir.clone()];
    out.extend(step.log_files.values().cloned());
    match &step.command {
        StepCommand::Download { source, dest, .. } => {
            out.extend([source.to_string_lossy().into_owned(), dest.clone()])
        }
        StepCommand::Upload { source, dest } => {
            out.extend([source.clone(), dest.to_string_lossy().into_owned()])
        }
        StepCommand::UploadDirectory { source, dest, .. } => {
            out.extend([source.clone(), dest.clone()])
        }
        StepCommand::Analyze { logfile, .. } => out.push(logfile.clone()),
        StepCommand::Argv(_) | StepCommand::Script(_) | StepCommand::SetProperties(_) => {}
    }
    out
}

/// Checks, when a build is forced, the properties it sets that `steps` (the builder's) put in
/// a path: each must be one path component, as the runner will check again ([`Properties::
/// interpolate_path`]). Properties that only reach commands (through the environment) are
/// free: a git tag may hold a `/`.
pub fn check_forced(forced: &Map<String, Value>, steps: &[Step]) -> Result<(), PathError> {
    let mut given = Properties::default();
    for (name, value) in forced {
        given.set(name, value.clone(), "force");
    }
    for template in steps.iter().flat_map(path_templates) {
        for piece in pieces(&template) {
            if let Piece::Property { name, default } = piece {
                if forced.contains_key(name) {
                    paths::property_value(name, &given.text(name, default))?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_properties() {
        let mut p = Properties::default();
        p.set("rev", Value::from("abc"), "test");
        p.set("n", Value::from(3), "test");
        assert_eq!(p.interpolate("x %(prop:rev)s y"), "x abc y");
        assert_eq!(p.interpolate("%(prop:n)s%(prop:missing)s!"), "3!");
        assert_eq!(p.interpolate("%(prop:missing:-dflt)s"), "dflt");
        assert_eq!(p.interpolate("%(prop:rev"), "%(prop:rev");
        assert_eq!(p.interpolate("100% done"), "100% done");
    }

    #[test]
    fn a_property_in_a_path_is_one_name() {
        let mut p = Properties::default();
        p.set("tag", Value::from("1.0"), "force");
        p.set("n", Value::from(3), "build");
        let t = "public_html/doc/p/%(prop:tag:-current)s";
        assert_eq!(p.interpolate_path(t).unwrap(), "public_html/doc/p/1.0");
        assert_eq!(p.interpolate_path("b/%(prop:n)s").unwrap(), "b/3");
        assert_eq!(
            p.interpolate_path("%(prop:none:-current)s").unwrap(),
            "current"
        );
        for bad in ["../../..", "..", "", "a/b", "/abs", ".", "a\0"] {
            p.set("tag", Value::from(bad), "force");
            let err = p.interpolate_path(t).unwrap_err();
            assert_eq!(
                err.subject,
                paths::Subject::Property("tag".into()),
                "{bad:?}"
            );
        }
        // A missing property without default would leave an empty name.
        assert!(p.interpolate_path("x/%(prop:none)s").is_err());
    }

    fn doc_upload() -> Step {
        Step::new(
            "upload_doc",
            StepCommand::UploadDirectory {
                source: "doc/_build/html".into(),
                dest: "public_html/doc/p/%(prop:buildout-tag:-current)s".into(),
                url: None,
            },
        )
    }

    #[test]
    fn forced_properties_are_checked_where_the_steps_put_them_in_paths() {
        let steps = [
            Step::script("checkout", "git checkout \"$BUILDOUT_TAG\"")
                .env("BUILDOUT_TAG", "%(prop:buildout-tag)s"),
            doc_upload(),
        ];
        let force = |value: Value| Map::from_iter([("buildout-tag".to_string(), value)]);
        assert!(check_forced(&force(Value::from("1.0")), &steps).is_ok());
        assert!(check_forced(&force(Value::Null), &steps).is_ok());
        assert!(check_forced(&Map::new(), &steps).is_ok());
        for bad in ["../../..", "..", "", "a/b", "/abs"] {
            let err = check_forced(&force(Value::from(bad)), &steps).unwrap_err();
            assert!(
                err.to_string().starts_with("build property `buildout-tag`"),
                "{err}"
            );
        }
        // Only in a command's environment: a tag with a `/` is a git tag like any other.
        assert!(check_forced(&force(Value::from("release/1.0")), &steps[..1]).is_ok());
        let archive = Step::new(
            "download_archive",
            StepCommand::Download {
                source: "/srv/rel/%(prop:sub)s/%(prop:arch)s.tar.bz2".into(),
                dest: "%(prop:arch)s.tar.bz2".into(),
                mode: None,
            },
        );
        let sub = Map::from_iter([("sub".to_string(), Value::from("../../etc"))]);
        assert!(check_forced(&sub, &[archive]).is_err());
        let logs = Step::script("x", "true").log_file("l", "%(prop:log)s");
        let log = Map::from_iter([("log".to_string(), Value::from("../../x"))]);
        assert!(check_forced(&log, &[logs]).is_err());
    }
}
