//! The read-only Stripe client against a local fake speaking Stripe's wire format: pagination
//! with `starting_after` until `has_more` is false, 429 retried, 401 not, a list that never
//! ends bounded, and the key never in an error.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use brain::cloud::Source;
use brain::cloud::stripe::{Limits, StripeClient, StripeSource};
use brain::config::Secret;
use serde_json::{Value, json};

const KEY: &str = "rk_test_brainreadonly123";

#[derive(Clone)]
struct Fake {
    mode: &'static str,
    requests: Arc<AtomicUsize>,
    objects: Arc<Vec<Value>>,
    /// The path and query of every request, in order.
    seen: Arc<std::sync::Mutex<Vec<Request>>>,
}

/// A request the fake saw: the list's path and the query.
type Request = (String, std::collections::HashMap<String, String>);

async fn list(
    State(fake): State<Fake>,
    Path(list): Path<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> axum::response::Response {
    let n = fake.requests.fetch_add(1, Ordering::SeqCst);
    fake.seen
        .lock()
        .unwrap()
        .push((list.clone(), query.clone()));
    if headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        != Some(&format!("Bearer {KEY}"))
    {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({ "error": { "type": "invalid_request_error", "message": "Invalid API Key provided" } }))).into_response();
    }
    assert!(headers.contains_key("stripe-version"));
    if fake.mode == "rate-limited-once" && n == 0 {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(
                json!({ "error": { "type": "rate_limit_error", "message": "Too many requests" } }),
            ),
        )
            .into_response();
    }
    let limit: usize = query
        .get("limit")
        .and_then(|limit| limit.parse().ok())
        .unwrap_or(10);
    let since: i64 = query
        .get("created[gte]")
        .and_then(|since| since.parse().ok())
        .unwrap_or(i64::MIN);
    let objects: Vec<&Value> = fake
        .objects
        .iter()
        .filter(|item| item["created"].as_i64().unwrap_or(0) >= since)
        .collect();
    let start = match query.get("starting_after") {
        // A fake that misbehaves: every page is the first one, and there is always more.
        _ if fake.mode == "endless" => 0,
        None => 0,
        Some(after) => objects
            .iter()
            .position(|item| item["id"] == after.as_str())
            .map_or(0, |index| index + 1),
    };
    // New objects arrived while listing: each later page starts two objects early, so its
    // first two are ones the client already has.
    let start = if fake.mode == "shifting" && start > 0 {
        start - 2
    } else {
        start
    };
    let page: Vec<Value> = objects
        .iter()
        .skip(start)
        .take(limit)
        .map(|item| (*item).clone())
        .collect();
    let has_more = fake.mode == "endless" || start + page.len() < objects.len();
    axum::Json(json!({ "object": "list", "url": format!("/v1/{list}"), "has_more": has_more, "data": page })).into_response()
}

async fn start(mode: &'static str, count: usize) -> (String, Fake) {
    let now = chrono::Utc::now().timestamp();
    let objects: Vec<Value> = (0..count)
        .map(|n| json!({ "id": format!("pi_{n:04}"), "object": "payment_intent", "amount": 1000 + n, "currency": "usd", "status": if n % 2 == 0 { "processing" } else { "succeeded" }, "created": now - 3_600 - n as i64 * 60 }))
        .collect();
    let fake = Fake {
        mode,
        requests: Arc::default(),
        objects: Arc::new(objects),
        seen: Arc::default(),
    };
    let sessions = |State(fake): State<Fake>,
                    Query(query): Query<std::collections::HashMap<String, String>>,
                    headers: HeaderMap| async move {
        list(
            State(fake),
            Path("checkout/sessions".to_string()),
            Query(query),
            headers,
        )
        .await
    };
    let app = axum::Router::new()
        .route("/v1/checkout/sessions", get(sessions))
        .route("/v1/{list}", get(list))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}/v1"), fake)
}

fn limits() -> Limits {
    Limits {
        attempts: 3,
        first_backoff: Duration::from_millis(10),
        timeout: Duration::from_secs(2),
        page_size: 10,
        max_pages: 8,
        window: Some(Duration::from_secs(35 * 86_400)),
    }
}

