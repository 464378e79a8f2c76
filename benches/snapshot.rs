//! StudioState over many documents: a fake Firestore on loopback serves `batches` in pages of
//! 300, generated on the fly (so the fake itself holds nothing), and the real client and
//! `FirestoreSource` fold them into a StudioState. Run with `cargo bench --bench snapshot`;
//! BENCHMARKS.md explains the figures.
//!
//! Memory: the benchmark also reports the process's peak resident set (VmHWM) after folding
//! 10,000 and then 100,000 documents; with streaming it must not grow with the count.
//!
//! Reconciliation: the same fake serves `materialsOrders` and a Stripe `payment_intents` list
//! (pages of 100, Stripe's largest), one payment per order with a few discrepancies planted,
//! and the finance swarm matches them; `read_orders_and_payments` reads the same records
//! without matching them (the baseline).

use std::sync::{Arc, OnceLock};

use axum::extract::{Path, Query};
use axum::routing::get;
use brain::cloud::Source;
use brain::cloud::firestore::{FirestoreClient, FirestoreSource, Limits};
use brain::cloud::stripe::{StripeClient, StripeSource};
use brain::config::Secret;
use brain::snapshot::Model;
use brain::swarms::finance::{Finance, FinanceRules};
use brain::swarms::ops::{Ops, OpsRules};
use brain::swarms::{Collector, RunContext, Seen, Swarm};
use serde_json::{Value, json};

fn main() {
    divan::main();
}

const PAGE: usize = 300;

/// Batch states as the portal writes them.
const STATES: [&str; 4] = ["CLOSED_PICKED_UP", "SUBMITTED", "SHELVED", "LOADED"];

async fn page(Query(query): Query<std::collections::HashMap<String, String>>) -> axum::Json<Value> {
    let total: usize = query
        .get("total")
        .and_then(|total| total.parse().ok())
        .unwrap_or(0);
    let start: usize = query
        .get("pageToken")
        .and_then(|token| token.parse().ok())
        .unwrap_or(0);
    let end = (start + PAGE).min(total);
    let documents: Vec<Value> = (start..end)
        .map(|n| {
            json!({
                "name": format!("projects/p/databases/(default)/documents/batches/b{n:07}"),
                "fields": {
                    "state": { "stringValue": STATES[n % STATES.len()] },
                    "pieces": { "integerValue": (n % 12).to_string() },
                    "createdAt": { "timestampValue": "2026-11-20T10:00:00Z" },
                    "ownerUid": { "stringValue": format!("m-{}", n % 97) },
                },
                "updateTime": "2026-11-01T10:00:00.000000Z",
            })
        })
        .collect();
    let mut answer = json!({ "documents": documents });
    if end < total {
        answer["nextPageToken"] = Value::from(end.to_string());
    }
    axum::Json(answer)
}

/// When the generated orders and payments were made: five days before the run, settled and
/// within Stripe's window.
fn order_time() -> chrono::DateTime<chrono::Utc> {
    static AT: OnceLock<chrono::DateTime<chrono::Utc>> = OnceLock::new();
    *AT.get_or_init(|| brain::clock::now() - chrono::Duration::days(5))
}

fn cents(n: usize) -> i64 {
    1_000 + (n % 5_000) as i64
}

/// Materials orders, each paid through its own payment intent.
async fn orders(
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> axum::Json<Value> {
    let total: usize = query
        .get("total")
        .and_then(|total| total.parse().ok())
        .unwrap_or(0);
    let start: usize = query
        .get("pageToken")
        .and_then(|token| token.parse().ok())
        .unwrap_or(0);
    let end = (start + PAGE).min(total);
    let at = brain::clock::format_time(order_time());
    let documents: Vec<Value> = (start..end)
        .map(|n| {
            json!({
                "name": format!("projects/p/databases/(default)/documents/materialsOrders/mo{n:07}"),
                "fields": {
                    "status": { "stringValue": "paid" },
                    "totalCents": { "integerValue": cents(n).to_string() },
                    "currency": { "stringValue": "usd" },
                    "stripePaymentIntentId": { "stringValue": format!("pi{n:07}") },
                    "createdAt": { "timestampValue": at },
                    "updatedAt": { "timestampValue": at },
                    "uid": { "stringValue": format!("m-{}", n % 97) },
                },
                "updateTime": at,
            })
        })
        .collect();
    let mut answer = json!({ "documents": documents });
    if end < total {
        answer["nextPageToken"] = Value::from(end.to_string());
    }
    axum::Json(answer)
}

/// Every 997th payment charged a different amount; every 1,009th never succeeded.
const MISMATCH_EVERY: usize = 997;
const UNPAID_EVERY: usize = 1_009;

/// Stripe's `payment_intents` list for `total` orders.
async fn payment_intents(
    Path(total): Path<usize>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> axum::Json<Value> {
    let limit: usize = query
        .get("limit")
        .and_then(|limit| limit.parse().ok())
        .unwrap_or(10);
    let start = query
        .get("starting_after")
        .and_then(|after| after.strip_prefix("pi"))
        .and_then(|n| n.parse::<usize>().ok())
        .map_or(0, |n| n + 1);
    let end = (start + limit).min(total);
    let created = order_time().timestamp();
    let data: Vec<Value> = (start..end)
        .map(|n| {
            let amount = cents(n) + if n % MISMATCH_EVERY == 1 { 100 } else { 0 };
            let status = if n % UNPAID_EVERY == 2 {
                "requires_payment_method"
            } else {
                "succeeded"
            };
            json!({
                "id": format!("pi{n:07}"),
                "object": "payment_intent",
                "status": status,
                "amount": amount,
                "amount_received": if status == "succeeded" { amount } else { 0 },
                "currency": "usd",
                "created": created,
                "metadata": { "orderId": format!("mo{n:07}") },
            })
        })
        .collect();
    axum::Json(json!({ "object": "list", "data": data, "has_more": end < total }))
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    base: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let base = runtime.block_on(async {
            let app = axum::Router::new()
                .route(
                    "/v1/projects/p/databases/(default)/documents/batches",
                    get(page),
                )
                .route(
                    "/v1/projects/p/databases/(default)/documents/materialsOrders",
                    get(orders),
                )
                .route("/stripe/{total}/payment_intents", get(payment_intents));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            format!("http://{address}")
        });
        Fixture { runtime, base }
    })
}

