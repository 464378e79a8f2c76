//! Span-keeping YAML front end shared by every YAML file brain reads (`brain.yaml`, capability
//! manifests, exemptions, policy tests).
//!
//! The text is parsed with `saphyr-parser` (the maintained YAML 1.2 parser of the saphyr project,
//! successor of yaml-rust) into a `serde_json::Value`, plus a table from JSON pointer to the byte
//! ranges of each node and of its key. Typed deserialization then goes through serde, and every
//! later finding (schema violation, semantic check) can point back into the file.
//!
//! Plain scalars are resolved with the YAML 1.2 core schema; quoted and block scalars are always
//! strings. Anchors and aliases are supported; merge keys (`<<`) are not special.
//!
//! This module does no I/O.

use std::collections::HashMap;
use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

/// A parsed YAML document with the source span of every node.
#[derive(Debug, Clone)]
pub struct Document {
    pub value: Value,
    spans: HashMap<String, NodeSpan>,
}

/// Byte ranges of one node: its value, and its key when it sits in a mapping.
#[derive(Debug, Clone, Default)]
pub struct NodeSpan {
    pub key: Option<Range<usize>>,
    pub value: Range<usize>,
}

/// A syntax error with the byte offset it was found at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub span: Range<usize>,
}

impl Document {
    /// Span of the value at `pointer` (a JSON pointer such as `/server/listen`); falls back to
    /// the nearest ancestor that exists, and to the whole document.
    pub fn value_span(&self, pointer: &str) -> Range<usize> {
        self.lookup(pointer).value.clone()
    }

    /// Span of the key naming the node at `pointer`, or of its value when it has no key
    /// (sequence items and the root).
    pub fn key_span(&self, pointer: &str) -> Range<usize> {
        let node = self.lookup(pointer);
        node.key.clone().unwrap_or_else(|| node.value.clone())
    }

    /// Whether a node exists at `pointer`.
    pub fn contains(&self, pointer: &str) -> bool {
        self.spans.contains_key(pointer)
    }

    fn lookup(&self, pointer: &str) -> &NodeSpan {
        let mut current = pointer;
        loop {
            if let Some(span) = self.spans.get(current) {
                return span;
            }
            match current.rfind('/') {
                Some(index) => current = &current[..index],
                None => break,
            }
        }
        self.spans
            .get("")
            .expect("the root span is always recorded")
    }
}

/// Escape one reference token for a JSON pointer (RFC 6901).
pub fn pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Parse YAML text into a [`Document`]. An empty document is `null`.
pub fn parse(text: &str) -> Result<Document, SyntaxError> {
    let offsets = CharOffsets::new(text);
    let mut builder = Builder {
        offsets: &offsets,
        spans: HashMap::new(),
        anchors: HashMap::new(),
        stack: Vec::new(),
        root: None,
        documents: 0,
    };
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|error| {
            let at = offsets.byte(error.marker().index());
            SyntaxError {
                message: error.info().to_string(),
                span: at..at,
            }
        })?;
        builder.event(event, span)?;
    }
    let value = builder.root.take().unwrap_or(Value::Null);
    let mut spans = builder.spans;
    spans.entry(String::new()).or_insert_with(|| NodeSpan {
        key: None,
        value: 0..text.len(),
    });
    Ok(Document { value, spans })
}

/// Converts saphyr's character indexes into byte offsets.
struct CharOffsets {
    bytes: Vec<usize>,
    len: usize,
}

impl CharOffsets {
    fn new(text: &str) -> Self {
        if text.is_ascii() {
            return Self {
                bytes: Vec::new(),
                len: text.len(),
            };
        }
        Self {
            bytes: text.char_indices().map(|(byte, _)| byte).collect(),
            len: text.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        if self.bytes.is_empty() {
            return char_index.min(self.len);
        }
        self.bytes.get(char_index).copied().unwrap_or(self.len)
    }
}

enum Frame {
    Sequence {
        pointer: String,
        start: usize,
        anchor: usize,
        items: Vec<Value>,
    },
    Mapping {
        pointer: String,
        start: usize,
        anchor: usize,
        entries: Map<String, Value>,
        pending_key: Option<(String, Range<usize>)>,
    },
}

struct Builder<'a> {
    offsets: &'a CharOffsets,
    spans: HashMap<String, NodeSpan>,
    anchors: HashMap<usize, Value>,
    stack: Vec<Frame>,
    root: Option<Value>,
    documents: usize,
}

