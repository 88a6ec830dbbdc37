//! Bounds on what a user may send: the size of a request body, and the property map and
//! reason of a force. A property's name becomes an interpolation key (`%(prop:NAME)s`) and
//! reaches steps' environments, and every value is stored with the request and copied into
//! each of its builds, so both are bounded before anything is stored.

use serde_json::{Map, Value};

/// The largest request body the web side reads (forms and API JSON alike): room for the
/// largest property map allowed below, percent-encoded or JSON-escaped.
pub const MAX_BODY: usize = 128 * 1024;

/// What a 413 answer says.
pub fn body_too_large() -> String {
    format!(
        "the request body is larger than {} KiB, the most the master reads; a force may set \
         at most {MAX_PROPERTIES} properties of at most {MAX_VALUE} bytes each and \
         {MAX_VALUES_TOTAL} bytes in all",
        MAX_BODY / 1024
    )
}

/// The most properties a force may set.
pub const MAX_PROPERTIES: usize = 64;

/// The longest property name, in bytes.
pub const MAX_NAME: usize = 100;

/// The longest property value, in bytes (a string's UTF-8, any other value's JSON text).
pub const MAX_VALUE: usize = 4 * 1024;

/// The most bytes all of a force's property values may take together.
pub const MAX_VALUES_TOTAL: usize = 32 * 1024;

/// The longest reason of a force, in bytes.
pub const MAX_REASON: usize = 1024;

/// Why a force's reason or properties were refused; each message names the property and
/// the limit.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ForceInputError {
    /// Too many properties.
    #[error("{count} properties given: a force may set at most {MAX_PROPERTIES}")]
    TooManyProperties {
        /// How many were given.
        count: usize,
    },
    /// A name that is not an identifier.
    #[error(
        "bad property name {name:?}: a name starts with a letter or '_' and holds only \
         letters, digits, '-', '_' and '.', at most {MAX_NAME} of them"
    )]
    BadName {
        /// The name, cut to its first 40 characters.
        name: String,
    },
    /// One value too long.
    #[error("property {name:?} is {size} bytes long: a value may have at most {MAX_VALUE}")]
    ValueTooLong {
        /// The property.
        name: String,
        /// Its size.
        size: usize,
    },
    /// All values together too long.
    #[error(
        "the property values take {size} bytes in all (property {name:?} goes over): \
         at most {MAX_VALUES_TOTAL} together"
    )]
    ValuesTooLarge {
        /// The property whose value crossed the limit.
        name: String,
        /// The total size.
        size: usize,
    },
    /// A reason too long.
    #[error("the reason is {size} bytes long: at most {MAX_REASON}")]
    ReasonTooLong {
        /// Its size.
        size: usize,
    },
}

/// Whether `name` may name a forced property: an identifier of ASCII letters, digits, `_`,
/// `-` and `.` that starts with a letter or `_` (so no `..`, no `:` or `)` that would end an
/// interpolation key, nothing a shell or a path reads specially).
pub fn valid_property_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok
        && name.len() <= MAX_NAME
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A value's size as it is stored: a string's bytes, any other value's JSON text.
fn value_size(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        other => other.to_string().len(),
    }
}

/// A user's text cut for an error message: a refused name may be a megabyte long.
fn shown(text: &str) -> String {
    const SHOWN: usize = 40;
    match text.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// Checks a force's reason and properties against the bounds above.
pub fn check_force(reason: &str, properties: &Map<String, Value>) -> Result<(), ForceInputError> {
    if reason.len() > MAX_REASON {
        return Err(ForceInputError::ReasonTooLong { size: reason.len() });
    }
    if properties.len() > MAX_PROPERTIES {
        return Err(ForceInputError::TooManyProperties {
            count: properties.len(),
        });
    }
    let mut total = 0;
    for (name, value) in properties {
        if !valid_property_name(name) {
            return Err(ForceInputError::BadName { name: shown(name) });
        }
        let size = value_size(value);
        if size > MAX_VALUE {
            return Err(ForceInputError::ValueTooLong {
                name: name.clone(),
                size,
            });
        }
        total += size;
        if total > MAX_VALUES_TOTAL {
            return Err(ForceInputError::ValuesTooLarge {
                name: name.clone(),
                size: total,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(pairs: &[(&str, Value)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn names_are_identifiers() {
        for good in ["buildout-tag", "a", "_x", "odoo.version", "A1_b-c.d"] {
            assert!(valid_property_name(good), "{good}");
        }
        let long = "a".repeat(MAX_NAME + 1);
        for bad in [
            "", "..", ".x", "-x", "1x", "a b", "a/b", "a:-b", "x)s", "é", "a\nb", &long,
        ] {
            assert!(!valid_property_name(bad), "{bad:?}");
        }
        assert!(valid_property_name(&"a".repeat(MAX_NAME)));
    }

    #[test]
    fn sizes_are_bounded_per_value_and_in_all() {
        let ok = map(&[("buildout-tag", json!("v1")), ("n", json!(3))]);
        assert_eq!(check_force("why", &ok), Ok(()));
        let at_limit = map(&[("a", json!("x".repeat(MAX_VALUE)))]);
        assert_eq!(check_force("", &at_limit), Ok(()));
        let over = map(&[("big", json!("x".repeat(MAX_VALUE + 1)))]);
        assert_eq!(
            check_force("", &over),
            Err(ForceInputError::ValueTooLong {
                name: "big".into(),
                size: MAX_VALUE + 1
            })
        );
        // Non-strings count by their JSON text.
        let list = map(&[("l", json!(vec!["xxxxxxxxxx"; 400]))]);
        assert!(matches!(
            check_force("", &list),
            Err(ForceInputError::ValueTooLong { .. })
        ));
        let many: Map<String, Value> = (0..9)
            .map(|i| (format!("p{i}"), json!("x".repeat(MAX_VALUE))))
            .collect();
        let e = check_force("", &many).unwrap_err();
        assert!(matches!(e, ForceInputError::ValuesTooLarge { .. }), "{e}");
        assert!(e.to_string().contains("32768"), "{e}");
    }

    #[test]
    fn counts_names_and_reasons_are_bounded() {
        let too_many: Map<String, Value> = (0..=MAX_PROPERTIES)
            .map(|i| (format!("p{i}"), json!(1)))
            .collect();
        assert_eq!(
            check_force("", &too_many),
            Err(ForceInputError::TooManyProperties {
                count: MAX_PROPERTIES + 1
            })
        );
        let huge_name = "é".repeat(10_000);
        let e = check_force("", &map(&[(huge_name.as_str(), json!(1))])).unwrap_err();
        assert!(
            e.to_string().len() < 400,
            "the message quotes a cut name: {e}"
        );
        assert_eq!(
            check_force(&"r".repeat(MAX_REASON + 1), &Map::new()),
            Err(ForceInputError::ReasonTooLong {
                size: MAX_REASON + 1
            })
        );
    }
}
