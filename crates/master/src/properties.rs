//! Build properties and their interpolation into step commands (`%(prop:NAME)s`).

use std::collections::BTreeMap;

use serde_json::Value;

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
        let mut rest = text;
        while let Some(start) = rest.find("%(prop:") {
            out.push_str(&rest[..start]);
            let after = &rest[start + "%(prop:".len()..];
            let Some(end) = after.find(")s") else {
                out.push_str(&rest[start..]);
                return out;
            };
            let spec = &after[..end];
            let (name, default) = match spec.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (spec, None),
            };
            match (self.get(name), default) {
                (Some(Value::String(s)), _) => out.push_str(s),
                (Some(Value::Null), Some(d)) | (None, Some(d)) => out.push_str(d),
                (Some(v), _) => out.push_str(&v.to_string()),
                (None, None) => {}
            }
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        out
    }
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
}
