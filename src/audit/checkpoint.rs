//! Signed checkpoints of the audit chain head, and verification of a whole log.
//!
//! A checkpoint is an Ed25519 signature over `(seq, hash, at)` of the chain head. The hash
//! chain alone proves the order and content of the events it holds; the signed checkpoints
//! prove the chain reached at least that far, so truncating the log or rewriting it from some
//! point on (with freshly computed hashes) is detected as soon as a checkpoint covers it.
//!
//! Architecture Invariant: no I/O; keys come in as bytes and events as values.

use std::collections::BTreeMap;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::Serialize;

use super::{AuditEvent, ChainBreak, GENESIS_HASH, event_hash};
use crate::store::Checkpoint;

/// The key that signs checkpoints.
pub struct AuditSigner {
    key: SigningKey,
}

impl std::fmt::Debug for AuditSigner {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "AuditSigner({})", self.public_key_hex())
    }
}

impl AuditSigner {
    /// From the 32-byte seed written as 64 hex characters.
    pub fn from_hex(text: &str) -> Result<Self, String> {
        let bytes = hex::decode(text.trim()).map_err(|_| {
            "the audit signing key is not hex: it must be 64 hex characters (a 32-byte Ed25519 seed)"
                .to_string()
        })?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| {
            "the audit signing key must be 64 hex characters (a 32-byte Ed25519 seed)".to_string()
        })?;
        Ok(Self::from_seed(seed))
    }

    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// A new random key.
    pub fn generate() -> Result<Self, String> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|error| format!("no randomness available: {error}"))?;
        Ok(Self::from_seed(seed))
    }

    /// The seed as hex, to store in a key file.
    pub fn seed_hex(&self) -> String {
        hex::encode(self.key.to_bytes())
    }

    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }

    /// Sign the chain head at `seq` with `hash`, at time `at`.
    pub fn checkpoint(&self, seq: i64, hash: &str, at: &str) -> Checkpoint {
        let signature = self.key.sign(&message(seq, hash, at));
        Checkpoint {
            seq,
            hash: hash.to_string(),
            at: at.to_string(),
            public_key: self.public_key_hex(),
            signature: hex::encode(signature.to_bytes()),
        }
    }

    /// Sign arbitrary bytes (export bundle manifests).
    pub fn sign_bytes(&self, bytes: &[u8]) -> String {
        hex::encode(self.key.sign(bytes).to_bytes())
    }
}

/// What a checkpoint signs.
fn message(seq: i64, hash: &str, at: &str) -> Vec<u8> {
    format!("brain-audit-checkpoint/1\n{seq}\n{hash}\n{at}").into_bytes()
}

/// Check a signature made with [`AuditSigner::sign_bytes`].
pub fn verify_bytes(public_key_hex: &str, bytes: &[u8], signature_hex: &str) -> Result<(), String> {
    let key = verifying_key(public_key_hex)?;
    let signature = signature(signature_hex)?;
    key.verify(bytes, &signature)
        .map_err(|_| "the signature does not match".to_string())
}

fn verifying_key(public_key_hex: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = hex::decode(public_key_hex)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| "the public key is not 32 bytes of hex".to_string())?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "the public key is not a valid Ed25519 key".into())
}

fn signature(signature_hex: &str) -> Result<Signature, String> {
    let bytes: [u8; 64] = hex::decode(signature_hex)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| "the signature is not 64 bytes of hex".to_string())?;
    Ok(Signature::from_bytes(&bytes))
}

/// Check one checkpoint's signature, and that it was made by `trusted` when given.
pub fn verify_checkpoint(checkpoint: &Checkpoint, trusted: Option<&str>) -> Result<(), String> {
    if let Some(trusted) = trusted
        && trusted != checkpoint.public_key
    {
        return Err(format!(
            "checkpoint {} was signed by key {}, not by the configured key {}",
            checkpoint.seq,
            short(&checkpoint.public_key),
            short(trusted)
        ));
    }
    let key = verifying_key(&checkpoint.public_key)?;
    let signature = signature(&checkpoint.signature)?;
    key.verify(
        &message(checkpoint.seq, &checkpoint.hash, &checkpoint.at),
        &signature,
    )
    .map_err(|_| format!("checkpoint {} has a bad signature", checkpoint.seq))
}

fn short(key: &str) -> &str {
    &key[..key.len().min(16)]
}