impl Builder<'_> {
    fn range(&self, span: Span) -> Range<usize> {
        self.offsets.byte(span.start.index())..self.offsets.byte(span.end.index())
    }

    /// The pointer of the node about to be produced, and the key span it sits under.
    fn child_pointer(&self) -> (String, Option<Range<usize>>) {
        match self.stack.last() {
            None => (String::new(), None),
            Some(Frame::Sequence { pointer, items, .. }) => {
                (format!("{pointer}/{}", items.len()), None)
            }
            Some(Frame::Mapping {
                pointer,
                pending_key,
                ..
            }) => match pending_key {
                Some((key, key_span)) => (
                    format!("{pointer}/{}", pointer_token(key)),
                    Some(key_span.clone()),
                ),
                None => (pointer.clone(), None),
            },
        }
    }

    fn expecting_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame::Mapping {
                pending_key: None,
                ..
            })
        )
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), SyntaxError> {
        let range = self.range(span);
        match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => Ok(()),
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(SyntaxError {
                        message: "expected one YAML document, found a second one (`---`)".into(),
                        span: range,
                    });
                }
                Ok(())
            }
            Event::Alias(anchor) => {
                let Some(value) = self.anchors.get(&anchor).cloned() else {
                    return Err(SyntaxError {
                        message: "alias refers to an unknown anchor".into(),
                        span: range,
                    });
                };
                if self.expecting_key() {
                    return Err(SyntaxError {
                        message: "mapping keys must be plain strings, not aliases".into(),
                        span: range,
                    });
                }
                self.finish_node(value, range);
                Ok(())
            }
            Event::Scalar(text, style, anchor, tag) => {
                if self.expecting_key() {
                    let key = text.to_string();
                    if let Some(Frame::Mapping {
                        entries,
                        pending_key,
                        ..
                    }) = self.stack.last_mut()
                    {
                        if entries.contains_key(&key) {
                            return Err(SyntaxError {
                                message: format!("duplicate key `{key}`"),
                                span: range,
                            });
                        }
                        *pending_key = Some((key, range));
                    }
                    return Ok(());
                }
                let force_string = tag
                    .as_ref()
                    .is_some_and(|tag| tag.is_yaml_core_schema() && tag.suffix == "str");
                let value = if style == ScalarStyle::Plain && !force_string {
                    resolve_plain(&text)
                } else {
                    Value::String(text.into_owned())
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, value.clone());
                }
                self.finish_node(value, range);
                Ok(())
            }
            Event::SequenceStart(anchor, _) => {
                if self.expecting_key() {
                    return Err(SyntaxError {
                        message: "mapping keys must be plain strings, not sequences".into(),
                        span: range,
                    });
                }
                let (pointer, _) = self.child_pointer();
                self.stack.push(Frame::Sequence {
                    pointer,
                    start: range.start,
                    anchor,
                    items: Vec::new(),
                });
                Ok(())
            }
            Event::MappingStart(anchor, _) => {
                if self.expecting_key() {
                    return Err(SyntaxError {
                        message: "mapping keys must be plain strings, not mappings".into(),
                        span: range,
                    });
                }
                let (pointer, _) = self.child_pointer();
                self.stack.push(Frame::Mapping {
                    pointer,
                    start: range.start,
                    anchor,
                    entries: Map::new(),
                    pending_key: None,
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Ok(());
                };
                let (start, anchor, value) = match frame {
                    Frame::Sequence {
                        start,
                        anchor,
                        items,
                        ..
                    } => (start, anchor, Value::Array(items)),
                    Frame::Mapping {
                        start,
                        anchor,
                        entries,
                        ..
                    } => (start, anchor, Value::Object(entries)),
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, value.clone());
                }
                let end = range.end.max(start);
                self.finish_node(value, start..end);
                Ok(())
            }
        }
    }

    fn finish_node(&mut self, value: Value, range: Range<usize>) {
        let (pointer, key) = self.child_pointer();
        self.spans.insert(pointer, NodeSpan { key, value: range });
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Sequence { items, .. }) => items.push(value),
            Some(Frame::Mapping {
                entries,
                pending_key,
                ..
            }) => {
                if let Some((key, _)) = pending_key.take() {
                    entries.insert(key, value);
                }
            }
        }
    }
}

/// Resolve a plain scalar with the YAML 1.2 core schema.
fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(number) = resolve_integer(text) {
        return Value::Number(number.into());
    }
    if looks_like_float(text)
        && let Ok(float) = text.parse::<f64>()
        && let Some(number) = Number::from_f64(float)
    {
        return Value::Number(number);
    }
    Value::String(text.to_string())
}

