//! The counters of the seed system's own StudioState (v3.0), derived from a brain snapshot, so
//! a studio moving from the seed's numbers to brain's can check that both agree.
//!
//! The seed counts some queues by listing the values that count (`reportsOpen`: open, triaged,
//! actioned) and others by listing the values that do not (`batchesActive`: every state but
//! `CLOSED_*`). For the second kind, a value brain's model leaves unclassified still counts in
//! the seed's number, so it is added back here; brain shows such values instead of guessing.
//!
//! Architecture Invariant: no I/O; derived from a [`StudioState`] only.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::StudioState;

/// The seed's counters, by its names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeedCounters {
    pub batches_active: u64,
    pub batches_closed: u64,
    pub reservations_open: u64,
    pub firings_scheduled: u64,
    pub reports_open: u64,
    pub agent_requests_pending: u64,
    pub high_severity_reports: u64,
    pub pending_orders: u64,
    pub unsettled_payments: u64,
}

impl SeedCounters {
    /// The seed's counters as brain's snapshot gives them.
    pub fn from_state(state: &StudioState) -> Self {
        let of = |name: &str| state.collection(name).cloned().unwrap_or_default();
        // "Every value except ...": everything not closed, unknown values included.
        let not_closed = |name: &str| {
            let counts = of(name);
            counts.open + counts.in_progress + counts.unclassified
        };
        let reports = of("communityReports");
        Self {
            batches_active: not_closed("batches"),
            batches_closed: of("batches").closed,
            reservations_open: not_closed("reservations"),
            firings_scheduled: not_closed("kilnFirings"),
            reports_open: reports.queue.count,
            agent_requests_pending: of("agentRequests").queue.count,
            high_severity_reports: reports.high_severity.unwrap_or(0),
            pending_orders: not_closed("materialsOrders"),
            unsettled_payments: not_closed("stripe:payment_intents"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::*;
    use crate::snapshot::{Builder, Model, Record};

    /// The seed's definitions, written from its own counting rules, over raw records.
    fn seed_way(records: &[(&str, Value)]) -> SeedCounters {
        let text = |fields: &Value, name: &str| {
            fields
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim()
                .to_lowercase()
        };
        let mut counters = SeedCounters::default();
        for (collection, fields) in records {
            let status = text(fields, "status");
            let status = status.as_str();
            match *collection {
                "batches" if text(fields, "state").starts_with("closed_") => {
                    counters.batches_closed += 1;
                }
                "batches" => counters.batches_active += 1,
                "reservations"
                    if !matches!(
                        status,
                        "cancelled" | "canceled" | "completed" | "declined" | "closed"
                    ) =>
                {
                    counters.reservations_open += 1;
                }
                "kilnFirings"
                    if !matches!(status, "completed" | "cancelled" | "done" | "unloaded") =>
                {
                    counters.firings_scheduled += 1;
                }
                "communityReports" if matches!(status, "open" | "triaged" | "actioned") => {
                    counters.reports_open += 1;
                    if text(fields, "severity") == "high" {
                        counters.high_severity_reports += 1;
                    }
                }
                "agentRequests"
                    if matches!(
                        status,
                        "new" | "triaged" | "pending" | "needs_review" | "awaiting_payment"
                    ) =>
                {
                    counters.agent_requests_pending += 1;
                }
                "materialsOrders"
                    if !matches!(
                        status,
                        "paid" | "picked_up" | "refunded" | "cancelled" | "fulfilled" | "completed"
                    ) =>
                {
                    counters.pending_orders += 1;
                }
                "stripe:payment_intents" if !matches!(status, "succeeded" | "canceled") => {
                    counters.unsettled_payments += 1;
                }
                _ => {}
            }
        }
        counters
    }

    fn brain_way(records: &[(&str, Value)]) -> SeedCounters {
        let mut builder = Builder::new(crate::clock::now(), Arc::new(Model::built_in()));
        for (index, (collection, fields)) in records.iter().enumerate() {
            builder.add(
                collection,
                &Record {
                    id: format!("r{index}"),
                    fields: fields.clone(),
                    update_time: None,
                },
            );
        }
        SeedCounters::from_state(&builder.finish())
    }

    /// Every value the reference lists for each collection, in its spellings, plus values the
    /// model does not know and records without a lifecycle value.
    fn portal_records() -> Vec<(&'static str, Value)> {
        let mut records = Vec::new();
        for state in [
            "DRAFT",
            "SUBMITTED",
            "SHELVED",
            "LOADED",
            "FIRED",
            "READY_FOR_PICKUP",
            "CLOSED_PICKED_UP",
            "CLOSED_OTHER",
            "GLAZED",
        ] {
            records.push(("batches", json!({ "state": state })));
        }
        records.push(("batches", json!({ "title": "no state" })));
        for status in [
            "REQUESTED",
            "CONFIRMED",
            "WAITLISTED",
            "CANCELLED",
            "booked",
            "waitlisted",
            "cancelled",
            "completed",
            "declined",
            "on_hold",
        ] {
            records.push(("reservations", json!({ "status": status })));
        }
        for status in [
            "scheduled",
            "in-progress",
            "completed",
            "cancelled",
            "loading",
            "firing",
            "cooling",
            "unloading",
            "queued",
            "loaded",
            "ready",
            "done",
            "unloaded",
            "paused",
        ] {
            records.push(("kilnFirings", json!({ "status": status })));
        }
        for (status, severity) in [
            ("open", "high"),
            ("open", "low"),
            ("triaged", "high"),
            ("actioned", "medium"),
            ("resolved", "high"),
            ("dismissed", "low"),
            ("escalated", "high"),
        ] {
            records.push((
                "communityReports",
                json!({ "status": status, "severity": severity }),
            ));
        }
        for status in [
            "new",
            "triaged",
            "accepted",
            "in_progress",
            "ready",
            "fulfilled",
            "rejected",
            "cancelled",
            "pending",
            "needs_review",
            "awaiting_payment",
            "snoozed",
        ] {
            records.push(("agentRequests", json!({ "status": status })));
        }
        for status in [
            "checkout_created",
            "checkout_pending",
            "payment_pending",
            "paid",
            "picked_up",
            "payment_failed",
            "disputed",
            "refunded",
            "awaiting_payment",
            "cancelled",
            "shipped",
        ] {
            records.push(("materialsOrders", json!({ "status": status })));
        }
        for status in [
            "requires_payment_method",
            "requires_confirmation",
            "requires_action",
            "processing",
            "requires_capture",
            "canceled",
            "succeeded",
        ] {
            records.push(("stripe:payment_intents", json!({ "status": status })));
        }
        records
    }

    #[test]
    fn the_seeds_counters_derive_from_brains_snapshot() {
        let records = portal_records();
        let brain = brain_way(&records);
        assert_eq!(brain, seed_way(&records));
        // The numbers themselves, so a change in both ways at once is still caught.
        assert_eq!(
            brain,
            SeedCounters {
                batches_active: 8,
                batches_closed: 2,
                reservations_open: 6,
                firings_scheduled: 10,
                reports_open: 4,
                agent_requests_pending: 5,
                high_severity_reports: 2,
                pending_orders: 7,
                unsettled_payments: 5,
            }
        );
    }

    #[test]
    fn the_demo_fixtures_agree_both_ways() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/studio/cloud");
        let mut records = Vec::new();
        for collection in crate::snapshot::COLLECTIONS {
            let Ok(entries) = std::fs::read_dir(dir.join(collection)) else {
                continue;
            };
            for entry in entries.flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap();
                records.push((*collection, serde_json::from_str::<Value>(&text).unwrap()));
            }
        }
        let intents: Vec<Value> = serde_json::from_str(
            &std::fs::read_to_string(dir.join("stripe/payment_intents.json")).unwrap(),
        )
        .unwrap();
        records.extend(
            intents
                .into_iter()
                .map(|intent| ("stripe:payment_intents", intent)),
        );
        assert!(records.len() > 20);
        assert_eq!(brain_way(&records), seed_way(&records));
    }
}
