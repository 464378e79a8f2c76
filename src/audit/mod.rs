//! The audit log's event encoding and hash chain.
//!
//! Every event's hash is SHA-256 over a canonical encoding (JSON with keys sorted, fixed field
//! set) of the event and its predecessor's hash, so any UPDATE, DELETE, INSERT or reordering done
//! behind brain's back breaks the chain at a sequence number `verify_chain` can name.
//!
//! Architecture Invariant: this module does no I/O; the store persists what it computes.

pub mod bundle;
pub mod checkpoint;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The hash the first event points back to.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An event to append; the store assigns `seq`, `prev_hash` and `hash`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAuditEvent {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub capability: Option<String>,
    pub proposal_id: Option<String>,
    pub decision: String,
    pub reason_codes: Vec<String>,
    pub policy_ids: Vec<String>,
    pub policy_set_hash: Option<String>,
    pub input_hash: Option<String>,
    pub output_hash: Option<String>,
    pub detail: Value,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditEvent {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub capability: Option<String>,
    pub proposal_id: Option<String>,
    pub decision: String,
    pub reason_codes: Vec<String>,
    pub policy_ids: Vec<String>,
    pub policy_set_hash: Option<String>,
    pub input_hash: Option<String>,
    pub output_hash: Option<String>,
    pub detail: Value,
    pub prev_hash: String,
    pub hash: String,
}

impl NewAuditEvent {
    /// Seal the event at `seq` after the event whose hash is `prev_hash`.
    pub fn seal(self, seq: i64, prev_hash: &str) -> AuditEvent {
        self.seal_encoded(seq, prev_hash).0
    }

    /// Seal the event and also return its detail's canonical encoding (what the store keeps),
    /// which the hash covers: the detail is encoded once.
    pub fn seal_encoded(self, seq: i64, prev_hash: &str) -> (AuditEvent, String) {
        let detail = canonical_json(&self.detail);
        let mut event = AuditEvent {
            seq,
            at: self.at,
            actor: self.actor,
            action: self.action,
            capability: self.capability,
            proposal_id: self.proposal_id,
            decision: self.decision,
            reason_codes: self.reason_codes,
            policy_ids: self.policy_ids,
            policy_set_hash: self.policy_set_hash,
            input_hash: self.input_hash,
            output_hash: self.output_hash,
            detail: self.detail,
            prev_hash: prev_hash.to_string(),
            hash: String::new(),
        };
        event.hash = hash_with_detail(&event, detail.as_bytes());
        (event, detail)
    }
}

/// The hash an event must carry: over every field but `hash` itself.
pub fn event_hash(event: &AuditEvent) -> String {
    let mut detail = Vec::new();
    write_canonical(&event.detail, &mut detail);
    hash_with_detail(event, &detail)
}

/// SHA-256 over the canonical encoding of the event's fields (keys in sorted order, as
/// [`canonical_json`] would write the object holding them), given its detail already encoded.
fn hash_with_detail(event: &AuditEvent, detail: &[u8]) -> String {
    /// `"name":` after `{` or `,`.
    fn key(body: &mut Vec<u8>, name: &str) {
        body.push(if body.is_empty() { b'{' } else { b',' });
        write_json(name, body);
        body.push(b':');
    }
    fn entry<T: Serialize + ?Sized>(body: &mut Vec<u8>, name: &str, value: &T) {
        key(body, name);
        write_json(value, body);
    }
    let mut body = Vec::with_capacity(detail.len() + 512);
    entry(&mut body, "action", &event.action);
    entry(&mut body, "actor", &event.actor);
    entry(&mut body, "at", &event.at);
    entry(&mut body, "capability", &event.capability);
    entry(&mut body, "decision", &event.decision);
    key(&mut body, "detail");
    body.extend_from_slice(detail);
    entry(&mut body, "input_hash", &event.input_hash);
    entry(&mut body, "output_hash", &event.output_hash);
    entry(&mut body, "policy_ids", &event.policy_ids);
    entry(&mut body, "policy_set_hash", &event.policy_set_hash);
    entry(&mut body, "prev_hash", &event.prev_hash);
    entry(&mut body, "proposal_id", &event.proposal_id);
    entry(&mut body, "reason_codes", &event.reason_codes);
    entry(&mut body, "seq", &event.seq);
    body.push(b'}');
    sha256_hex(&body)
}

/// Where a chain stops being valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainBreak {
    pub seq: i64,
    pub problem: String,
}