/// A source over the fake whose list holds `total` documents.
fn source(total: usize) -> FirestoreSource {
    // The fake sizes its list by the `total` query parameter of each page request.
    let client = FirestoreClient::at(
        &format!("{}/v1", fixture().base),
        "p",
        None,
        Limits {
            page_size: PAGE as u32,
            ..Limits::default()
        },
    )
    .unwrap()
    .with_extra_query("total", &total.to_string());
    FirestoreSource::new(Arc::new(client))
}

fn fold(total: usize) -> u64 {
    let source = source(total);
    fixture().runtime.block_on(async {
        let mut builder =
            brain::snapshot::Builder::new(brain::clock::now(), Arc::new(Model::built_in()));
        let summary = source
            .read("batches", &mut |record| builder.add("batches", &record))
            .await
            .unwrap();
        divan::black_box(builder.finish());
        summary.documents
    })
}

/// The ops swarm's rules over the same documents: read record by record, each observed by the
/// rules (stalled batches, the queue trackers), then the run's `finish`. What a swarm run
/// costs beyond this is its proposals, at most `max_findings_per_rule` per rule whatever the
/// studio's size.
fn swarm(total: usize) -> u64 {
    let source = source(total);
    let model = Model::built_in();
    let history = Vec::new();
    let devices = std::collections::BTreeMap::new();
    let intake = brain::intake::Classifier::built_in();
    fixture().runtime.block_on(async {
        let context = RunContext {
            now: brain::clock::now(),
            model: &model,
            history: &history,
            devices: &devices,
            intake: &intake,
        };
        let mut ops = Ops::new(OpsRules::default());
        let mut out = Collector::new(20);
        let summary = source
            .read("batches", &mut |record| {
                ops.observe(
                    &context,
                    &Seen {
                        source: "firestore",
                        collection: "batches",
                        record: &record,
                    },
                    &mut out,
                );
            })
            .await
            .unwrap();
        ops.finish(&context, &mut out);
        assert!(
            out.hits().get("stalled_batch").copied().unwrap_or(0) > 0,
            "the studio has stalled batches"
        );
        divan::black_box(out.into_findings());
        summary.documents
    })
}

/// A Firestore source over the fake whose `materialsOrders` hold `total` orders, and a Stripe
/// source whose `payment_intents` hold one payment for each.
fn orders_and_payments(total: usize) -> (FirestoreSource, StripeSource) {
    let stripe = StripeClient::new(
        Some(&format!("{}/stripe/{total}", fixture().base)),
        Secret::new("rk_test_bench"),
        brain::cloud::stripe::Limits {
            page_size: 100,
            max_pages: total / 100 + 2,
            ..brain::cloud::stripe::Limits::default()
        },
    )
    .unwrap();
    (source(total), StripeSource::new(stripe))
}

/// Reads `total` orders and `total` payments, handing each record to `each`; returns how many
/// records were read.
async fn read_both(
    firestore: &FirestoreSource,
    stripe: &StripeSource,
    each: &mut (dyn FnMut(&str, &str, brain::snapshot::Record) + Send),
) -> u64 {
    let orders = firestore
        .read("materialsOrders", &mut |record| {
            each("firestore", "materialsOrders", record)
        })
        .await
        .unwrap();
    let payments = stripe
        .read("stripe:payment_intents", &mut |record| {
            each("stripe", "stripe:payment_intents", record)
        })
        .await
        .unwrap();
    orders.documents + payments.documents
}

