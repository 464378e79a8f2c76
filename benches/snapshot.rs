//! StudioState over many documents: a fake Firestore on loopback serves `batches` in pages of
//! 300, generated on the fly (so the fake itself holds nothing), and the real client and
//! `FirestoreSource` fold them into a StudioState. Run with `cargo bench --bench snapshot`;
//! BENCHMARKS.md explains the figures.
//!
//! Memory: the benchmark also reports the process's peak resident set (VmHWM) after folding
//! 10,000 and then 100,000 documents; with streaming it must not grow with the count.

use std::sync::{Arc, OnceLock};

use axum::extract::Query;
use axum::routing::get;
use brain::cloud::Source;
use brain::cloud::firestore::{FirestoreClient, FirestoreSource, Limits};
use brain::snapshot::Model;
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
            let app = axum::Router::new().route(
                "/v1/projects/p/databases/(default)/documents/batches",
                get(page),
            );
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
