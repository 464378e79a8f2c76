//! Secrets: where they come from (`{ env: NAME }` or `{ file: PATH }`) and the value, which
//! redacts itself everywhere it could leak (Debug, Display, serde, logs, pages).
//!
//! Architecture Invariant: a secret's value is reachable only through [`Secret::expose`]; no
//! trait implementation prints or serializes it.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize, Serializer};

/// What every secret renders as.
pub const REDACTED: &str = "[redacted]";

/// A secret value. Prints and serializes as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that must send it (an HTTP header, a connection).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

/// Where a secret comes from, as written in `brain.yaml`.
///
/// A plain string is accepted by the parser only so that validation can refuse it with a
/// precise message: secrets never sit in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SecretRef {
    /// Refused at validation: a secret written into the file itself.
    Inline(InlineSecret),
    Source(SecretSource),
}

/// The schema admits only `{ env }` / `{ file }`: editors flag an inline secret at once.
impl schemars::JsonSchema for SecretRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SecretRef".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        generator.subschema_for::<SecretSource>()
    }
}

/// An inline secret: kept only to be refused, never printed.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct InlineSecret(#[allow(dead_code)] String);

impl fmt::Debug for InlineSecret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(REDACTED)
    }
}

/// `{ env: NAME }` or `{ file: PATH }`, and, once resolved, the value.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretSource {
    /// Name of the environment variable holding the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// Path of a file holding the secret (trailing newline trimmed); relative to brain.yaml.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// The resolved value; never read from the file, always printed as `[redacted]`.
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    #[schemars(skip)]
    pub value: Option<Secret>,
}

impl Serialize for SecretRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            SecretRef::Inline(_) => serializer.serialize_str(REDACTED),
            SecretRef::Source(source) => source.serialize(serializer),
        }
    }
}

impl SecretRef {
    /// The resolved value, once validation has resolved it.
    pub fn value(&self) -> Option<&Secret> {
        match self {
            SecretRef::Source(source) => source.value.as_ref(),
            SecretRef::Inline(_) => None,
        }
    }
}

/// Why a secret could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretProblem {
    Inline,
    NoSource,
    BothSources,
    EnvMissing(String),
    EnvEmpty(String),
    FileUnreadable(PathBuf, String),
    FileEmpty(PathBuf),
}

/// Resolve a secret from the environment or a file (relative paths against `base`).
pub fn resolve(
    reference: &mut SecretRef,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), SecretProblem> {
    let source = match reference {
        SecretRef::Inline(_) => return Err(SecretProblem::Inline),
        SecretRef::Source(source) => source,
    };
    let value = match (&source.env, &source.file) {
        (None, None) => return Err(SecretProblem::NoSource),
        (Some(_), Some(_)) => return Err(SecretProblem::BothSources),
        (Some(name), None) => match env(name) {
            None => return Err(SecretProblem::EnvMissing(name.clone())),
            Some(value) if value.trim().is_empty() => {
                return Err(SecretProblem::EnvEmpty(name.clone()));
            }
            Some(value) => value,
        },
        (None, Some(path)) => {
            let path = base.join(path);
            match std::fs::read_to_string(&path) {
                Err(error) => return Err(SecretProblem::FileUnreadable(path, error.to_string())),
                Ok(text) => {
                    let trimmed = text.trim_end_matches(['\n', '\r']).to_string();
                    if trimmed.is_empty() {
                        return Err(SecretProblem::FileEmpty(path));
                    }
                    trimmed
                }
            }
        }
    };
    source.value = Some(Secret::new(value));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_their_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret}"), REDACTED);
        assert_eq!(format!("{secret:?}"), REDACTED);
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"[redacted]\"");
        let mut reference: SecretRef = serde_json::from_str(r#"{"env": "TOKEN"}"#).unwrap();
        resolve(&mut reference, Path::new("."), &|_| Some("hunter2".into())).unwrap();
        let printed = format!(
            "{reference:?} {}",
            serde_json::to_string(&reference).unwrap()
        );
        assert!(!printed.contains("hunter2"), "{printed}");
        assert_eq!(reference.value().unwrap().expose(), "hunter2");
    }

    #[test]
    fn inline_secrets_are_refused() {
        let mut reference: SecretRef = serde_json::from_str(r#""hunter2""#).unwrap();
        assert!(!format!("{reference:?}").contains("hunter2"));
        assert_eq!(
            resolve(&mut reference, Path::new("."), &|_| None),
            Err(SecretProblem::Inline)
        );
    }
}