/// The result of verifying a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct VerifyReport {
    pub ok: bool,
    /// Events checked.
    pub events: i64,
    /// The last good sequence number and its hash.
    pub head_seq: i64,
    pub head_hash: String,
    pub checkpoints: usize,
    pub latest_checkpoint: Option<i64>,
    /// The first sequence number that fails, when one does.
    pub first_bad_seq: Option<i64>,
    pub problems: Vec<String>,
}

/// Verifies a log fed page by page: the chain, then the checkpoints and the recorded head.
pub struct LogVerifier {
    prev_seq: i64,
    prev_hash: String,
    events: i64,
    broken: Option<ChainBreak>,
    /// Hashes at the checkpointed sequence numbers, as the events hold them.
    wanted: BTreeMap<i64, Option<String>>,
}

impl LogVerifier {
    /// Start after the event `(start_seq, start_hash)`; a full log starts at `(0, GENESIS)`.
    pub fn new(start_seq: i64, start_hash: &str, checkpoints: &[Checkpoint]) -> Self {
        Self {
            prev_seq: start_seq,
            prev_hash: start_hash.to_string(),
            events: 0,
            broken: None,
            wanted: checkpoints
                .iter()
                .map(|checkpoint| (checkpoint.seq, None))
                .collect(),
        }
    }

    pub fn full(checkpoints: &[Checkpoint]) -> Self {
        Self::new(0, GENESIS_HASH, checkpoints)
    }

    /// Feed the next events in sequence order. Stops checking at the first break.
    pub fn feed(&mut self, events: &[AuditEvent]) {
        for event in events {
            if self.broken.is_some() {
                return;
            }
            if let Some(slot) = self.wanted.get_mut(&event.seq) {
                *slot = Some(event.hash.clone());
            }
            let problem = if event.seq != self.prev_seq + 1 {
                Some(ChainBreak {
                    seq: self.prev_seq + 1,
                    problem: format!(
                        "event {} is missing or out of order (found {} next)",
                        self.prev_seq + 1,
                        event.seq
                    ),
                })
            } else if event.prev_hash != self.prev_hash {
                Some(ChainBreak {
                    seq: event.seq,
                    problem: format!(
                        "event {} does not point back to the hash of event {}",
                        event.seq, self.prev_seq
                    ),
                })
            } else if event_hash(event) != event.hash {
                Some(ChainBreak {
                    seq: event.seq,
                    problem: format!("event {}'s content does not match its hash", event.seq),
                })
            } else {
                None
            };
            if let Some(problem) = problem {
                self.broken = Some(problem);
                return;
            }
            self.prev_seq = event.seq;
            self.prev_hash = event.hash.clone();
            self.events += 1;
        }
    }

