//! Checks a YAML document against a JSON Schema and turns every violation into a [`Finding`]
//! that points at the offending key or value, with a fix in its help line.
//!
//! Used for `brain.yaml` and for every other YAML file whose shape is given by a Rust type.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::Value;

use crate::diagnostic::{Finding, SourceFile, did_you_mean};
use crate::yaml::{self, Document};

/// The compiled validator of `schema`, compiled once per schema: linting a thousand manifests
/// would otherwise compile the same schema a thousand times.
fn validator_for(schema: &Value) -> Result<std::sync::Arc<jsonschema::Validator>, String> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> = OnceLock::new();
    let key = schema.to_string();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Ok(cache) = cache.lock()
        && let Some(validator) = cache.get(&key)
    {
        return Ok(validator.clone());
    }
    let validator = Arc::new(
        jsonschema::options()
            .should_validate_formats(false)
            .build(schema)
            .map_err(|error| error.to_string())?,
    );
    if let Ok(mut cache) = cache.lock() {
        cache.insert(key, validator.clone());
    }
    Ok(validator)
}

/// All schema violations of `value` (the document's value, or a default-filled copy of it).
/// `area` prefixes the finding codes (`config::unknown_key`, `capability::type`, ...).
/// Returns the findings and the JSON pointers of the offending nodes (see [`prune`]).
pub fn check(
    schema: &Value,
    value: &Value,
    document: &Document,
    source: &SourceFile,
    area: &str,
) -> (Vec<Finding>, Vec<String>) {
    let validator = match validator_for(schema) {
        Ok(validator) => validator,
        Err(error) => {
            let finding = Finding::error(
                format!("{area}::schema"),
                format!("internal schema error: {error}"),
            );
            return (vec![finding], vec![String::new()]);
        }
    };
    let mut findings = Vec::new();
    let mut offending = Vec::new();
    for error in validator.iter_errors(value) {
        let pointer = error.instance_path().to_string();
        if !matches!(
            error.kind(),
            ValidationErrorKind::AdditionalProperties { .. }
        ) {
            offending.push(pointer.clone());
        }
        let shown = dotted(&pointer);
        let finding = match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for key in unexpected {
                    let child = format!("{pointer}/{}", yaml::pointer_token(key));
                    offending.push(child.clone());
                    let known = property_names(schema, &pointer);
                    let help = match did_you_mean(key, known.iter().map(String::as_str)) {
                        Some(suggestion) => format!("did you mean `{suggestion}`?"),
                        None if known.is_empty() => "remove it".to_string(),
                        None => {
                            format!("remove it; the keys allowed here are: {}", known.join(", "))
                        }
                    };
                    let place = if shown.is_empty() {
                        "at the top level".to_string()
                    } else {
                        format!("in `{shown}`")
                    };
                    findings.push(
                        Finding::error(
                            format!("{area}::unknown_key"),
                            format!("unknown key `{key}` {place}"),
                        )
                        .at(source, document.key_span(&child), "not a known key")
                        .with_help(help),
                    );
                }
                continue;
            }
            ValidationErrorKind::Required { property } => {
                let property = property.as_str().unwrap_or_default();
                let place = if shown.is_empty() {
                    "at the top level".to_string()
                } else {
                    format!("in `{shown}`")
                };
                Finding::error(
                    format!("{area}::missing_key"),
                    format!("missing key `{property}` {place}"),
                )
                .at(
                    source,
                    document.key_span(&pointer),
                    format!("`{property}` is required here"),
                )
                .with_help(format!(
                    "add `{property}:`; `brain schema {area}` documents it"
                ))
            }
            ValidationErrorKind::Type { kind } => {
                let expected = match kind {
                    TypeKind::Single(single) => yaml_type_name(&format!("{single:?}")),
                    TypeKind::Multiple(multiple) => {
                        let names: Vec<String> = multiple
                            .iter()
                            .map(|kind| yaml_type_name(&format!("{kind:?}")))
                            .collect();
                        names.join(" or ")
                    }
                };
                let found = type_name(error.instance());
                if is_secret(schema, &pointer) {
                    inline_secret(area, source, document, &pointer)
                } else {
                    Finding::error(
                        format!("{area}::type"),
                        format!(
                            "`{shown}` must be {} {expected}, found {} {found}",
                            article(&expected),
                            article(found)
                        ),
                    )
                    .at(
                        source,
                        document.value_span(&pointer),
                        format!("expected {expected}"),
                    )
                    .with_help(format!("write {} {expected} here", article(&expected)))
                }
            }
            ValidationErrorKind::Enum { options } => {
                let allowed = enum_list(options);
                Finding::error(
                    format!("{area}::value"),
                    format!(
                        "`{shown}` is {}, which is not one of {allowed}",
                        render(error.instance())
                    ),
                )
                .at(source, document.value_span(&pointer), "not allowed")
                .with_help(
                    match error.instance().as_str().zip(options.as_array()) {
                        Some((given, options)) => {
                            match did_you_mean(given, options.iter().filter_map(Value::as_str)) {
                                Some(suggestion) => format!("did you mean `{suggestion}`?"),
                                None => format!("use one of {allowed}"),
                            }
                        }
                        None => format!("use one of {allowed}"),
                    },
                )
            }
            ValidationErrorKind::Pattern { pattern } => {
                let help = if pattern == super::duration::DURATION_PATTERN {
                    "write a number and a unit, such as `30s`, `15m`, `2h` or `7d`".to_string()
                } else if pattern.contains("[01][0-9]|2[0-3]") {
                    "write a time of day as `HH:MM`, such as `\"06:30\"`".to_string()
                } else {
                    format!("it must match `{pattern}`")
                };
                Finding::error(
                    format!("{area}::format"),
                    format!(
                        "`{shown}` has an invalid value {}",
                        render(error.instance())
                    ),
                )
                .at(source, document.value_span(&pointer), "invalid format")
                .with_help(help)
            }
            _ if is_secret(schema, &pointer) => inline_secret(area, source, document, &pointer),
            _ => Finding::error(format!("{area}::invalid"), format!("`{shown}`: {error}"))
                .at(source, document.value_span(&pointer), "invalid")
                .with_help(format!(
                    "`brain schema {area}` documents the expected shape"
                )),
        };
        findings.push(finding);
    }
    findings.sort_by_key(|finding| finding.span.as_ref().map(|span| span.start));
    (findings, offending)
}

