//! The finance reconciliation swarm (`finance`): record-level matching of Stripe's payment
//! intents, charges, refunds and checkout sessions to the portal's materials orders, never a
//! comparison of two counts. Its findings become `finance.flag.draft` proposals; brain never
//! changes a payment or an order (staff can turn a finding into an ops note about the order).
//!
//! How records link, strongest first: the order's `stripePaymentIntentId`; the order's
//! `stripeCheckoutSessionId` / `stripeSessionId` and that session's `payment_intent`; the
//! session's `client_reference_id` or `metadata.orderId` / `metadata.materialsOrderId`; the
//! payment intent's own `metadata.orderId` / `metadata.materialsOrderId`. A finding's
//! confidence is its link's.
//!
//! Late and out-of-order data never makes a flag on its own: every record is gathered before
//! anything is judged (a refund listed before its charge finds it), an order or payment that
//! changed within `settle` (or after the run started) is not judged this run, an order older
//! than the Stripe window is not called unpaid for lack of a payment the window leaves out, and
//! an object Stripe delivered twice was handed over once.
//!
//! Memory grows with the orders and payments of the window: each is kept as a few ids,
//! statuses and amounts, not as its document.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    Collector, Evidence, Finding, RuleInfo, RunContext, Seen, Severity, Swarm, SwarmInfo,
    chrono_of, spoken,
};
use crate::config::Duration;
use crate::snapshot::model;

macro_rules! rule {
    ($name:ident, $id:literal, $title:literal, $summary:literal) => {
        pub static $name: RuleInfo = RuleInfo {
            id: $id,
            version: 1,
            title: $title,
            summary: $summary,
        };
    };
}

rule!(
    PAID_WITHOUT_PAYMENT,
    "paid_without_payment",
    "Paid without a payment",
    "an order marked paid or picked up whose payment is missing, failed or not succeeded"
);
rule!(
    PAYMENT_NOT_RECORDED,
    "payment_not_recorded",
    "Payment not recorded",
    "a succeeded payment whose order is still pending (a missed webhook)"
);
rule!(
    AMOUNT_MISMATCH,
    "amount_mismatch",
    "Amount mismatch",
    "an order's total and its captured amount (or currency) differ"
);
rule!(
    DUPLICATE_PAYMENT,
    "duplicate_payment",
    "Duplicate payment",
    "more than one succeeded payment for one order"
);
rule!(
    REFUND_NOT_RECORDED,
    "refund_not_recorded",
    "Refund not recorded",
    "a refunded or disputed charge whose order is still paid"
);
rule!(
    STUCK_PAYMENT,
    "stuck_payment",
    "Stuck payment",
    "a payment processing or requiring action for longer than the limit"
);
rule!(
    ORPHAN_PAYMENT,
    "orphan_payment",
    "Orphan payment",
    "a succeeded payment that links to no order at all"
);

pub static INFO: SwarmInfo = SwarmInfo {
    name: "finance",
    title: "Finance reconciliation",
    draft_capability: "finance.flag.draft",
    default_agent: "agent:finance-swarm",
    rules: &[
        &PAID_WITHOUT_PAYMENT,
        &PAYMENT_NOT_RECORDED,
        &AMOUNT_MISMATCH,
        &DUPLICATE_PAYMENT,
        &REFUND_NOT_RECORDED,
        &STUCK_PAYMENT,
        &ORPHAN_PAYMENT,
    ],
};

fn yes() -> bool {
    true
}

/// The finance rules' settings (`swarms.finance.rules`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FinanceRules {
    /// Rules to leave out (`[orphan_payment]`).
    pub disabled: Vec<String>,
    /// After a rejected flag about a record, stay quiet about it this long.
    pub cooldown: Duration,
    /// A record that changed this recently is not judged yet: webhooks may be in flight.
    pub settle: Duration,
    /// A payment processing or requiring action longer than this is stuck.
    pub stuck_after: Duration,
    /// How far back Stripe is read (`cloud.stripe.window`): an order older than this is not
    /// called unpaid for lack of a payment.
    pub window: Duration,
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl Default for FinanceRules {
    fn default() -> Self {
        Self {
            disabled: Vec::new(),
            cooldown: Duration::from_secs(7 * 86_400),
            settle: Duration::from_secs(15 * 60),
            stuck_after: Duration::from_secs(2 * 86_400),
            window: Duration::from_secs(35 * 86_400),
            enabled: true,
        }
    }
}