    /// Finish: check the checkpoints (signatures, by `trusted` when given, and against the
    /// events) and the recorded head `(seq, hash)` when the store keeps one.
    pub fn finish(
        self,
        checkpoints: &[Checkpoint],
        trusted: Option<&str>,
        recorded_head: Option<(i64, &str)>,
    ) -> VerifyReport {
        let mut problems = Vec::new();
        let mut first_bad = self.broken.as_ref().map(|broken| broken.seq);
        if let Some(broken) = &self.broken {
            problems.push(broken.problem.clone());
        }
        let mut note_bad = |seq: i64, problem: String, problems: &mut Vec<String>| {
            first_bad = Some(first_bad.map_or(seq, |first: i64| first.min(seq)));
            problems.push(problem);
        };
        for checkpoint in checkpoints {
            if let Err(problem) = verify_checkpoint(checkpoint, trusted) {
                note_bad(checkpoint.seq, problem, &mut problems);
                continue;
            }
            match self.wanted.get(&checkpoint.seq).cloned().flatten() {
                Some(hash) if hash == checkpoint.hash => {}
                Some(_) => note_bad(
                    checkpoint.seq,
                    format!(
                        "event {} differs from what checkpoint {} signed",
                        checkpoint.seq, checkpoint.seq
                    ),
                    &mut problems,
                ),
                None if self.broken.is_none() => note_bad(
                    self.prev_seq + 1,
                    format!(
                        "the log ends at event {} but checkpoint {} signed a longer log: events were removed",
                        self.prev_seq, checkpoint.seq
                    ),
                    &mut problems,
                ),
                None => {}
            }
        }
        if self.broken.is_none()
            && let Some((seq, hash)) = recorded_head
            && (seq != self.prev_seq || hash != self.prev_hash)
        {
            let at = seq.min(self.prev_seq) + 1;
            note_bad(
                at,
                format!(
                    "the recorded chain head is event {seq}, but the log ends at event {}",
                    self.prev_seq
                ),
                &mut problems,
            );
        }
        VerifyReport {
            ok: problems.is_empty(),
            events: self.events,
            head_seq: self.prev_seq,
            head_hash: self.prev_hash,
            checkpoints: checkpoints.len(),
            latest_checkpoint: checkpoints.iter().map(|checkpoint| checkpoint.seq).max(),
            first_bad_seq: first_bad,
            problems,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::NewAuditEvent;

    fn chain(length: i64) -> Vec<AuditEvent> {
        let mut events: Vec<AuditEvent> = Vec::new();
        for seq in 1..=length {
            let prev = events
                .last()
                .map_or(GENESIS_HASH.to_string(), |event| event.hash.clone());
            events.push(
                NewAuditEvent {
                    at: format!("2026-01-01T00:00:{seq:02}.000000Z"),
                    actor: "staff:alice".into(),
                    action: "propose".into(),
                    capability: None,
                    proposal_id: None,
                    decision: "allow".into(),
                    reason_codes: vec![],
                    policy_ids: vec![],
                    policy_set_hash: None,
                    input_hash: None,
                    output_hash: None,
                    detail: serde_json::json!({}),
                }
                .seal(seq, &prev),
            );
        }
        events
    }

    fn verify(events: &[AuditEvent], checkpoints: &[Checkpoint], trusted: &str) -> VerifyReport {
        let mut verifier = LogVerifier::full(checkpoints);
        verifier.feed(events);
        verifier.finish(checkpoints, Some(trusted), None)
    }

    #[test]
    fn checkpoints_sign_and_verify() {
        let signer = AuditSigner::from_seed([7; 32]);
        let events = chain(5);
        let checkpoint = signer.checkpoint(3, &events[2].hash, "t");
        let report = verify(
            &events,
            std::slice::from_ref(&checkpoint),
            &signer.public_key_hex(),
        );
        assert!(report.ok, "{report:?}");
        assert_eq!(report.latest_checkpoint, Some(3));

        let mut forged = checkpoint.clone();
        forged.seq = 4;
        let report = verify(&events, &[forged], &signer.public_key_hex());
        assert!(!report.ok);
        assert_eq!(report.first_bad_seq, Some(4));

        let other = AuditSigner::from_seed([8; 32]);
        let report = verify(&events, &[checkpoint], &other.public_key_hex());
        assert!(!report.ok);
        assert!(report.problems[0].contains("not by the configured key"));
    }

    #[test]
    fn truncation_below_a_checkpoint_is_detected() {
        let signer = AuditSigner::from_seed([7; 32]);
        let events = chain(5);
        let checkpoint = signer.checkpoint(5, &events[4].hash, "t");
        let report = verify(&events[..3], &[checkpoint], &signer.public_key_hex());
        assert!(!report.ok);
        assert_eq!(report.first_bad_seq, Some(4));
    }

    #[test]
    fn a_rewritten_tail_with_fresh_hashes_is_detected_by_the_checkpoint() {
        let signer = AuditSigner::from_seed([7; 32]);
        let events = chain(4);
        let checkpoint = signer.checkpoint(4, &events[3].hash, "t");
        let mut rewritten = events[..2].to_vec();
        for seq in 3..=4 {
            let mut event = events[(seq - 1) as usize].clone();
            event.actor = "staff:mallory".into();
            event.prev_hash = rewritten.last().unwrap().hash.clone();
            event.hash = event_hash(&event);
            rewritten.push(event);
        }
        let report = verify(&rewritten, &[checkpoint], &signer.public_key_hex());
        assert!(!report.ok);
        assert_eq!(report.first_bad_seq, Some(4));
    }

    #[test]
    fn keys_round_trip_through_hex() {
        let signer = AuditSigner::generate().unwrap();
        let again = AuditSigner::from_hex(&signer.seed_hex()).unwrap();
        assert_eq!(signer.public_key_hex(), again.public_key_hex());
        assert!(AuditSigner::from_hex("abc").is_err());
        let signature = signer.sign_bytes(b"manifest");
        assert!(verify_bytes(&signer.public_key_hex(), b"manifest", &signature).is_ok());
        assert!(verify_bytes(&signer.public_key_hex(), b"other", &signature).is_err());
    }
}