/// A copy of `value` without the nodes at `pointers`, so the rest can still be deserialized
/// (defaults fill the gaps) and checked further.
pub fn prune(mut value: Value, pointers: &[String]) -> Value {
    let mut sorted: Vec<&String> = pointers.iter().collect();
    // Remove deeper nodes and later list items first so earlier pointers stay valid.
    sorted.sort_by(|left, right| right.cmp(left));
    for pointer in sorted {
        let Some((parent, last)) = pointer.rsplit_once('/') else {
            return Value::Object(serde_json::Map::new());
        };
        let last = last.replace("~1", "/").replace("~0", "~");
        match value.pointer_mut(parent) {
            Some(Value::Object(map)) => {
                map.remove(&last);
            }
            Some(Value::Array(items)) => {
                if let Ok(index) = last.parse::<usize>()
                    && index < items.len()
                {
                    items.remove(index);
                }
            }
            _ => {}
        }
    }
    value
}

/// Whether the value at `pointer` is a secret reference.
fn is_secret(schema: &Value, pointer: &str) -> bool {
    matches!(
        definition_at(schema, pointer).as_deref(),
        Some("SecretSource" | "SecretRef")
    )
}

/// A secret written into the file. The finding names the line but shows no snippet, so the
/// secret is not copied into terminals and CI logs.
pub fn inline_secret(
    area: &str,
    source: &SourceFile,
    document: &Document,
    pointer: &str,
) -> Finding {
    let (line, column) = source.line_column(document.value_span(pointer).start);
    Finding::error(
        format!("{area}::inline_secret"),
        format!("`{}` holds a secret written into the file (line {line}, column {column})", dotted(pointer)),
    )
    .in_file(source)
    .with_help(
        "secrets never sit in brain.yaml: put it in an environment variable and write `{ env: NAME }`, or in a file and write `{ file: PATH }`",
    )
}

/// `/connectors/0/kind` → `connectors[0].kind`.
pub fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if !token.is_empty() && token.bytes().all(|byte| byte.is_ascii_digit()) {
            out.push_str(&format!("[{token}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&token);
        }
    }
    out
}

/// JSON Schema type names in the words of a YAML author.
fn yaml_type_name(json_type: &str) -> String {
    match json_type.to_lowercase().as_str() {
        "object" => "mapping".into(),
        "array" => "list".into(),
        other => other.into(),
    }
}