fn resolve_integer(text: &str) -> Option<i64> {
    if let Some(hex) = text.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok();
    }
    if let Some(octal) = text.strip_prefix("0o") {
        return i64::from_str_radix(octal, 8).ok();
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn looks_like_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(index) => (&body[..index], Some(&body[index + 1..])),
        None => (body, None),
    };
    let mantissa_ok = {
        let mut parts = mantissa.splitn(2, '.');
        let whole = parts.next().unwrap_or("");
        let fraction = parts.next();
        let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
        match fraction {
            Some(fraction) => {
                digits(whole) && digits(fraction) && !(whole.is_empty() && fraction.is_empty())
            }
            None => !whole.is_empty() && digits(whole) && exponent.is_some(),
        }
    };
    let exponent_ok = exponent.is_none_or(|exponent| {
        let digits = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
        !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

/// Render a JSON value as block-style YAML that [`parse`] reads back to the same value.
pub fn emit(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if map.is_empty() => out.push_str("{}\n"),
        Value::Array(items) if items.is_empty() => out.push_str("[]\n"),
        Value::Object(_) | Value::Array(_) => emit_block(value, 0, &mut out),
        scalar => {
            out.push_str(&emit_scalar(scalar));
            out.push('\n');
        }
    }
    out
}

fn emit_block(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                out.push_str(&pad);
                out.push_str(&emit_string(key));
                out.push(':');
                emit_child(child, indent, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                out.push_str(&pad);
                out.push('-');
                match item {
                    Value::Object(map) if !map.is_empty() => {
                        // First key on the dash line, the rest aligned under it.
                        let mut nested = String::new();
                        emit_block(item, indent + 2, &mut nested);
                        out.push(' ');
                        out.push_str(nested.trim_start());
                    }
                    _ => emit_child(item, indent, out),
                }
            }
        }
        scalar => {
            out.push_str(&pad);
            out.push_str(&emit_scalar(scalar));
            out.push('\n');
        }
    }
}

fn emit_child(child: &Value, indent: usize, out: &mut String) {
    match child {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            emit_block(child, indent + 2, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            emit_block(child, indent + 2, out);
        }
        Value::Object(_) => out.push_str(" {}\n"),
        Value::Array(_) => out.push_str(" []\n"),
        scalar => {
            out.push(' ');
            out.push_str(&emit_scalar(scalar));
            out.push('\n');
        }
    }
}

fn emit_scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => emit_string(text),
        other => other.to_string(),
    }
}

fn emit_string(text: &str) -> String {
    let plain_safe = !text.is_empty()
        && resolve_plain(text) == Value::String(text.to_string())
        && !text.starts_with(|c: char| " -?:,[]{}#&*!|>'\"%@`".contains(c))
        && !text.ends_with([' ', ':'])
        && !text.contains(": ")
        && !text.contains(" #")
        && !text.chars().any(char::is_control);
    if plain_safe {
        text.to_string()
    } else {
        Value::String(text.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resolves_core_schema_scalars() {
        let doc = parse("a: 1\nb: '1'\nc: true\nd: ~\ne: 1.5\nf: 0x1f\ng: 8787s\nh: -3\ni: 1e3\n")
            .unwrap();
        assert_eq!(
            doc.value,
            json!({"a": 1, "b": "1", "c": true, "d": null, "e": 1.5, "f": 31, "g": "8787s", "h": -3, "i": 1000.0})
        );
    }

    #[test]
    fn records_key_and_value_spans() {
        let text = "server:\n  listen: 127.0.0.1:8787\nlist:\n  - x\n  - y\n";
        let doc = parse(text).unwrap();
        assert_eq!(&text[doc.key_span("/server/listen")], "listen");
        assert_eq!(&text[doc.value_span("/server/listen")], "127.0.0.1:8787");
        assert_eq!(&text[doc.value_span("/list/1")], "y");
        // A missing pointer falls back to its nearest ancestor.
        assert_eq!(&text[doc.key_span("/server/nope")], "server");
    }

    #[test]
    fn multibyte_text_keeps_byte_offsets() {
        let text = "name: céramique\nport: x\n";
        let doc = parse(text).unwrap();
        assert_eq!(&text[doc.value_span("/port")], "x");
    }

    #[test]
    fn rejects_duplicate_keys_and_reports_syntax_errors() {
        let error = parse("a: 1\na: 2\n").unwrap_err();
        assert!(error.message.contains("duplicate key `a`"), "{error:?}");
        let error = parse("a: [1, 2\n").unwrap_err();
        assert!(!error.message.is_empty());
    }

    #[test]
    fn aliases_copy_anchored_values() {
        let doc = parse("base: &b {x: 1}\nother: *b\n").unwrap();
        assert_eq!(doc.value, json!({"base": {"x": 1}, "other": {"x": 1}}));
    }

    #[test]
    fn emitted_yaml_reads_back_the_same() {
        let value = json!({
            "server": {"listen": "127.0.0.1:8787", "auth": {"mode": "token"}},
            "empty": {}, "none": [], "flag": true, "count": 3, "text": "a: b", "numberish": "123",
            "list": [{"id": "x", "kind": "hubitat"}, "plain", "-dash", ""],
            "quote": "it's \"quoted\"", "nested": [[1, 2]]
        });
        let text = emit(&value);
        assert_eq!(parse(&text).unwrap().value, value, "{text}");
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        const ALPHABET: &[u8] = b"ab:- \n\t{}[]&*!|>'\"#,?%@`1.~";
        for seed in 0u32..2000 {
            let mut state = seed.wrapping_mul(2654435761).wrapping_add(1);
            let text: String = (0..(seed % 64))
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    ALPHABET[state as usize % ALPHABET.len()] as char
                })
                .collect();
            let _ = parse(&text);
        }
    }
}
