//! Audit export bundles: a directory holding `events.jsonl` (one canonical JSON event per line)
//! and `manifest.json` (counts, the chain's start and end hashes, the file's SHA-256, the latest
//! checkpoint it covers, and an Ed25519 signature over the manifest). A bundle verifies offline
//! with nothing but itself (and, to pin the signer, the expected public key).
//!
//! Architecture Invariant: no I/O; the CLI reads and writes the files.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::checkpoint::{AuditSigner, LogVerifier, VerifyReport, verify_bytes};
use super::{AuditEvent, canonical_json, sha256_hex};
use crate::store::Checkpoint;

pub const FORMAT: &str = "brain-audit-bundle/1";
pub const EVENTS_FILE: &str = "events.jsonl";
pub const MANIFEST_FILE: &str = "manifest.json";
pub const RECORDS_FILE: &str = "records.json";

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleManifest {
    pub format: String,
    pub created_at: String,
    /// The first and last sequence numbers in the bundle (`from_seq > to_seq` when empty).
    pub from_seq: i64,
    pub to_seq: i64,
    pub count: i64,
    /// The hash of the event before `from_seq` (the genesis hash when the bundle starts at 1).
    pub prev_hash: String,
    /// The hash of event `to_seq`.
    pub head_hash: String,
    pub events_sha256: String,
    /// SHA-256 of `records.json`, when the bundle carries the Engine's records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_sha256: Option<String>,
    /// The latest signed checkpoint at or below `to_seq`.
    pub checkpoint: Option<Checkpoint>,
    pub public_key: String,
    /// Signature over the manifest's canonical JSON without this field.
    pub signature: String,
}

/// A bundle's file contents.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub manifest: BundleManifest,
    pub manifest_json: String,
    pub events_jsonl: String,
    pub records_json: Option<String>,
}

/// What the manifest signature covers.
fn signed_bytes(manifest: &BundleManifest) -> Vec<u8> {
    let mut value = serde_json::to_value(manifest).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.remove("signature");
    }
    canonical_json(&value).into_bytes()
}

/// One event as a line of `events.jsonl`.
pub fn event_line(event: &AuditEvent) -> String {
    canonical_json(&serde_json::to_value(event).unwrap_or(Value::Null))
}

/// Build a bundle of `events` (consecutive, following the event with `prev_hash`).
pub fn build(
    events: &[AuditEvent],
    from_seq: i64,
    prev_hash: &str,
    checkpoint: Option<Checkpoint>,
    records: Option<&Value>,
    signer: &AuditSigner,
    created_at: &str,
) -> Bundle {
    let mut events_jsonl = String::new();
    for event in events {
        events_jsonl.push_str(&event_line(event));
        events_jsonl.push('\n');
    }
    let records_json = records.map(canonical_json);
    let mut manifest = BundleManifest {
        format: FORMAT.to_string(),
        created_at: created_at.to_string(),
        from_seq,
        to_seq: events.last().map_or(from_seq - 1, |event| event.seq),
        count: i64::try_from(events.len()).unwrap_or(i64::MAX),
        prev_hash: prev_hash.to_string(),
        head_hash: events
            .last()
            .map_or_else(|| prev_hash.to_string(), |event| event.hash.clone()),
        events_sha256: sha256_hex(events_jsonl.as_bytes()),
        records_sha256: records_json
            .as_deref()
            .map(|text| sha256_hex(text.as_bytes())),
        checkpoint,
        public_key: signer.public_key_hex(),
        signature: String::new(),
    };
    manifest.signature = signer.sign_bytes(&signed_bytes(&manifest));
    let manifest_json = serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n";
    Bundle {
        manifest,
        manifest_json,
        events_jsonl,
        records_json,
    }
}

/// A bundle's verification: the chain inside it and everything the manifest claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct BundleReport {
    #[serde(flatten)]
    pub log: VerifyReport,
    pub from_seq: i64,
    pub to_seq: i64,
    pub public_key: String,
}

