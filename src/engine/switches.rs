//! Kill-switch state. A switch is on while its runtime record (`kill_switch:<name>` in the
//! store's runtime key-value table) says so; a switch never set is off. The policies decide what
//! a switch stops (`policies/kill_switches.cedar`); this module only knows which are on.
//!
//! Architecture Invariant: a record that cannot be read counts as *on*: an unreadable switch
//! must never let an action through.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::store::{KvEntry, Store, StoreError, WriteTx};

pub(crate) const PREFIX: &str = "kill_switch:";

/// One switch as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KillSwitchState {
    pub name: String,
    pub on: bool,
    pub reason: String,
    pub updated_at: String,
    pub updated_by: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    on: bool,
    reason: String,
}

fn key(name: &str) -> String {
    format!("{PREFIX}{name}")
}

fn state_of(entry: &KvEntry) -> KillSwitchState {
    let name = entry.key[PREFIX.len()..].to_string();
    match serde_json::from_str::<Record>(&entry.value) {
        Ok(record) => KillSwitchState {
            name,
            on: record.on,
            reason: record.reason,
            updated_at: entry.updated_at.clone(),
            updated_by: entry.updated_by.clone(),
        },
        Err(_) => KillSwitchState {
            name,
            on: true,
            reason: "the stored record is unreadable, so the switch counts as on".into(),
            updated_at: entry.updated_at.clone(),
            updated_by: entry.updated_by.clone(),
        },
    }
}

/// The record to store for a switch.
pub(crate) fn entry(name: &str, on: bool, reason: &str, at: &str, by: &str) -> KvEntry {
    KvEntry {
        key: key(name),
        value: serde_json::json!({ "on": on, "reason": reason }).to_string(),
        updated_at: at.to_string(),
        updated_by: by.to_string(),
    }
}

/// The names of the switches that are on, read inside `tx`.
pub(crate) async fn active_in(tx: &mut dyn WriteTx) -> Result<BTreeSet<String>, StoreError> {
    Ok(active_of(&tx.kv_list(PREFIX).await?))
}

/// The names of the switches that are on among `entries` (runtime entries under [`PREFIX`]).
pub(crate) fn active_of(entries: &[KvEntry]) -> BTreeSet<String> {
    entries
        .iter()
        .filter(|entry| entry.key.starts_with(PREFIX))
        .map(state_of)
        .filter(|state| state.on)
        .map(|state| state.name)
        .collect()
}

/// One switch, read inside `tx`.
pub(crate) async fn get_in(
    tx: &mut dyn WriteTx,
    name: &str,
) -> Result<Option<KillSwitchState>, StoreError> {
    Ok(tx.kv_get(&key(name)).await?.as_ref().map(state_of))
}

/// Every switch ever set.
pub(crate) async fn list(store: &dyn Store) -> Result<Vec<KillSwitchState>, StoreError> {
    Ok(store.kv_list(PREFIX).await?.iter().map(state_of).collect())
}

/// Whether `name` is a switch some policy keys on: a declared name (`global`, `physical`) or an
/// instance of a declared pattern (`target:*` covers `target:hubitat`).
pub fn valid_switch_name(declared: &[&str], name: &str) -> bool {
    declared
        .iter()
        .any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => {
                name.len() > prefix.len()
                    && name.starts_with(prefix)
                    && name[prefix.len()..]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            }
            None => *pattern == name,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_names_match_declared_names_and_patterns() {
        let declared = ["global", "physical", "target:*", "capability:*"];
        assert!(valid_switch_name(&declared, "global"));
        assert!(valid_switch_name(&declared, "target:hubitat"));
        assert!(valid_switch_name(
            &declared,
            "capability:firestore.ops_note.append"
        ));
        assert!(!valid_switch_name(&declared, "target:"));
        assert!(!valid_switch_name(&declared, "globall"));
        assert!(!valid_switch_name(&declared, "target:a b"));
    }

    #[test]
    fn an_unreadable_record_counts_as_on() {
        let entry = KvEntry {
            key: key("global"),
            value: "not json".into(),
            updated_at: "t".into(),
            updated_by: "x".into(),
        };
        assert!(state_of(&entry).on);
    }
}