impl FinanceRules {
    pub fn each(&self) -> Vec<(&'static RuleInfo, bool, Duration)> {
        INFO.rules
            .iter()
            .map(|rule| {
                (
                    *rule,
                    self.enabled && !self.disabled.iter().any(|off| off == rule.id),
                    self.cooldown,
                )
            })
            .collect()
    }
}

/// An order as the matcher keeps it.
#[derive(Debug, Clone)]
struct Order {
    status: String,
    total: Option<i64>,
    currency: Option<String>,
    payment_intent: Option<String>,
    session: Option<String>,
    created: Option<DateTime<Utc>>,
    changed: Option<DateTime<Utc>>,
    source: String,
    update_time: Option<String>,
}

#[derive(Debug, Clone)]
struct Intent {
    status: String,
    amount: Option<i64>,
    received: Option<i64>,
    currency: Option<String>,
    created: Option<DateTime<Utc>>,
    orders: Vec<String>,
    description: Option<String>,
}

#[derive(Debug, Clone)]
struct Session {
    payment_intent: Option<String>,
    orders: Vec<String>,
}

/// A refunded or disputed charge, or a refund: money going back on a payment intent.
#[derive(Debug, Clone)]
struct Reversal {
    /// `ch_...` or `re_...`.
    id: String,
    payment_intent: Option<String>,
    charge: Option<String>,
    disputed: bool,
    created: Option<DateTime<Utc>>,
}

/// How a payment intent was linked to an order, with how sure the link is.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
struct Link {
    confidence: f64,
}

/// Order id → the payment intents linked to it, sorted by id, each with its best link.
type Links<'a> = BTreeMap<&'a str, Vec<(&'a str, Link)>>;

fn add_link<'a>(by_order: &mut Links<'a>, order: &'a str, intent: &'a str, confidence: f64) {
    let intents = by_order.entry(order).or_default();
    match intents.binary_search_by(|(id, _)| (*id).cmp(intent)) {
        Ok(at) => {
            let entry = &mut intents[at].1;
            if confidence > entry.confidence {
                entry.confidence = confidence;
            }
        }
        Err(at) => intents.insert(at, (intent, Link { confidence })),
    }
}

/// One run of the finance swarm.
pub struct Finance {
    rules: FinanceRules,
    orders: BTreeMap<String, Order>,
    intents: BTreeMap<String, Intent>,
    sessions: BTreeMap<String, Session>,
    /// Charge id → its payment intent (for refunds that name only the charge).
    charges: BTreeMap<String, Option<String>>,
    reversals: Vec<Reversal>,
}

fn text(fields: &Value, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|name| model::field(fields, name).and_then(Value::as_str))
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_string)
}

fn integer(fields: &Value, names: &[&str]) -> Option<i64> {
    names
        .iter()
        .find_map(|name| model::field(fields, name).and_then(Value::as_i64))
}

fn time(fields: &Value, names: &[&str]) -> Option<DateTime<Utc>> {
    names
        .iter()
        .find_map(|name| model::field(fields, name).and_then(model::time_value))
}

/// Order ids a Stripe object's metadata names.
fn metadata_orders(fields: &Value) -> Vec<String> {
    ["metadata.orderId", "metadata.materialsOrderId"]
        .iter()
        .filter_map(|name| text(fields, &[name]))
        .collect()
}

fn money(amount: Option<i64>, currency: Option<&str>) -> String {
    match amount {
        Some(minor) => format!(
            "{}.{:02} {}",
            minor / 100,
            (minor % 100).abs(),
            currency.unwrap_or("?").to_uppercase()
        ),
        None => "an unknown amount".into(),
    }
}

impl Finance {
    pub fn new(rules: FinanceRules) -> Self {
        Self {
            rules,
            orders: BTreeMap::new(),
            intents: BTreeMap::new(),
            sessions: BTreeMap::new(),
            charges: BTreeMap::new(),
            reversals: Vec::new(),
        }
    }

    fn on(&self, rule: &RuleInfo) -> bool {
        self.rules.enabled && !self.rules.disabled.iter().any(|off| off == rule.id)
    }

    /// Whether a record that changed at `at` has settled by `now` (the run's start): changes
    /// within `settle`, or after the run began, may have webhooks still in flight.
    fn settled(&self, at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        at.is_none_or(|at| at <= now - chrono_of(self.rules.settle))
    }

