//! A validator for the part of JSON Schema an OpenAPI 3 document uses here: `type` (one name
//! or a list, OpenAPI 3.0's `nullable`), `required`, `properties`, `additionalProperties`,
//! `items`, `enum`, `oneOf`/`anyOf`/`allOf` and local `$ref`s. Unknown keywords that would
//! restrict values are reported, so a schema is never silently half-checked, and an object
//! with listed `properties` is closed unless `additionalProperties` opens it, so every field
//! the server sends must be documented.

use serde_json::Value;

/// Keywords that describe without restricting, or that this validator checks.
const KNOWN: &[&str] = &[
    "type",
    "nullable",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "enum",
    "oneOf",
    "anyOf",
    "allOf",
    "$ref",
    "description",
    "title",
    "example",
    "examples",
    "format",
    "default",
    "readOnly",
    "writeOnly",
    "deprecated",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
];

/// Checks `value` against `schema`, resolving `$ref`s in `document`; every violation, each
/// as `PATH: what is wrong`.
pub fn validate(document: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(document, schema, value, "$", &mut errors, 0);
    errors
}

/// The schema a local `$ref` (`#/components/schemas/Build`) points to.
pub fn resolve<'a>(document: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    document.pointer(pointer)
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}

fn check(
    doc: &Value,
    schema: &Value,
    value: &Value,
    at: &str,
    errors: &mut Vec<String>,
    depth: u32,
) {
    if depth > 64 {
        errors.push(format!("{at}: schema nests too deep (a $ref loop?)"));
        return;
    }
    let Some(schema) = schema.as_object() else {
        // `true`/`{}` accept everything; `false` nothing.
        if schema == &Value::Bool(false) {
            errors.push(format!("{at}: the schema accepts no value"));
        }
        return;
    };
    for key in schema.keys() {
        if !KNOWN.contains(&key.as_str()) && !key.starts_with("x-") {
            errors.push(format!(
                "{at}: schema keyword {key:?} is not checked by this test"
            ));
        }
    }
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        match resolve(doc, reference) {
            Some(target) => check(doc, target, value, at, errors, depth + 1),
            None => errors.push(format!("{at}: $ref {reference} points nowhere")),
        }
    }
    let nullable = schema.get("nullable") == Some(&Value::Bool(true));
    if value.is_null() && nullable {
        return;
    }
    match schema.get("type") {
        Some(Value::String(t)) if !type_matches(t, value) => {
            errors.push(format!("{at}: expected {t}, got {value}"));
            return;
        }
        Some(Value::Array(types))
            if !types
                .iter()
                .any(|t| t.as_str().is_some_and(|t| type_matches(t, value))) =>
        {
            errors.push(format!("{at}: expected one of {types:?}, got {value}"));
            return;
        }
        Some(Value::String(_)) | Some(Value::Array(_)) | None => {}
        Some(other) => errors.push(format!("{at}: bad type {other}")),
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            errors.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            check(doc, s, value, at, errors, depth + 1);
        }
    }
    for (keyword, exactly_one) in [("oneOf", true), ("anyOf", false)] {
        if let Some(options) = schema.get(keyword).and_then(Value::as_array) {
            let passing = options
                .iter()
                .filter(|s| validate_at(doc, s, value, depth).is_empty())
                .count();
            if passing == 0 || (exactly_one && passing > 1) {
                errors.push(format!(
                    "{at}: {passing} of the {keyword} schemas accept {value}"
                ));
            }
        }
    }
    if let Some(object) = value.as_object() {
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(name) {
                    errors.push(format!("{at}: required property {name:?} is missing"));
                }
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, v) in object {
            let inner = format!("{at}.{name}");
            match properties.and_then(|p| p.get(name)) {
                Some(s) => check(doc, s, v, &inner, errors, depth + 1),
                // An object whose properties are listed documents all of them unless it says
                // otherwise: an answer with more than the document tells is an error.
                None => match schema.get("additionalProperties") {
                    Some(s @ Value::Object(_)) => check(doc, s, v, &inner, errors, depth + 1),
                    Some(Value::Bool(true)) => {}
                    _ if properties.is_some() || schema.get("additionalProperties").is_some() => {
                        errors.push(format!("{at}: property {name:?} is not documented"))
                    }
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(schema_items)) = (value.as_array(), schema.get("items")) {
        for (i, v) in items.iter().enumerate() {
            check(
                doc,
                schema_items,
                v,
                &format!("{at}[{i}]"),
                errors,
                depth + 1,
            );
        }
    }
}

fn validate_at(doc: &Value, schema: &Value, value: &Value, depth: u32) -> Vec<String> {
    let mut errors = Vec::new();
    check(doc, schema, value, "", &mut errors, depth + 1);
    errors
}

#[cfg(test)]
mod tests {
    use super::validate;
    use serde_json::json;

    #[test]
    fn the_validator_catches_each_kind_of_violation() {
        let doc = json!({"components": {"schemas": {
            "Build": {"type": "object", "required": ["id", "result"], "properties": {
                "id": {"type": "integer"},
                "result": {"type": "string", "enum": ["success", "failure"], "nullable": true},
                "steps": {"type": "array", "items": {"$ref": "#/components/schemas/Step"}}
            }},
            "Step": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}},
                     "additionalProperties": false}
        }}});
        let schema = json!({"$ref": "#/components/schemas/Build"});
        let good = json!({"id": 1, "result": null, "steps": [{"name": "script"}]});
        assert_eq!(validate(&doc, &schema, &good), Vec::<String>::new());
        let bad = json!({"id": "1", "result": "great", "steps": [{"nom": 1}]});
        let errors = validate(&doc, &schema, &bad);
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("$.id: expected integer")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.contains("\"great\" is not one of")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("$.steps[0]: required property \"name\"")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("\"nom\" is not documented")),
            "{errors:?}"
        );
        let missing = json!({"id": 2});
        assert_eq!(validate(&doc, &schema, &missing).len(), 1);
        let unknown = json!({"type": "string", "pattern": "^a"});
        assert_eq!(validate(&doc, &unknown, &json!("a")).len(), 1);
        let types = json!({"type": ["integer", "null"]});
        assert!(validate(&doc, &types, &json!(null)).is_empty());
        assert_eq!(validate(&doc, &types, &json!(1.5)).len(), 1);
    }
}
