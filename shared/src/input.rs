//! Reading JSON request bodies field by field, so that every problem of every field is reported
//! in one 422: the rules shared by every entity's input types (text, documents, which fields a
//! client may send).

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::FieldErrors;

/// PostgreSQL text cannot hold the NUL character.
pub const NUL_MESSAGE: &str = "must not contain the NUL character (\\u0000)";

pub fn string(value: &Value) -> Result<&str, String> {
    let text = value.as_str().ok_or("must be a string")?;
    if text.contains('\0') {
        return Err(NUL_MESSAGE.into());
    }
    Ok(text)
}

/// Trimmed text of 1 to `max` characters.
fn bounded_name(value: &Value, max: usize) -> Result<String, String> {
    let text = string(value)?.trim();
    match text.chars().count() {
        0 => Err("must not be empty".into()),
        n if n > max => Err(format!("must be at most {max} characters")),
        _ => Ok(text.to_owned()),
    }
}

/// A name: trimmed, 1 to `MAX` characters (a task's title, a step's or an agent's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name<const MAX: usize>(String);

impl<const MAX: usize> Name<MAX> {
    pub const MAX_CHARS: usize = MAX;

    pub fn parse(value: &Value) -> Result<Self, String> {
        bounded_name(value, MAX).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free text of at most `MAX` characters, kept as sent (a description).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<const MAX: usize>(String);

impl<const MAX: usize> Text<MAX> {
    pub const MAX_CHARS: usize = MAX;

    pub fn parse(value: &Value) -> Result<Self, String> {
        let text = string(value)?;
        if text.chars().count() > MAX {
            return Err(format!("must be at most {MAX} characters"));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A JSON object of at most 64 KiB as compact JSON, with no NUL character in any key or string
/// (`input`, `result`, a step's `input`).
#[derive(Debug, Clone, PartialEq)]
pub struct Document(Value);

impl Document {
    pub const MAX_BYTES: usize = 64 * 1024;

    pub fn parse(value: &Value) -> Result<Self, String> {
        if !value.is_object() {
            return Err("must be a JSON object".into());
        }
        if has_nul(value) {
            return Err(format!("{NUL_MESSAGE}, in no key or string"));
        }
        let size = serde_json::to_vec(value)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > Self::MAX_BYTES {
            return Err(format!(
                "is {size} bytes as JSON; at most {} bytes are allowed",
                Self::MAX_BYTES
            ));
        }
        Ok(Self(value.clone()))
    }

    /// `{}`, the document of a task or step created without one.
    pub fn empty() -> Self {
        Self(json!({}))
    }

    pub fn as_value(&self) -> &Value {
        &self.0
    }
}

/// True when a string anywhere in the document, key or value, holds a NUL character.
fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map
            .iter()
            .any(|(key, value)| key.contains('\0') || has_nul(value)),
        _ => false,
    }
}

/// Reports each field of a request body that is not one the request may set: a field the
/// server sets says so, instead of being silently ignored; anything else is unknown.
pub fn report_other_fields(
    other: &Map<String, Value>,
    server_fields: &[&str],
    errors: &mut FieldErrors,
) {
    for field in other.keys() {
        if server_fields.contains(&field.as_str()) {
            errors.add(field.clone(), "is set by the server and cannot be sent");
        } else {
            errors.add(field.clone(), "is not a field this request can set");
        }
    }
}

/// For `#[serde(default, deserialize_with = "present")]` on an `Option<Value>`: an absent
/// field stays `None`, a field sent as `null` becomes `Some(Value::Null)`.
pub fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Value>, D::Error> {
    Deserialize::deserialize(deserializer).map(Some)
}

/// An optional field that may be cleared: absent is `None`, `null` is `Some(None)`.
pub fn clearable<T>(
    errors: &mut FieldErrors,
    field: &str,
    value: &Option<Value>,
    parse: impl Fn(&Value) -> Result<T, String>,
) -> Option<Option<T>> {
    match value {
        None => None,
        Some(Value::Null) => Some(None),
        Some(value) => errors.check(field, parse(value)).map(Some),
    }
}

/// A field that, when sent, must hold a value.
pub fn required_if_sent<T>(
    errors: &mut FieldErrors,
    field: &str,
    value: &Option<Value>,
    parse: impl Fn(&Value) -> Result<T, String>,
) -> Option<T> {
    match value {
        None => None,
        Some(Value::Null) => errors.check(field, Err("cannot be null".into())),
        Some(value) => errors.check(field, parse(value)),
    }
}