/// Verify a bundle from its files' texts. `trusted` pins the signer's public key.
pub fn verify(
    manifest_text: &str,
    events_text: &str,
    records_text: Option<&str>,
    trusted: Option<&str>,
) -> Result<(BundleManifest, Vec<AuditEvent>, BundleReport), String> {
    let manifest: BundleManifest = serde_json::from_str(manifest_text)
        .map_err(|error| format!("`{MANIFEST_FILE}` is not a bundle manifest: {error}"))?;
    let mut events = Vec::new();
    for (index, line) in events_text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let event: AuditEvent = serde_json::from_str(line).map_err(|error| {
            format!(
                "`{EVENTS_FILE}` line {} is not an audit event: {error}",
                index + 1
            )
        })?;
        events.push(event);
    }
    let mut problems = Vec::new();
    if manifest.format != FORMAT {
        problems.push(format!(
            "unknown bundle format `{}` (this brain reads `{FORMAT}`)",
            manifest.format
        ));
    }
    if let Some(trusted) = trusted
        && trusted != manifest.public_key
    {
        problems.push("the bundle was signed by a different key than the one given".into());
    }
    if verify_bytes(
        &manifest.public_key,
        &signed_bytes(&manifest),
        &manifest.signature,
    )
    .is_err()
    {
        problems.push("the manifest's signature does not match its content".into());
    }
    if sha256_hex(events_text.as_bytes()) != manifest.events_sha256 {
        problems.push(format!(
            "`{EVENTS_FILE}` does not match the manifest's hash"
        ));
    }
    match (&manifest.records_sha256, records_text) {
        (Some(expected), Some(text)) if sha256_hex(text.as_bytes()) != *expected => {
            problems.push(format!(
                "`{RECORDS_FILE}` does not match the manifest's hash"
            ));
        }
        (Some(_), None) => problems.push(format!("`{RECORDS_FILE}` is missing")),
        (None, Some(_)) => problems.push(format!(
            "`{RECORDS_FILE}` is not covered by the signed manifest"
        )),
        _ => {}
    }
    if i64::try_from(events.len()).ok() != Some(manifest.count) {
        problems.push(format!(
            "the manifest counts {} events but the file holds {}",
            manifest.count,
            events.len()
        ));
    }
    let checkpoints: Vec<Checkpoint> = manifest.checkpoint.iter().cloned().collect();
    let mut verifier = LogVerifier::new(manifest.from_seq - 1, &manifest.prev_hash, &checkpoints);
    verifier.feed(&events);
    let mut log = verifier.finish(
        &checkpoints,
        Some(&manifest.public_key),
        Some((manifest.to_seq, &manifest.head_hash)),
    );
    if !problems.is_empty() {
        log.ok = false;
        problems.append(&mut log.problems);
        log.problems = problems;
    }
    let report = BundleReport {
        from_seq: manifest.from_seq,
        to_seq: manifest.to_seq,
        public_key: manifest.public_key.clone(),
        log,
    };
    Ok((manifest, events, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{GENESIS_HASH, NewAuditEvent};

    fn events() -> Vec<AuditEvent> {
        let mut events: Vec<AuditEvent> = Vec::new();
        for seq in 1..=3 {
            let prev = events
                .last()
                .map_or(GENESIS_HASH.to_string(), |event| event.hash.clone());
            events.push(
                NewAuditEvent {
                    at: "2026-01-01T00:00:00.000000Z".into(),
                    actor: "staff:alice".into(),
                    action: "approve".into(),
                    capability: Some("x.y".into()),
                    proposal_id: None,
                    decision: "allow".into(),
                    reason_codes: vec![],
                    policy_ids: vec!["staff.approve".into()],
                    policy_set_hash: None,
                    input_hash: None,
                    output_hash: None,
                    detail: serde_json::json!({"n": seq}),
                }
                .seal(seq, &prev),
            );
        }
        events
    }

    #[test]
    fn a_bundle_verifies_and_any_edit_is_caught() {
        let signer = AuditSigner::from_seed([3; 32]);
        let events = events();
        let checkpoint = signer.checkpoint(2, &events[1].hash, "t");
        let bundle = build(
            &events,
            1,
            GENESIS_HASH,
            Some(checkpoint),
            None,
            &signer,
            "now",
        );
        let (_, read, report) =
            verify(&bundle.manifest_json, &bundle.events_jsonl, None, None).unwrap();
        assert!(report.log.ok, "{report:?}");
        assert_eq!(read, events);

        let edited = bundle.events_jsonl.replace("staff:alice", "staff:mallo");
        let (_, _, report) = verify(&bundle.manifest_json, &edited, None, None).unwrap();
        assert!(!report.log.ok);
        assert_eq!(report.log.first_bad_seq, Some(1));

        let manifest = bundle.manifest_json.replace("\"count\": 3", "\"count\": 2");
        let (_, _, report) = verify(&manifest, &bundle.events_jsonl, None, None).unwrap();
        assert!(!report.log.ok);

        let other = AuditSigner::from_seed([4; 32]);
        let (_, _, report) = verify(
            &bundle.manifest_json,
            &bundle.events_jsonl,
            None,
            Some(&other.public_key_hex()),
        )
        .unwrap();
        assert!(!report.log.ok);
        assert!(verify("{", "", None, None).is_err());
    }
}
