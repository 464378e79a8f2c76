//! A capability's `input_schema` as an HTML form, and that form's fields read back into a
//! proposal's input.
//!
//! Each top-level property becomes one field: a string a text input (a textarea when it may be
//! long), an `enum` a select, an integer or number a number input with the schema's bounds, a
//! boolean a checkbox; anything a field cannot show (nested objects, arrays, several types, no
//! type) a JSON textarea. A schema without `properties` is one JSON textarea for the whole
//! input. Required properties are marked, and what a person typed is kept when the page comes
//! back with a problem.
//!
//! Architecture Invariant: the form only turns typed text into JSON values; it never judges the
//! input. The Engine checks it against the schema (and refuses it with `INPUT_INVALID`), so the
//! console, the API and the CLI accept exactly the same inputs.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::esc;

/// A string longer than this may be gets a textarea.
const LONG_TEXT: u64 = 300;

/// What a property is edited as.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Kind {
    Text {
        long: bool,
        min_length: Option<u64>,
        max_length: Option<u64>,
    },
    /// One of the schema's `enum` values.
    Choice(Vec<Value>),
    Integer {
        minimum: Option<f64>,
        maximum: Option<f64>,
    },
    Number {
        minimum: Option<f64>,
        maximum: Option<f64>,
    },
    Boolean,
    /// Typed as JSON: nested objects, arrays, unions, untyped values.
    Json,
}

/// One top-level property of the input.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Field {
    pub name: String,
    pub required: bool,
    pub kind: Kind,
    /// The schema's `title` and `description`, and bounds a control cannot carry.
    pub hint: Option<String>,
    /// The schema's `default`, as the field's starting text.
    pub default: Option<String>,
}

/// The form for one schema.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Form {
    Fields(Vec<Field>),
    /// No properties to show one by one: the whole input as a JSON object.
    Whole,
}

/// The name a property's control posts under.
pub(super) fn control_name(property: &str) -> String {
    format!("input.{property}")
}

/// The name the whole-input textarea posts under.
pub(super) const WHOLE_INPUT: &str = "input";

/// An element id for a property (`field-body`); other characters become `-`.
pub(super) fn field_id(property: &str) -> String {
    let slug: String = property
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("field-{slug}")
}

fn number(value: Option<&Value>) -> Option<f64> {
    value.and_then(Value::as_f64)
}

/// The one type a property has, ignoring `null` (`[string, "null"]` is a string that may be
/// left out); `None` when it has none or several.
fn single_type(schema: &Map<String, Value>) -> Option<&str> {
    match schema.get("type")? {
        Value::String(name) => Some(name.as_str()),
        Value::Array(names) => {
            let named: Vec<&str> = names
                .iter()
                .filter_map(Value::as_str)
                .filter(|name| *name != "null")
                .collect();
            (named.len() == 1).then(|| named[0])
        }
        _ => None,
    }
}

fn kind_of(schema: &Map<String, Value>) -> Kind {
    if let Some(Value::Array(values)) = schema.get("enum")
        && !values.is_empty()
    {
        return Kind::Choice(values.clone());
    }
    match single_type(schema) {
        Some("string") => {
            let max_length = schema.get("maxLength").and_then(Value::as_u64);
            Kind::Text {
                long: max_length.is_some_and(|max| max > LONG_TEXT),
                min_length: schema.get("minLength").and_then(Value::as_u64),
                max_length,
            }
        }
        Some("integer") => Kind::Integer {
            minimum: number(schema.get("minimum")),
            maximum: number(schema.get("maximum")),
        },
        Some("number") => Kind::Number {
            minimum: number(schema.get("minimum")),
            maximum: number(schema.get("maximum")),
        },
        Some("boolean") => Kind::Boolean,
        _ => Kind::Json,
    }
}

/// The text a value is edited as: a string as it is, anything else as JSON.
fn edit_text(kind: &Kind, value: &Value) -> String {
    match (kind, value) {
        (Kind::Json, value) => serde_json::to_string_pretty(value).unwrap_or_default(),
        (_, Value::String(text)) => text.clone(),
        (_, value) => value.to_string(),
    }
}