/// Check a run of events that follows the event with `prev_hash` at `prev_seq`. Returns the
/// first break, naming its sequence number.
pub fn verify_chain<'a>(
    events: impl IntoIterator<Item = &'a AuditEvent>,
    mut prev_seq: i64,
    mut prev_hash: String,
) -> Result<(i64, String), ChainBreak> {
    for event in events {
        if event.seq != prev_seq + 1 {
            return Err(ChainBreak {
                seq: prev_seq + 1,
                problem: format!(
                    "expected sequence number {}, found {}",
                    prev_seq + 1,
                    event.seq
                ),
            });
        }
        if event.prev_hash != prev_hash {
            return Err(ChainBreak {
                seq: event.seq,
                problem: "does not point back to the previous event's hash".into(),
            });
        }
        if event_hash(event) != event.hash {
            return Err(ChainBreak {
                seq: event.seq,
                problem: "its content does not match its hash".into(),
            });
        }
        prev_seq = event.seq;
        prev_hash = event.hash.clone();
    }
    Ok((prev_seq, prev_hash))
}

/// JSON with object keys sorted at every level and no insignificant whitespace.
pub fn canonical_json(value: &Value) -> String {
    canonical_json_of(|out| write_canonical(value, out))
}

/// The JSON text `write` puts in a buffer.
fn canonical_json_of(write: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    write(&mut out);
    // Only JSON text, UTF-8 by construction, was written.
    String::from_utf8(out)
        .unwrap_or_else(|bad| String::from_utf8_lossy(bad.as_bytes()).into_owned())
}

/// A list of strings as a JSON array.
pub fn json_list(items: &[String]) -> String {
    canonical_json_of(|out| write_json(items, out))
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_json(key, out);
                out.push(b':');
                write_canonical(item, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::String(text) => write_json(text, out),
        scalar => write_json(scalar, out),
    }
}