    /// Every order each succeeded-or-not intent links to, with the link's confidence (the
    /// ids borrowed from the run's records: at 100,000 orders, copies would cost more than
    /// the records).
    fn links(&self) -> Links<'_> {
        let mut by_order: Links<'_> = BTreeMap::new();
        let mut link =
            |order, intent, confidence| add_link(&mut by_order, order, intent, confidence);
        for (id, order) in &self.orders {
            if let Some(intent) = &order.payment_intent {
                link(id, intent, 0.99);
            }
            if let Some(session) = order.session.as_ref().and_then(|id| self.sessions.get(id))
                && let Some(intent) = &session.payment_intent
            {
                link(id, intent, 0.95);
            }
        }
        for session in self.sessions.values() {
            if let Some(intent) = &session.payment_intent {
                for order in &session.orders {
                    link(order, intent, 0.9);
                }
            }
        }
        for (id, intent) in &self.intents {
            for order in &intent.orders {
                link(order, id, 0.85);
            }
        }
        by_order
    }

    fn order_evidence(&self, id: &str, order: &Order, field: &str, value: Value) -> Evidence {
        Evidence {
            source: order.source.clone(),
            path: format!("materialsOrders/{id}"),
            field: field.to_string(),
            value,
            update_time: order.update_time.clone(),
        }
    }

    fn intent_evidence(id: &str, intent: &Intent, field: &str, value: Value) -> Evidence {
        Evidence {
            source: "stripe".into(),
            path: format!("stripe/{id}"),
            field: field.to_string(),
            value,
            update_time: intent.created.map(crate::clock::format_time),
        }
    }

    fn judge_orders(&self, context: &RunContext<'_>, links: &Links<'_>, out: &mut Collector) {
        let now = context.now;
        let window_start = now - chrono_of(self.rules.window);
        for (id, order) in &self.orders {
            if !self.settled(order.changed, now) {
                continue;
            }
            let linked = links.get(id.as_str());
            let linked_intents: Vec<(&str, &Intent, Link)> = linked
                .into_iter()
                .flatten()
                .filter_map(|(intent, link)| {
                    self.intents
                        .get(*intent)
                        .map(|found| (*intent, found, *link))
                })
                .collect();
            let succeeded: Vec<&(&str, &Intent, Link)> = linked_intents
                .iter()
                .filter(|(_, intent, _)| intent.status == "succeeded")
                .collect();
            let paid = matches!(order.status.as_str(), "paid" | "picked_up");
            let status_evidence =
                self.order_evidence(id, order, "status", Value::from(order.status.clone()));
            if paid && succeeded.is_empty() && self.on(&PAID_WITHOUT_PAYMENT) {
                let older_than_window = order.created.is_some_and(|created| created < window_start);
                let unsettled = linked_intents
                    .iter()
                    .any(|(_, intent, _)| !self.settled(intent.created, now));
                if !older_than_window && !unsettled {
                    let (why, confidence, mut evidence) = if linked_intents.is_empty() {
                        let named = linked.is_some();
                        (
                            if named {
                                "the payment it names was not found in Stripe's window".to_string()
                            } else {
                                "no Stripe payment links to it".to_string()
                            },
                            if named { 0.8 } else { 0.7 },
                            vec![status_evidence.clone()],
                        )
                    } else {
                        let states: Vec<String> = linked_intents
                            .iter()
                            .map(|(intent_id, intent, _)| {
                                format!("{intent_id} is {}", intent.status)
                            })
                            .collect();
                        (
                            format!("its payment has not succeeded ({})", states.join(", ")),
                            linked_intents
                                .iter()
                                .map(|(_, _, link)| link.confidence)
                                .fold(0.0, f64::max),
                            vec![status_evidence.clone()],
                        )
                    };
                    for (intent_id, intent, _) in &linked_intents {
                        evidence.push(Self::intent_evidence(
                            intent_id,
                            intent,
                            "status",
                            Value::from(intent.status.clone()),
                        ));
                    }
                    out.push(Finding {
                        rule: PAID_WITHOUT_PAYMENT.reference(),
                        subject: format!("materialsOrders/{id}"),
                        severity: Severity::High,
                        confidence,
                        title: format!("Order {id} is {} but {why}", order.status),
                        rationale: format!(
                            "Order {id} ({}) is marked {}, but {why}.",
                            money(order.total, order.currency.as_deref()),
                            order.status
                        ),
                        recommendation: format!(
                            "Check the payment for order {id} in Stripe before handing over the materials; correct the order's status in the portal if it was never paid."
                        ),
                        evidence,
                        post: None,
                        suggestion: None,
                    });
                }
            }
            let pending = !paid
                && !matches!(
                    order.status.as_str(),
                    "refunded" | "cancelled" | "fulfilled" | "completed" | "disputed"
                );
            if pending && self.on(&PAYMENT_NOT_RECORDED) {
                for (intent_id, intent, link) in &succeeded {
                    if !self.settled(intent.created, now) {
                        continue;
                    }
                    out.push(Finding {
                        rule: PAYMENT_NOT_RECORDED.reference(),
                        subject: format!("materialsOrders/{id}"),
                        severity: Severity::Medium,
                        confidence: link.confidence,
                        title: format!("Order {id} is {} though {intent_id} succeeded", order.status),
                        rationale: format!(
                            "Payment {intent_id} for order {id} succeeded ({} received) but the order is still {}: the portal likely missed Stripe's webhook.",
                            money(intent.received.or(intent.amount), intent.currency.as_deref()),
                            order.status
                        ),
                        recommendation: format!(
                            "Mark order {id} paid in the portal (or replay the webhook) so the member can pick it up."
                        ),
                        evidence: vec![
                            status_evidence.clone(),
                            Self::intent_evidence(intent_id, intent, "status", Value::from("succeeded")),
                        ],
                        post: None,
                        suggestion: None,
                    });
                }
            }
            if paid && succeeded.len() == 1 && self.on(&AMOUNT_MISMATCH) {
                let (intent_id, intent, link) = succeeded[0];
                let captured = intent.received.or(intent.amount);
                let currency_differs = match (&order.currency, &intent.currency) {
                    (Some(left), Some(right)) => !left.eq_ignore_ascii_case(right),
                    _ => false,
                };
                let amount_differs = matches!((order.total, captured), (Some(total), Some(captured)) if total != captured);
                if amount_differs || currency_differs {
                    out.push(Finding {
                        rule: AMOUNT_MISMATCH.reference(),
                        subject: format!("materialsOrders/{id}"),
                        severity: Severity::Medium,
                        confidence: link.confidence,
                        title: format!("Order {id} and {intent_id} disagree on the amount"),
                        rationale: format!(
                            "Order {id} totals {} but {intent_id} captured {}.",
                            money(order.total, order.currency.as_deref()),
                            money(captured, intent.currency.as_deref())
                        ),
                        recommendation: "Find which side is right; refund or collect the difference in Stripe, or correct the order's total in the portal.".into(),
                        evidence: vec![
                            self.order_evidence(id, order, "totalCents", order.total.map_or(Value::Null, Value::from)),
                            Self::intent_evidence(intent_id, intent, "amount_received", captured.map_or(Value::Null, Value::from)),
                        ],
                        post: None,
                        suggestion: None,
                    });
                }
            }
            if succeeded.len() > 1 && self.on(&DUPLICATE_PAYMENT) {
                let ids: Vec<&str> = succeeded
                    .iter()
                    .map(|(intent_id, _, _)| *intent_id)
                    .collect();
                out.push(Finding {
                    rule: DUPLICATE_PAYMENT.reference(),
                    subject: format!("materialsOrders/{id}"),
                    severity: Severity::High,
                    confidence: succeeded
                        .iter()
                        .map(|(_, _, link)| link.confidence)
                        .fold(1.0, f64::min),
                    title: format!("Order {id} was paid {} times", succeeded.len()),
                    rationale: format!(
                        "{} succeeded payments link to order {id}: {}.",
                        succeeded.len(),
                        ids.join(", ")
                    ),
                    recommendation:
                        "Refund the duplicate payment in Stripe after checking with the member."
                            .into(),
                    evidence: succeeded
                        .iter()
                        .map(|(intent_id, intent, _)| {
                            Self::intent_evidence(
                                intent_id,
                                intent,
                                "status",
                                Value::from("succeeded"),
                            )
                        })
                        .chain(std::iter::once(status_evidence.clone()))
                        .collect(),
                    post: None,
                    suggestion: None,
                });
            }
        }
    }

    /// The payment intent a reversal takes money back from. A refund may name only its charge,
    /// and may be listed before the charge: every record is in by the time this is asked.
    fn reversed_intent(&self, reversal: &Reversal) -> Option<String> {
        reversal.payment_intent.clone().or_else(|| {
            reversal
                .charge
                .as_ref()
                .and_then(|charge| self.charges.get(charge).cloned().flatten())
        })
    }

    fn judge_reversals(&self, context: &RunContext<'_>, links: &Links<'_>, out: &mut Collector) {
        if !self.on(&REFUND_NOT_RECORDED) {
            return;
        }
        // Payment intent → the orders linked to it, for the reversed intents only (a refund is
        // looked up once, not matched against every order).
        let reversed: BTreeSet<String> = self
            .reversals
            .iter()
            .filter_map(|reversal| self.reversed_intent(reversal))
            .collect();
        let mut by_intent: BTreeMap<&str, Vec<(&str, Link)>> = BTreeMap::new();
        for (order_id, intents) in links {
            for (intent, link) in intents {
                if reversed.contains(*intent) {
                    by_intent.entry(intent).or_default().push((order_id, *link));
                }
            }
        }
        let mut flagged: BTreeSet<&str> = BTreeSet::new();
        for reversal in &self.reversals {
            if !self.settled(reversal.created, context.now) {
                continue;
            }
            let Some(intent) = self.reversed_intent(reversal) else {
                continue;
            };
            for &(order_id, link) in by_intent.get(intent.as_str()).into_iter().flatten() {
                let Some(order) = self.orders.get(order_id) else {
                    continue;
                };
                if order.status != "paid"
                    || !self.settled(order.changed, context.now)
                    || !flagged.insert(order_id)
                {
                    continue;
                }
                let what = if reversal.disputed {
                    "disputed"
                } else {
                    "refunded"
                };
                out.push(Finding {
                    rule: REFUND_NOT_RECORDED.reference(),
                    subject: format!("materialsOrders/{order_id}"),
                    severity: Severity::High,
                    confidence: link.confidence,
                    title: format!("Order {order_id} is still paid though its payment was {what}"),
                    rationale: format!(
                        "{} shows the payment {intent} of order {order_id} {what}, but the order is still paid.",
                        reversal.id
                    ),
                    recommendation: format!(
                        "Mark order {order_id} refunded (or disputed) in the portal, and hold its materials."
                    ),
                    evidence: vec![
                        self.order_evidence(order_id, order, "status", Value::from("paid")),
                        Evidence {
                            source: "stripe".into(),
                            path: format!("stripe/{}", reversal.id),
                            field: if reversal.disputed { "disputed".into() } else { "refunded".into() },
                            value: Value::Bool(true),
                            update_time: reversal.created.map(crate::clock::format_time),
                        },
                    ],
                    post: None,
                    suggestion: None,
                });
            }
        }
    }

    fn judge_intents(&self, context: &RunContext<'_>, links: &Links<'_>, out: &mut Collector) {
        let linked: BTreeSet<&str> = links
            .values()
            .flat_map(|intents| intents.iter().map(|(intent, _)| *intent))
            .collect();
        for (id, intent) in &self.intents {
            let age = intent.created.map(|created| context.now - created);
            if matches!(intent.status.as_str(), "processing" | "requires_action")
                && self.on(&STUCK_PAYMENT)
                && age.is_some_and(|age| age > chrono_of(self.rules.stuck_after))
            {
                let age = age.unwrap_or_default();
                out.push(Finding {
                    rule: STUCK_PAYMENT.reference(),
                    subject: format!("stripe/{id}"),
                    severity: Severity::Medium,
                    confidence: 0.9,
                    title: format!("Payment {id} has been {} for {}", intent.status, spoken(age)),
                    rationale: format!(
                        "Payment {id} ({}) has been {} for {}, longer than {}.",
                        money(intent.amount, intent.currency.as_deref()),
                        intent.status,
                        spoken(age),
                        spoken(chrono_of(self.rules.stuck_after))
                    ),
                    recommendation: "Look at the payment in Stripe: ask the member to finish authentication, or cancel it.".into(),
                    evidence: vec![Self::intent_evidence(id, intent, "status", Value::from(intent.status.clone()))],
                    post: None,
                    suggestion: None,
                });
            }
            if intent.status == "succeeded"
                && !linked.contains(id.as_str())
                && self.on(&ORPHAN_PAYMENT)
                && self.settled(intent.created, context.now)
            {
                let what = intent
                    .description
                    .as_deref()
                    .map_or_else(String::new, |description| {
                        format!(" Its description says: \"{description}\".")
                    });
                out.push(Finding {
                    rule: ORPHAN_PAYMENT.reference(),
                    subject: format!("stripe/{id}"),
                    severity: Severity::Low,
                    confidence: 0.5,
                    title: format!("Payment {id} links to no order"),
                    rationale: format!(
                        "Payment {id} succeeded ({} received) but no materials order or checkout session names it.{what}",
                        money(intent.received.or(intent.amount), intent.currency.as_deref())
                    ),
                    recommendation: "Find what it paid for (a membership, a class, a gift card); if it was an order, link it in the portal.".into(),
                    evidence: vec![Self::intent_evidence(id, intent, "status", Value::from("succeeded"))],
                    post: None,
                    suggestion: None,
                });
            }
        }
    }
}