fn hint_of(schema: &Map<String, Value>, kind: &Kind) -> Option<String> {
    let mut parts: Vec<String> = ["title", "description"]
        .iter()
        .filter_map(|key| schema.get(*key).and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    if let Some(format) = schema.get("format").and_then(Value::as_str) {
        parts.push(format!("format `{format}`"));
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        parts.push(format!("must match `{pattern}`"));
    }
    match kind {
        Kind::Text {
            min_length,
            max_length,
            ..
        } => match (min_length, max_length) {
            (Some(min), Some(max)) => parts.push(format!("{min} to {max} characters")),
            (Some(min), None) if *min > 0 => parts.push(format!("at least {min} characters")),
            (None, Some(max)) => parts.push(format!("at most {max} characters")),
            _ => {}
        },
        Kind::Json => parts.push(match single_type(schema) {
            Some("object") => "a JSON object".to_string(),
            Some("array") => "a JSON array".to_string(),
            _ => "a JSON value".to_string(),
        }),
        _ => {}
    }
    for (key, words) in [("exclusiveMinimum", "above"), ("exclusiveMaximum", "below")] {
        if let Some(bound) = schema.get(key).and_then(Value::as_f64) {
            parts.push(format!("{words} {bound}"));
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// The form for `schema` (a capability's `input_schema`; none means any object).
pub(super) fn form(schema: Option<&Value>) -> Form {
    let Some(schema) = schema.and_then(Value::as_object) else {
        return Form::Whole;
    };
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Form::Whole;
    };
    if properties.is_empty() {
        return Form::Whole;
    }
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut fields: Vec<Field> = properties
        .iter()
        .map(|(name, property)| {
            let empty = Map::new();
            let property = property.as_object().unwrap_or(&empty);
            let kind = kind_of(property);
            Field {
                name: name.clone(),
                required: required.contains(&name.as_str()),
                hint: hint_of(property, &kind),
                default: property.get("default").map(|value| edit_text(&kind, value)),
                kind,
            }
        })
        .collect();
    // Required fields first, then in the schema's order.
    fields.sort_by_key(|field| !field.required);
    Form::Fields(fields)
}

/// The typed text of each field (keyed by property name, or [`WHOLE_INPUT`]) from a posted
/// form's pairs.
pub(super) fn typed(pairs: &[(String, String)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .filter_map(|(key, value)| {
            if key == WHOLE_INPUT {
                Some((WHOLE_INPUT.to_string(), value.clone()))
            } else {
                key.strip_prefix("input.")
                    .map(|name| (name.to_string(), value.clone()))
            }
        })
        .collect()
}

/// A problem with one field's text, before the input could be built.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FieldProblem {
    pub field: String,
    pub problem: String,
}

fn parse_json(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|error| format!("this is not valid JSON: {error}"))
}

/// The input the typed text makes: an empty field is left out (so a missing required property
/// is the Engine's to name), an unchecked checkbox is `false` when the property is required and
/// left out otherwise. `Err` lists the fields whose text is not a value of their kind.
pub(super) fn read(
    form: &Form,
    typed: &BTreeMap<String, String>,
) -> Result<Value, Vec<FieldProblem>> {
    let fields = match form {
        Form::Whole => {
            let text = typed.get(WHOLE_INPUT).map_or("", |text| text.trim());
            if text.is_empty() {
                return Ok(Value::Object(Map::new()));
            }
            return parse_json(text).map_err(|problem| {
                vec![FieldProblem {
                    field: WHOLE_INPUT.into(),
                    problem,
                }]
            });
        }
        Form::Fields(fields) => fields,
    };
    let mut input = Map::new();
    let mut problems = Vec::new();
    for field in fields {
        let text = typed.get(&field.name).map_or("", String::as_str);
        let trimmed = text.trim();
        let value = match &field.kind {
            Kind::Boolean => match trimmed {
                "true" | "on" => Ok(Some(Value::Bool(true))),
                _ if field.required => Ok(Some(Value::Bool(false))),
                _ => Ok(None),
            },
            _ if trimmed.is_empty() => Ok(None),
            // Text is kept as typed: leading spaces may matter to the one who reads it.
            Kind::Text { .. } => Ok(Some(Value::String(text.to_string()))),
            Kind::Choice(values) => values
                .iter()
                .find(|value| edit_text(&field.kind, value) == trimmed)
                .cloned()
                .map(Some)
                .ok_or_else(|| format!("`{trimmed}` is not one of the choices")),
            Kind::Integer { .. } => trimmed
                .parse::<i64>()
                .map(|number| Some(Value::from(number)))
                .map_err(|_| format!("`{trimmed}` is not a whole number")),
            Kind::Number { .. } => trimmed
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(|number| Some(Value::Number(number)))
                .ok_or_else(|| format!("`{trimmed}` is not a number")),
            Kind::Json => parse_json(trimmed).map(Some),
        };
        match value {
            Ok(Some(value)) => {
                input.insert(field.name.clone(), value);
            }
            Ok(None) => {}
            Err(problem) => problems.push(FieldProblem {
                field: field.name.clone(),
                problem,
            }),
        }
    }
    if problems.is_empty() {
        Ok(Value::Object(input))
    } else {
        Err(problems)
    }
}

fn bound_attribute(name: &str, bound: Option<f64>) -> String {
    bound.map_or_else(String::new, |bound| format!(" {name}=\"{bound}\""))
}

/// The controls of `form`, filled with `typed` (or each field's default), each field's
/// problem beside it. `flagged` names fields a refusal's message points at (`/body`).
pub(super) fn render(
    form: &Form,
    typed: &BTreeMap<String, String>,
    problems: &[FieldProblem],
    flagged: &[String],
) -> String {
    let problem_of = |name: &str| {
        problems
            .iter()
            .find(|problem| problem.field == name)
            .map(|problem| problem.problem.clone())
            .or_else(|| {
                flagged
                    .iter()
                    .any(|flag| flag == name)
                    .then(|| "see the problem above".to_string())
            })
    };
    let fields = match form {
        Form::Whole => {
            let problem = problem_of(WHOLE_INPUT);
            return format!(
                "<div class=\"field{invalid_class}\" id=\"wrap-input\"><label for=\"field-input\">Input <small>(a JSON object)</small></label>\
                 <textarea id=\"field-input\" name=\"{WHOLE_INPUT}\" rows=\"8\" class=\"json\" spellcheck=\"false\"{invalid}>{text}</textarea>\
                 <small class=\"hint\">This capability's schema has no properties to show one by one: write the whole input as JSON, such as <code>{{\"text\": \"...\"}}</code>.</small>{problem_html}</div>",
                invalid_class = if problem.is_some() { " invalid" } else { "" },
                invalid = if problem.is_some() {
                    " aria-invalid=\"true\" aria-describedby=\"problem-input\""
                } else {
                    ""
                },
                text = esc(typed.get(WHOLE_INPUT).map_or("", String::as_str)),
                problem_html = problem.map_or_else(String::new, |problem| format!(
                    "<p class=\"field-problem\" id=\"problem-input\">{}</p>",
                    esc(&problem)
                )),
            );
        }
        Form::Fields(fields) => fields,
    };
    let mut html = String::new();
    for field in fields {
        let id = field_id(&field.name);
        let name = esc(&control_name(&field.name));
        let text = typed
            .get(&field.name)
            .cloned()
            .or_else(|| {
                // A page that was posted keeps what was typed, even an empty field.
                typed.is_empty().then(|| field.default.clone()).flatten()
            })
            .unwrap_or_default();
        let problem = problem_of(&field.name);
        let mut attributes = String::new();
        if field.required && field.kind != Kind::Boolean {
            attributes.push_str(" required aria-required=\"true\"");
        }
        if problem.is_some() {
            attributes.push_str(&format!(
                " aria-invalid=\"true\" aria-describedby=\"problem-{id}\""
            ));
        }
        let control = match &field.kind {
            Kind::Text {
                long,
                min_length,
                max_length,
            } => {
                let lengths = format!(
                    "{}{}",
                    min_length.map_or_else(String::new, |min| format!(" minlength=\"{min}\"")),
                    max_length.map_or_else(String::new, |max| format!(" maxlength=\"{max}\"")),
                );
                if *long {
                    format!(
                        "<textarea id=\"{id}\" name=\"{name}\" rows=\"6\"{lengths}{attributes}>{}</textarea>",
                        esc(&text)
                    )
                } else {
                    format!(
                        "<input type=\"text\" id=\"{id}\" name=\"{name}\" value=\"{}\"{lengths}{attributes}>",
                        esc(&text)
                    )
                }
            }
            Kind::Choice(values) => {
                let options: String = values
                    .iter()
                    .map(|value| {
                        let value = edit_text(&field.kind, value);
                        format!(
                            "<option value=\"{0}\"{1}>{0}</option>",
                            esc(&value),
                            if value == text.trim() {
                                " selected"
                            } else {
                                ""
                            }
                        )
                    })
                    .collect();
                format!(
                    "<select id=\"{id}\" name=\"{name}\"{attributes}><option value=\"\">— choose —</option>{options}</select>"
                )
            }
            Kind::Integer { minimum, maximum } | Kind::Number { minimum, maximum } => {
                let step = if matches!(field.kind, Kind::Integer { .. }) {
                    "1"
                } else {
                    "any"
                };
                format!(
                    "<input type=\"number\" id=\"{id}\" name=\"{name}\" value=\"{}\" step=\"{step}\"{}{}{attributes}>",
                    esc(&text),
                    bound_attribute("min", *minimum),
                    bound_attribute("max", *maximum),
                )
            }
            Kind::Boolean => format!(
                "<input type=\"checkbox\" id=\"{id}\" name=\"{name}\" value=\"true\"{}{attributes}>",
                if matches!(text.trim(), "true" | "on") {
                    " checked"
                } else {
                    ""
                }
            ),
            Kind::Json => format!(
                "<textarea id=\"{id}\" name=\"{name}\" rows=\"5\" class=\"json\" spellcheck=\"false\"{attributes}>{}</textarea>",
                esc(&text)
            ),
        };
        let kind_words = match &field.kind {
            Kind::Text { .. } => "text",
            Kind::Choice(_) => "choice",
            Kind::Integer { .. } => "whole number",
            Kind::Number { .. } => "number",
            Kind::Boolean => "yes or no",
            Kind::Json => "JSON",
        };
        html.push_str(&format!(
            "<div class=\"field{invalid_class}\" id=\"wrap-{id}\" data-kind=\"{kind_words}\"><label for=\"{id}\"><code>{label}</code>{required}</label>{control}{hint}{problem_html}</div>",
            invalid_class = if problem.is_some() { " invalid" } else { "" },
            label = esc(&field.name),
            required = if field.required {
                " <span class=\"required\">required</span>"
            } else {
                ""
            },
            hint = field.hint.as_deref().map_or_else(String::new, |hint| format!(
                "<small class=\"hint\">{}</small>",
                esc(hint)
            )),
            problem_html = problem.map_or_else(String::new, |problem| format!(
                "<p class=\"field-problem\" id=\"problem-{id}\">{}</p>",
                esc(&problem)
            )),
        ));
    }
    html
}

/// The properties a refusal's message names (`/body`, `/rule/id`), by their top-level name.
pub(super) fn named_in(message: &str, form: &Form) -> Vec<String> {
    let Form::Fields(fields) = form else {
        return Vec::new();
    };
    fields
        .iter()
        .filter(|field| {
            let pointer = format!("`/{}", field.name);
            message.match_indices(&pointer).any(|(at, _)| {
                matches!(
                    message[at + pointer.len()..].chars().next(),
                    Some('`' | '/')
                )
            }) || message.contains(&format!("\"{}\" is a required property", field.name))
        })
        .map(|field| field.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(schema: Value) -> Vec<Field> {
        match form(Some(&schema)) {
            Form::Fields(fields) => fields,
            Form::Whole => panic!("expected fields"),
        }
    }

    #[test]
    fn each_kind_of_property_gets_its_control() {
        let schema = json!({
            "type": "object",
            "required": ["body"],
            "properties": {
                "channel": { "type": "string", "enum": ["newsletter", "website"] },
                "body": { "type": "string", "minLength": 1, "maxLength": 4000 },
                "subject": { "type": "string", "maxLength": 30 },
                "count": { "type": "integer", "minimum": 1, "maximum": 9 },
                "confidence": { "type": "number", "minimum": 0, "maximum": 1 },
                "urgent": { "type": "boolean" },
                "rule": { "type": "object", "properties": { "id": { "type": "string" } } },
                "note": { "type": ["string", "null"] },
                "value": {}
            }
        });
        let fields = fields(schema);
        assert_eq!(fields[0].name, "body", "required fields come first");
        assert!(fields[0].required);
        let kind = |name: &str| {
            fields
                .iter()
                .find(|field| field.name == name)
                .unwrap()
                .kind
                .clone()
        };
        assert!(matches!(kind("body"), Kind::Text { long: true, .. }));
        assert!(matches!(kind("subject"), Kind::Text { long: false, .. }));
        assert!(matches!(kind("note"), Kind::Text { long: false, .. }));
        assert_eq!(
            kind("channel"),
            Kind::Choice(vec![json!("newsletter"), json!("website")])
        );
        assert_eq!(
            kind("count"),
            Kind::Integer {
                minimum: Some(1.0),
                maximum: Some(9.0)
            }
        );
        assert!(matches!(kind("confidence"), Kind::Number { .. }));
        assert_eq!(kind("urgent"), Kind::Boolean);
        assert_eq!(kind("rule"), Kind::Json);
        assert_eq!(kind("value"), Kind::Json);
        let html = render(&Form::Fields(fields), &BTreeMap::new(), &[], &[]);
        assert!(html.contains("<textarea id=\"field-body\" name=\"input.body\" rows=\"6\" minlength=\"1\" maxlength=\"4000\" required"), "{html}");
        assert!(html.contains("<select id=\"field-channel\""), "{html}");
        assert!(html.contains("type=\"number\" id=\"field-count\" name=\"input.count\" value=\"\" step=\"1\" min=\"1\" max=\"9\""), "{html}");
        assert!(
            html.contains("type=\"checkbox\" id=\"field-urgent\""),
            "{html}"
        );
        assert!(html.contains("class=\"json\""), "{html}");
    }

    #[test]
    fn a_schema_without_properties_is_one_json_field() {
        assert_eq!(form(None), Form::Whole);
        assert_eq!(form(Some(&json!({ "type": "object" }))), Form::Whole);
    }

    fn typed_of(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        typed(
            &pairs
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn typed_text_becomes_the_input_and_what_is_not_a_value_is_named() {
        let form = form(Some(&json!({
            "type": "object",
            "required": ["done"],
            "properties": {
                "text": { "type": "string" },
                "count": { "type": "integer" },
                "share": { "type": "number" },
                "done": { "type": "boolean" },
                "late": { "type": "boolean" },
                "level": { "enum": [1, 2] },
                "rule": { "type": "object" },
                "empty": { "type": "string" }
            }
        })));
        let input = read(
            &form,
            &typed_of(&[
                ("input.text", " as typed "),
                ("input.count", "3"),
                ("input.share", "0.5"),
                ("input.level", "2"),
                ("input.rule", "{\"id\": \"r\"}"),
                ("input.empty", ""),
                ("csrf", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(
            input,
            json!({ "text": " as typed ", "count": 3, "share": 0.5, "done": false, "level": 2, "rule": { "id": "r" } })
        );
        let problems = read(
            &form,
            &typed_of(&[
                ("input.count", "three"),
                ("input.share", "half"),
                ("input.rule", "{id"),
                ("input.level", "9"),
            ]),
        )
        .unwrap_err();
        let named: Vec<&str> = problems
            .iter()
            .map(|problem| problem.field.as_str())
            .collect();
        assert_eq!(named, ["count", "share", "level", "rule"]);
        assert!(problems[3].problem.contains("not valid JSON"));
    }

    #[test]
    fn typed_text_is_kept_and_problems_are_shown_beside_their_field() {
        let form = form(Some(&json!({
            "type": "object",
            "properties": { "text": { "type": "string" }, "count": { "type": "integer" } }
        })));
        let html = render(
            &form,
            &typed_of(&[("input.text", "<b>kept</b>"), ("input.count", "three")]),
            &[FieldProblem {
                field: "count".into(),
                problem: "`three` is not a whole number".into(),
            }],
            &["text".into()],
        );
        assert!(html.contains("value=\"&lt;b&gt;kept&lt;/b&gt;\""), "{html}");
        assert!(html.contains("value=\"three\""), "{html}");
        assert!(
            html.contains("id=\"problem-field-count\">`three` is not a whole number"),
            "{html}"
        );
        assert!(
            html.contains("id=\"problem-field-text\">see the problem above"),
            "{html}"
        );
    }

    #[test]
    fn a_refusal_points_at_the_fields_it_names() {
        let form = form(Some(&json!({
            "type": "object",
            "properties": { "body": {}, "bodyguard": {}, "rule": {}, "text": {} }
        })));
        let message = "the input does not fit `x`: `/body`: \"\" is too short; `/rule/id`: 1 is not of type \"string\"; \"text\" is a required property";
        assert_eq!(named_in(message, &form), ["body", "rule", "text"]);
    }
}
