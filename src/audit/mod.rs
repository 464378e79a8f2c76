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
        event.hash = event_hash(&event);
        event
    }
}

/// The hash an event must carry: over every field but `hash` itself.
pub fn event_hash(event: &AuditEvent) -> String {
    let body = serde_json::json!({
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
    sha256_hex(canonical_json(&body).as_bytes())
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
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
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
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
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