impl Swarm for Finance {
    fn info(&self) -> &'static SwarmInfo {
        &INFO
    }

    fn collections(&self) -> Vec<&'static str> {
        vec![
            "materialsOrders",
            "stripe:payment_intents",
            "stripe:charges",
            "stripe:refunds",
            "stripe:checkout_sessions",
        ]
    }

    fn observe(&mut self, _context: &RunContext<'_>, seen: &Seen<'_>, _out: &mut Collector) {
        let fields = &seen.record.fields;
        let id = seen.record.id.clone();
        match seen.collection {
            "materialsOrders" => {
                self.orders.insert(
                    id,
                    Order {
                        status: text(fields, &["status"]).unwrap_or_default().to_lowercase(),
                        total: integer(fields, &["totalCents", "amountTotal"]),
                        currency: text(fields, &["currency"]),
                        payment_intent: text(fields, &["stripePaymentIntentId"]),
                        session: text(fields, &["stripeCheckoutSessionId", "stripeSessionId"]),
                        created: time(fields, &["createdAt"]),
                        changed: time(fields, &["updatedAt"]).or(seen.record.update_time),
                        source: seen.source.to_string(),
                        update_time: seen.update_time(),
                    },
                );
            }
            "stripe:payment_intents" => {
                self.intents.insert(
                    id,
                    Intent {
                        status: text(fields, &["status"]).unwrap_or_default().to_lowercase(),
                        amount: integer(fields, &["amount"]),
                        received: integer(fields, &["amount_received"]),
                        currency: text(fields, &["currency"]),
                        created: time(fields, &["created"]),
                        orders: metadata_orders(fields),
                        description: text(fields, &["description"]),
                    },
                );
            }
            "stripe:checkout_sessions" => {
                let mut orders = metadata_orders(fields);
                if let Some(reference) = text(fields, &["client_reference_id"]) {
                    orders.push(reference);
                }
                orders.sort();
                orders.dedup();
                self.sessions.insert(
                    id,
                    Session {
                        payment_intent: text(fields, &["payment_intent"]),
                        orders,
                    },
                );
            }
            "stripe:charges" => {
                let intent = text(fields, &["payment_intent"]);
                let refunded = fields.get("refunded").and_then(Value::as_bool) == Some(true)
                    || integer(fields, &["amount_refunded"]).is_some_and(|amount| amount > 0);
                let disputed = fields.get("disputed").and_then(Value::as_bool) == Some(true);
                if refunded || disputed {
                    self.reversals.push(Reversal {
                        id: id.clone(),
                        payment_intent: intent.clone(),
                        charge: Some(id.clone()),
                        disputed,
                        created: time(fields, &["created"]),
                    });
                }
                self.charges.insert(id, intent);
            }
            "stripe:refunds" => {
                let status = text(fields, &["status"]).unwrap_or_default().to_lowercase();
                if matches!(status.as_str(), "succeeded" | "pending") {
                    self.reversals.push(Reversal {
                        id,
                        payment_intent: text(fields, &["payment_intent"]),
                        charge: text(fields, &["charge"]),
                        disputed: false,
                        created: time(fields, &["created"]),
                    });
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, context: &RunContext<'_>, out: &mut Collector) {
        for (rule, enabled, _) in self.rules.each() {
            if enabled {
                out.rule(rule.id);
            }
        }
        let links = self.links();
        self.judge_orders(context, &links, out);
        self.judge_reversals(context, &links, out);
        self.judge_intents(context, &links, out);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::snapshot::{Model, Record};

    fn now() -> DateTime<Utc> {
        crate::clock::parse_time("2026-12-03T12:00:00.000000Z").unwrap()
    }

    fn ago(hours: i64) -> String {
        crate::clock::format_time(now() - chrono::Duration::hours(hours))
    }

    fn seconds_ago(hours: i64) -> i64 {
        (now() - chrono::Duration::hours(hours)).timestamp()
    }

    /// Run the finance rules over `records` (collection, id, fields), in the order given.
    fn run(records: &[(&str, &str, Value)]) -> Vec<Finding> {
        let model = Model::built_in();
        let history = Vec::new();
        let devices = BTreeMap::new();
        let context = RunContext {
            now: now(),
            model: &model,
            history: &history,
            devices: &devices,
            intake: &crate::intake::Classifier::built_in(),
        };
        let mut finance = Finance::new(FinanceRules::default());
        let mut out = Collector::new(100);
        for (collection, id, fields) in records {
            let record = Record {
                id: id.to_string(),
                fields: fields.clone(),
                update_time: None,
            };
            finance.observe(
                &context,
                &Seen {
                    source: if collection.starts_with("stripe:") {
                        "stripe"
                    } else {
                        "firestore"
                    },
                    collection,
                    record: &record,
                },
                &mut out,
            );
        }
        finance.finish(&context, &mut out);
        out.into_findings()
    }

    fn found(findings: &[Finding]) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = findings
            .iter()
            .map(|finding| (finding.rule.id.clone(), finding.subject.clone()))
            .collect();
        all.sort();
        all
    }

    fn order(status: &str, total: i64, intent: Option<&str>, hours: i64) -> Value {
        let mut order = json!({
            "status": status, "totalCents": total, "currency": "usd",
            "createdAt": ago(hours), "updatedAt": ago(hours)
        });
        if let Some(intent) = intent {
            order["stripePaymentIntentId"] = json!(intent);
        }
        order
    }

    fn intent(status: &str, amount: i64, hours: i64) -> Value {
        json!({
            "status": status, "amount": amount,
            "amount_received": if status == "succeeded" { amount } else { 0 },
            "currency": "usd", "created": seconds_ago(hours), "metadata": {}
        })
    }

    #[test]
    fn a_settled_matched_order_raises_nothing() {
        let findings = run(&[
            (
                "materialsOrders",
                "mo-1",
                order("paid", 1800, Some("pi_1"), 48),
            ),
            (
                "stripe:payment_intents",
                "pi_1",
                intent("succeeded", 1800, 48),
            ),
            ("materialsOrders", "mo-2", order("picked_up", 900, None, 72)),
            (
                "stripe:checkout_sessions",
                "cs_2",
                json!({ "payment_intent": "pi_2", "client_reference_id": "mo-2", "metadata": {} }),
            ),
            (
                "stripe:payment_intents",
                "pi_2",
                intent("succeeded", 900, 72),
            ),
            (
                "materialsOrders",
                "mo-3",
                order("payment_pending", 500, None, 2),
            ),
        ]);
        assert!(findings.is_empty(), "{:?}", found(&findings));
    }

    #[test]
    fn each_discrepancy_class_is_found_with_its_subject_and_both_sides() {
        let mut metadata_linked = intent("succeeded", 2700, 100);
        metadata_linked["metadata"] = json!({ "orderId": "mo-dup" });
        let mut second = metadata_linked.clone();
        second["created"] = json!(seconds_ago(99));
        let mut orphan = intent("succeeded", 5000, 30);
        orphan["description"] = json!("Gift card");
        let findings = run(&[
            (
                "materialsOrders",
                "mo-unpaid",
                order("paid", 2600, Some("pi_failed"), 50),
            ),
            (
                "stripe:payment_intents",
                "pi_failed",
                intent("requires_payment_method", 2600, 50),
            ),
            (
                "materialsOrders",
                "mo-missed",
                order("payment_pending", 3900, Some("pi_ok"), 40),
            ),
            (
                "stripe:payment_intents",
                "pi_ok",
                intent("succeeded", 3900, 40),
            ),
            (
                "materialsOrders",
                "mo-short",
                order("paid", 4200, Some("pi_short"), 60),
            ),
            ("stripe:payment_intents", "pi_short", {
                let mut short = intent("succeeded", 4200, 60);
                short["amount_received"] = json!(2400);
                short
            }),
            (
                "materialsOrders",
                "mo-dup",
                order("picked_up", 2700, None, 100),
            ),
            ("stripe:payment_intents", "pi_dup_a", metadata_linked),
            ("stripe:payment_intents", "pi_dup_b", second),
            (
                "stripe:payment_intents",
                "pi_stuck",
                intent("processing", 8800, 72),
            ),
            ("stripe:payment_intents", "pi_orphan", orphan),
        ]);
        assert_eq!(
            found(&findings),
            vec![
                ("amount_mismatch".into(), "materialsOrders/mo-short".into()),
                ("duplicate_payment".into(), "materialsOrders/mo-dup".into()),
                ("orphan_payment".into(), "stripe/pi_orphan".into()),
                (
                    "paid_without_payment".into(),
                    "materialsOrders/mo-unpaid".into()
                ),
                (
                    "payment_not_recorded".into(),
                    "materialsOrders/mo-missed".into()
                ),
                ("stuck_payment".into(), "stripe/pi_stuck".into()),
            ]
        );
        let mismatch = findings
            .iter()
            .find(|f| f.rule.id == "amount_mismatch")
            .unwrap();
        assert!(
            mismatch
                .rationale
                .contains("totals 42.00 USD but pi_short captured 24.00 USD"),
            "{}",
            mismatch.rationale
        );
        let paths: Vec<&str> = mismatch.evidence.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            vec!["materialsOrders/mo-short", "stripe/pi_short"],
            "both sides"
        );
        let orphan = findings
            .iter()
            .find(|f| f.rule.id == "orphan_payment")
            .unwrap();
        assert_eq!(orphan.confidence, 0.5);
        assert!(orphan.rationale.contains("Gift card"));
    }

    #[test]
    fn a_refund_listed_before_its_charge_still_finds_its_order() {
        let refund = (
            "stripe:refunds",
            "re_1",
            json!({ "charge": "ch_1", "status": "succeeded", "created": seconds_ago(20) }),
        );
        let charge = (
            "stripe:charges",
            "ch_1",
            json!({ "payment_intent": "pi_1", "refunded": true, "amount_refunded": 1500, "created": seconds_ago(30) }),
        );
        let paid = (
            "materialsOrders",
            "mo-1",
            order("paid", 1500, Some("pi_1"), 30),
        );
        let payment = (
            "stripe:payment_intents",
            "pi_1",
            intent("succeeded", 1500, 30),
        );
        for records in [
            vec![
                refund.clone(),
                charge.clone(),
                paid.clone(),
                payment.clone(),
            ],
            vec![
                paid.clone(),
                payment.clone(),
                charge.clone(),
                refund.clone(),
            ],
        ] {
            let findings = run(&records);
            assert_eq!(
                found(&findings),
                vec![("refund_not_recorded".into(), "materialsOrders/mo-1".into())],
                "one flag for the order, whatever the order of the lists"
            );
        }
        // The order already says refunded: nothing.
        let mut refunded = paid.clone();
        refunded.2["status"] = json!("refunded");
        assert!(run(&[refund, charge, refunded, payment]).is_empty());
    }

    #[test]
    fn late_data_never_flags_on_its_own() {
        // The payment succeeded a few minutes ago: the order's webhook may be in flight.
        let findings = run(&[
            (
                "materialsOrders",
                "mo-1",
                order("payment_pending", 3900, Some("pi_1"), 1),
            ),
            ("stripe:payment_intents", "pi_1", {
                let mut fresh = intent("succeeded", 3900, 0);
                fresh["created"] = json!((now() - chrono::Duration::minutes(5)).timestamp());
                fresh
            }),
        ]);
        assert!(findings.is_empty(), "{:?}", found(&findings));
        // The order changed after the run began.
        let mut moving = order("paid", 2600, Some("pi_2"), 50);
        moving["updatedAt"] = json!(crate::clock::format_time(
            now() + chrono::Duration::minutes(1)
        ));
        assert!(
            run(&[
                ("materialsOrders", "mo-2", moving),
                (
                    "stripe:payment_intents",
                    "pi_2",
                    intent("requires_payment_method", 2600, 50)
                ),
            ])
            .is_empty()
        );
        // An order older than Stripe's window is not called unpaid for a payment the window
        // leaves out.
        assert!(
            run(&[(
                "materialsOrders",
                "mo-3",
                order("paid", 2600, Some("pi_old"), 40 * 24)
            )])
            .is_empty()
        );
        // A recent one with no payment at all is.
        let findings = run(&[("materialsOrders", "mo-4", order("paid", 2600, None, 48))]);
        assert_eq!(findings[0].rule.id, "paid_without_payment");
        assert_eq!(findings[0].confidence, 0.7);
    }

    #[test]
    fn a_payment_delivered_twice_is_one_payment() {
        let records = [
            (
                "materialsOrders",
                "mo-1",
                order("paid", 1800, Some("pi_1"), 48),
            ),
            (
                "stripe:payment_intents",
                "pi_1",
                intent("succeeded", 1800, 48),
            ),
            (
                "stripe:payment_intents",
                "pi_1",
                intent("succeeded", 1800, 48),
            ),
        ];
        assert!(
            run(&records).is_empty(),
            "no duplicate payment from a replayed object"
        );
    }
}