/// The baseline: the orders and the payments read, nothing matched.
fn read_alone(total: usize) -> u64 {
    let (firestore, stripe) = orders_and_payments(total);
    fixture().runtime.block_on(async {
        read_both(&firestore, &stripe, &mut |_, _, record| {
            divan::black_box(record);
        })
        .await
    })
}

/// The same reads, each record observed by the finance swarm, then its `finish` matches every
/// order to its payments and judges both sides. Returns the records read and the findings.
fn reconcile(total: usize) -> (u64, usize) {
    let (firestore, stripe) = orders_and_payments(total);
    let model = Model::built_in();
    let history = Vec::new();
    let devices = std::collections::BTreeMap::new();
    let intake = brain::intake::Classifier::built_in();
    fixture().runtime.block_on(async {
        let context = RunContext {
            now: brain::clock::now(),
            model: &model,
            history: &history,
            devices: &devices,
            intake: &intake,
        };
        let mut finance = Finance::new(FinanceRules::default());
        // Every finding kept: the benchmark checks the matcher found each planted one.
        let mut out = Collector::new(usize::MAX);
        let read = read_both(&firestore, &stripe, &mut |source, collection, record| {
            finance.observe(
                &context,
                &Seen {
                    source,
                    collection,
                    record: &record,
                },
                &mut out,
            );
        })
        .await;
        finance.finish(&context, &mut out);
        let findings = out.into_findings();
        (read, findings.len())
    })
}

/// The discrepancies planted among `total` orders: amount mismatches and unpaid payments.
fn planted(total: usize) -> usize {
    (0..total)
        .filter(|n| n % MISMATCH_EVERY == 1 || n % UNPAID_EVERY == 2)
        .count()
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

/// Documents per second through the client, the source and the fold.
#[divan::bench(args = [10_000, 100_000], sample_count = 5)]
fn snapshot_documents(bencher: divan::Bencher, total: usize) {
    bencher
        .counter(divan::counter::ItemsCount::new(total))
        .bench(|| assert_eq!(fold(total), total as u64));
}

/// The same documents through the ops swarm's rules (compare with `snapshot_documents`).
#[divan::bench(args = [10_000, 100_000], sample_count = 5)]
fn swarm_documents(bencher: divan::Bencher, total: usize) {
    bencher
        .counter(divan::counter::ItemsCount::new(total))
        .bench(|| assert_eq!(swarm(total), total as u64));
}

/// Peak memory of the swarm's rules over 10,000 and then 100,000 documents, after the folds
/// above (printed, not timed).
#[divan::bench(sample_count = 1, sample_size = 1)]
fn swarm_peak_memory() {
    swarm(10_000);
    let after_small = peak_rss_kib();
    swarm(100_000);
    let after_large = peak_rss_kib();
    eprintln!(
        "swarm: peak RSS after 10,000 documents: {after_small} KiB; after 100,000: {after_large} KiB"
    );
}

/// Peak memory after folding 10,000 and then 100,000 documents (printed, not timed).
#[divan::bench(sample_count = 1, sample_size = 1)]
fn peak_memory() {
    fold(10_000);
    let after_small = peak_rss_kib();
    fold(100_000);
    let after_large = peak_rss_kib();
    eprintln!(
        "peak RSS after 10,000 documents: {after_small} KiB; after 100,000: {after_large} KiB"
    );
}

/// Reading `total` orders and `total` payments, nothing matched (the reconciliation's baseline).
#[divan::bench(args = [10_000, 100_000], sample_count = 5)]
fn read_orders_and_payments(bencher: divan::Bencher, total: usize) {
    bencher
        .counter(divan::counter::ItemsCount::new(2 * total))
        .bench(|| assert_eq!(read_alone(total), 2 * total as u64));
}

/// The finance swarm reconciling `total` orders against `total` payments (compare with
/// `read_orders_and_payments`).
#[divan::bench(args = [10_000, 100_000], sample_count = 5)]
fn reconcile_orders_and_payments(bencher: divan::Bencher, total: usize) {
    let expected = planted(total);
    bencher
        .counter(divan::counter::ItemsCount::new(2 * total))
        .bench(|| {
            let (read, findings) = reconcile(total);
            assert_eq!(read, 2 * total as u64);
            assert_eq!(findings, expected, "every planted discrepancy found once");
        });
}

/// Peak memory of reading 100,000 orders and 100,000 payments, then of reconciling 10,000 and
/// 100,000 of each
/// (printed, not timed; run it alone: `cargo bench --bench snapshot -- reconcile_peak_memory`).
#[divan::bench(sample_count = 1, sample_size = 1)]
fn reconcile_peak_memory() {
    let before = peak_rss_kib();
    read_alone(100_000);
    let after_read = peak_rss_kib();
    reconcile(10_000);
    let after_small = peak_rss_kib();
    reconcile(100_000);
    let after_large = peak_rss_kib();
    eprintln!(
        "reconcile: peak RSS at start: {before} KiB; after reading 100,000 orders and 100,000 payments: {after_read} KiB; after reconciling 10,000 of each: {after_small} KiB; 100,000 of each: {after_large} KiB"
    );
}