#[tokio::test]
async fn lists_are_paged_until_has_more_is_false_and_counted_into_studio_state() {
    let (base, fake) = start("normal", 35).await;
    let client = StripeClient::new(Some(&base), Secret::new(KEY), limits()).unwrap();
    let mut ids = Vec::new();
    let count = client
        .list("payment_intents", &mut |item| {
            ids.push(item["id"].as_str().unwrap().to_string())
        })
        .await
        .unwrap();
    assert_eq!(count, 35);
    assert_eq!(
        fake.requests.load(Ordering::SeqCst),
        4,
        "pages of 10, 10, 10, 5"
    );
    ids.dedup();
    assert_eq!(ids.len(), 35, "no object twice");
    let source =
        StripeSource::new(StripeClient::new(Some(&base), Secret::new(KEY), limits()).unwrap());
    let mut builder = brain::snapshot::Builder::new(
        chrono::Utc::now(),
        std::sync::Arc::new(brain::snapshot::Model::built_in()),
    );
    let summary = source
        .read("stripe:payment_intents", &mut |record| {
            builder.add("stripe:payment_intents", &record)
        })
        .await
        .unwrap();
    assert_eq!(summary.documents, 35);
    let state = builder.finish();
    let intents = state.collection("stripe:payment_intents").unwrap();
    assert_eq!(intents.queue.count, 18);
    assert!(
        client.list("customers", &mut |_| {}).await.is_err(),
        "only the read lists"
    );
}

#[tokio::test]
async fn an_object_delivered_twice_while_pages_shift_is_read_once() {
    let (base, fake) = start("shifting", 35).await;
    let client = StripeClient::new(Some(&base), Secret::new(KEY), limits()).unwrap();
    let mut ids = Vec::new();
    let count = client
        .list("charges", &mut |item| {
            ids.push(item["id"].as_str().unwrap().to_string())
        })
        .await
        .unwrap();
    assert!(
        fake.requests.load(Ordering::SeqCst) > 4,
        "the shifted pages repeat objects, so it takes more pages"
    );
    assert_eq!(count, 35);
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 35);
    assert_eq!(ids.len(), 35, "each id handed over once");
}

#[tokio::test]
async fn reads_are_bounded_by_the_created_window_and_sessions_have_their_own_path() {
    let (base, fake) = start("normal", 5).await;
    let window = Limits {
        window: Some(Duration::from_secs(3_600 + 90)),
        ..limits()
    };
    let client = StripeClient::new(Some(&base), Secret::new(KEY), window).unwrap();
    // Created an hour ago, then a minute apart: the window holds the first two.
    assert_eq!(client.list("refunds", &mut |_| {}).await.unwrap(), 2);
    assert_eq!(
        client.list("checkout_sessions", &mut |_| {}).await.unwrap(),
        2
    );
    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(seen[0].0, "refunds");
    assert_eq!(seen[1].0, "checkout/sessions");
    let since: i64 = seen[0].1["created[gte]"].parse().unwrap();
    let expected = chrono::Utc::now().timestamp() - 3_690;
    assert!((since - expected).abs() <= 5, "{since} vs {expected}");
}

#[tokio::test]
async fn rate_limits_are_retried_bad_keys_are_not_and_endless_lists_are_bounded() {
    let (base, fake) = start("rate-limited-once", 5).await;
    let client = StripeClient::new(Some(&base), Secret::new(KEY), limits()).unwrap();
    assert_eq!(client.list("payouts", &mut |_| {}).await.unwrap(), 5);
    assert_eq!(fake.requests.load(Ordering::SeqCst), 2);

    let (base, fake) = start("normal", 5).await;
    let wrong =
        StripeClient::new(Some(&base), Secret::new("rk_test_wrong_key_0000"), limits()).unwrap();
    let error = wrong.list("payouts", &mut |_| {}).await.unwrap_err();
    assert_eq!(error.http, 401);
    assert_eq!(
        fake.requests.load(Ordering::SeqCst),
        1,
        "a 401 is not retried"
    );
    assert!(
        !error.to_string().contains("rk_test_wrong_key"),
        "the key never shows: {error}"
    );
    let source = StripeSource::new(wrong);
    assert!(matches!(
        source.read("stripe:payouts", &mut |_| {}).await,
        Err(brain::cloud::SourceError::Auth(_))
    ));

    let (base, fake) = start("endless", 5).await;
    let client = StripeClient::new(Some(&base), Secret::new(KEY), limits()).unwrap();
    let error = client.list("payouts", &mut |_| {}).await.unwrap_err();
    assert_eq!(error.kind, "truncated");
    assert_eq!(fake.requests.load(Ordering::SeqCst), 8);

    // Nothing listens: a transport error, retried, then reported without the key.
    let gone =
        StripeClient::new(Some("http://127.0.0.1:9/v1"), Secret::new(KEY), limits()).unwrap();
    let error = gone.list("payouts", &mut |_| {}).await.unwrap_err();
    assert_eq!(error.kind, "transport");
    assert!(!error.to_string().contains(KEY));
}