/// The JSON Schema of `T` as a value, with `Option` fields described by their inner type:
/// optional keys are omitted in brain's files, never written as `null`.
pub fn schema_value<T: schemars::JsonSchema>() -> Value {
    let mut value =
        serde_json::to_value(schemars::SchemaGenerator::default().into_root_schema_for::<T>())
            .unwrap_or_default();
    strip_null(&mut value);
    value
}

fn strip_null(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|kind| kind != "null");
                if types.len() == 1 {
                    let single = types.remove(0);
                    map.insert("type".into(), single);
                }
            }
            let replacement = match map.get("anyOf").and_then(Value::as_array) {
                Some(branches) if branches.len() == 2 => {
                    let is_null =
                        |branch: &Value| branch.get("type").and_then(Value::as_str) == Some("null");
                    match (is_null(&branches[0]), is_null(&branches[1])) {
                        (true, false) => Some(branches[1].clone()),
                        (false, true) => Some(branches[0].clone()),
                        _ => None,
                    }
                }
                _ => None,
            };
            if let Some(Value::Object(inner)) = replacement {
                map.remove("anyOf");
                for (key, value) in inner {
                    map.entry(key).or_insert(value);
                }
            }
            if map.get("default").is_some_and(Value::is_null) {
                map.remove("default");
            }
            for child in map.values_mut() {
                strip_null(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_null),
        _ => {}
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(number) if number.is_i64() || number.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}

fn article(noun: &str) -> &'static str {
    match noun.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

fn render(value: &Value) -> String {
    match value {
        Value::String(text) => format!("`{text}`"),
        other => format!("`{other}`"),
    }
}

fn enum_list(options: &Value) -> String {
    match options.as_array() {
        Some(options) => options.iter().map(render).collect::<Vec<_>>().join(", "),
        None => render(options),
    }
}

/// Follow `$ref`s (to `#/$defs/...`) and optional wrappers to the schema that applies.
fn resolve<'a>(root: &'a Value, mut node: &'a Value, last_ref: &mut Option<String>) -> &'a Value {
    for _ in 0..32 {
        if let Some(reference) = node.get("$ref").and_then(Value::as_str) {
            let name = reference.rsplit('/').next().unwrap_or_default();
            match root.get("$defs").and_then(|defs| defs.get(name)) {
                Some(target) => {
                    *last_ref = Some(name.to_string());
                    node = target;
                    continue;
                }
                None => return node,
            }
        }
        let branches = node
            .get("anyOf")
            .or_else(|| node.get("oneOf"))
            .and_then(Value::as_array);
        if let Some(branches) = branches
            && let Some(branch) = branches
                .iter()
                .find(|branch| branch.get("type").and_then(Value::as_str) != Some("null"))
        {
            node = branch;
            continue;
        }
        return node;
    }
    node
}

/// The schema node for the instance at `pointer`, and the `$defs` name it came from.
fn schema_at<'a>(root: &'a Value, pointer: &str) -> Option<(&'a Value, Option<String>)> {
    let mut last_ref = None;
    let mut node = resolve(root, root, &mut last_ref);
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        let next = if let Some(property) = node
            .get("properties")
            .and_then(|properties| properties.get(&token))
        {
            property
        } else if let Some(items) = node.get("items") {
            items
        } else {
            node.get("additionalProperties")
                .filter(|value| value.is_object())?
        };
        last_ref = None;
        node = resolve(root, next, &mut last_ref);
    }
    Some((node, last_ref))
}

fn property_names(root: &Value, pointer: &str) -> Vec<String> {
    schema_at(root, pointer)
        .and_then(|(node, _)| node.get("properties").and_then(Value::as_object))
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default()
}

fn definition_at(root: &Value, pointer: &str) -> Option<String> {
    schema_at(root, pointer).and_then(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_removes_offending_nodes_only() {
        let value = serde_json::json!({"a": {"b": 1, "c": 2}, "list": [1, 2, 3]});
        let pruned = prune(value, &["/a/b".into(), "/list/0".into(), "/list/2".into()]);
        assert_eq!(pruned, serde_json::json!({"a": {"c": 2}, "list": [2]}));
    }

    #[test]
    fn dotted_paths_read_like_config_keys() {
        assert_eq!(dotted("/connectors/0/kind"), "connectors[0].kind");
        assert_eq!(dotted("/server/listen"), "server.listen");
        assert_eq!(dotted(""), "");
    }
}