/// A value without maps (a string, number, bool, null, or a list or option of them) as
/// compact JSON, escaped and formatted as serde_json writes it.
fn write_json<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    // Serializing such a value into memory cannot fail.
    let _ = serde_json::to_writer(out, value);
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(action: &str) -> NewAuditEvent {
        NewAuditEvent {
            at: "2026-01-01T00:00:00.000000Z".into(),
            actor: "staff:alice".into(),
            action: action.into(),
            capability: None,
            proposal_id: None,
            decision: "allow".into(),
            reason_codes: vec![],
            policy_ids: vec![],
            policy_set_hash: None,
            input_hash: None,
            output_hash: None,
            detail: json!({"b": 1, "a": [2, {"d": 3, "c": 4}]}),
        }
    }

    /// The encoding the hash is specified by, written the plain way: a JSON object of the
    /// fields, encoded with keys sorted through `Value`'s own formatting. Logs written by
    /// earlier builds carry hashes made this way.
    fn reference_hash(event: &AuditEvent) -> String {
        fn canonical(value: &Value, out: &mut String) {
            match value {
                Value::Object(map) => {
                    let mut keys: Vec<&String> = map.keys().collect();
                    keys.sort();
                    out.push('{');
                    for (index, key) in keys.into_iter().enumerate() {
                        if index > 0 {
                            out.push(',');
                        }
                        out.push_str(&Value::String(key.clone()).to_string());
                        out.push(':');
                        canonical(&map[key], out);
                    }
                    out.push('}');
                }
                Value::Array(items) => {
                    out.push('[');
                    for (index, item) in items.iter().enumerate() {
                        if index > 0 {
                            out.push(',');
                        }
                        canonical(item, out);
                    }
                    out.push(']');
                }
                scalar => out.push_str(&scalar.to_string()),
            }
        }
        let body = json!({
            "seq": event.seq,
            "at": event.at,
            "actor": event.actor,
            "action": event.action,
            "capability": event.capability,
            "proposal_id": event.proposal_id,
            "decision": event.decision,
            "reason_codes": event.reason_codes,
            "policy_ids": event.policy_ids,
            "policy_set_hash": event.policy_set_hash,
            "input_hash": event.input_hash,
            "output_hash": event.output_hash,
            "detail": event.detail,
            "prev_hash": event.prev_hash,
        });
        let mut text = String::new();
        canonical(&body, &mut text);
        assert_eq!(canonical_json(&body), text, "canonical_json of {body}");
        sha256_hex(text.as_bytes())
    }

    #[test]
    fn hashes_match_the_reference_encoding() {
        let awkward = "quote \" backslash \\ tab \t newline \n nul \u{0} bell \u{7} del \u{7f} é ✓ 🦀 \u{2028}";
        let details = [
            json!({}),
            json!({"b": 1, "a": [2, {"d": 3, "c": 4}]}),
            json!({"text": awkward, awkward: [null, true, false, -0.5, 1e300, 12345678901234567u64, -9]}),
            json!({"trace": {"Zed": 1, "alpha": 2, "_": 3, "a b": 4, "ä": 5, "A": 6}, "nested": [[[]], [{}]]}),
        ];
        let mut prev = GENESIS_HASH.to_string();
        for (seq, detail) in (1..).zip(details) {
            let mut new = event(awkward);
            new.detail = detail.clone();
            if seq % 2 == 0 {
                new.capability = Some("bench.note.draft".into());
                new.proposal_id = Some(format!("p_{seq}"));
                new.reason_codes = vec!["KILL_SWITCH".into(), awkward.into()];
                new.policy_ids = vec!["base.staff-propose".into()];
                new.policy_set_hash = Some("f".repeat(64));
                new.input_hash = Some("0".repeat(64));
                new.output_hash = Some(awkward.into());
            }
            let (sealed, encoded) = new.seal_encoded(seq, &prev);
            assert_eq!(sealed.hash, reference_hash(&sealed), "event {seq}");
            assert_eq!(event_hash(&sealed), sealed.hash);
            assert_eq!(encoded, canonical_json(&detail));
            prev = sealed.hash;
        }
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        assert_eq!(
            canonical_json(&json!({"b": 1, "a": {"d": 1, "c": 2}})),
            r#"{"a":{"c":2,"d":1},"b":1}"#
        );
    }

    #[test]
    fn chain_verifies_and_names_the_first_bad_event() {
        let first = event("one").seal(1, GENESIS_HASH);
        let second = event("two").seal(2, &first.hash);
        let third = event("three").seal(3, &second.hash);
        let chain = vec![first.clone(), second.clone(), third.clone()];
        assert!(verify_chain(&chain, 0, GENESIS_HASH.into()).is_ok());

        let mut edited = chain.clone();
        edited[1].action = "forged".into();
        assert_eq!(
            verify_chain(&edited, 0, GENESIS_HASH.into())
                .unwrap_err()
                .seq,
            2
        );

        let deleted = vec![first.clone(), third.clone()];
        assert_eq!(
            verify_chain(&deleted, 0, GENESIS_HASH.into())
                .unwrap_err()
                .seq,
            2
        );

        let reordered = vec![first, third, second];
        assert_eq!(
            verify_chain(&reordered, 0, GENESIS_HASH.into())
                .unwrap_err()
                .seq,
            2
        );
    }
}
