//! The Firestore REST client against the official emulator (Debian package
//! `google-cloud-cli-firestore-emulator`, Java 17), and against a local fake for the faults the
//! emulator cannot produce: retries on 503/429, no retry on 400, malformed JSON, a list that
//! never ends, slow answers, and the service-account token exchange.
//!
//! Without the emulator the emulator tests print a notice and pass, unless
//! `BRAIN_REQUIRE_FIRESTORE_EMULATOR` is set (as `.ci/run` does), when they fail.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use brain::cloud::Source;
use brain::cloud::firestore::{
    FirestoreClient, FirestoreSource, Limits, ServiceAccount, encode_fields,
};
use brain::snapshot::Record;
use serde_json::{Value, json};

const JAR: &str =
    "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar";

/// The official emulator on a free loopback port, killed (the JVM itself) on drop.
pub struct Emulator {
    child: Child,
    pub host: String,
}

impl Emulator {
    pub fn start() -> Option<Emulator> {
        if !std::path::Path::new(JAR).exists()
            || Command::new("java").arg("-version").output().is_err()
        {
            assert!(
                std::env::var_os("BRAIN_REQUIRE_FIRESTORE_EMULATOR").is_none(),
                "BRAIN_REQUIRE_FIRESTORE_EMULATOR is set but the emulator ({JAR}) or java is missing: apt-get install google-cloud-cli-firestore-emulator"
            );
            eprintln!("note: no Firestore emulator here; skipping the emulator tests");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // Java directly, not the wrapper script: killing the wrapper would orphan the JVM.
        let child = Command::new("java")
            .args([
                "-Duser.language=en",
                "-cp",
                JAR,
                "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
                "start",
                "--host=127.0.0.1",
            ])
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("java starts");
        let host = format!("127.0.0.1:{port}");
        let emulator = Emulator { child, host };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if answers_ok(&emulator.host) {
                return Some(emulator);
            }
            assert!(
                Instant::now() < deadline,
                "the Firestore emulator did not start"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Write documents straight into the emulator (not through brain's client).
    pub async fn seed(&self, project: &str, documents: &[(String, Value)]) {
        let encoded: Vec<(String, Value)> = documents
            .iter()
            .map(|(path, fields)| (path.clone(), encode_fields(fields.as_object().unwrap())))
            .collect();
        self.seed_encoded(project, &encoded).await;
    }

    /// Seed documents whose fields are already in Firestore's typed encoding.
    pub async fn seed_encoded(&self, project: &str, documents: &[(String, Value)]) {
        let client = reqwest::Client::new();
        for chunk in documents.chunks(200) {
            let writes: Vec<Value> = chunk
                .iter()
                .map(|(path, fields)| {
                    json!({ "update": {
                        "name": format!("projects/{project}/databases/(default)/documents/{path}"),
                        "fields": fields,
                    }})
                })
                .collect();
            let response = client
                .post(format!(
                    "http://{}/v1/projects/{project}/databases/(default)/documents:commit",
                    self.host
                ))
                .bearer_auth("owner")
                .json(&json!({ "writes": writes }))
                .send()
                .await
                .unwrap();
            assert!(
                response.status().is_success(),
                "seed: {}",
                response.text().await.unwrap()
            );
        }
    }

    /// Remove every document of `project`.
    pub async fn reset(&self, project: &str) {
        let response = reqwest::Client::new()
            .delete(format!(
                "http://{}/emulator/v1/projects/{project}/databases/(default)/documents",
                self.host
            ))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `GET /` on `host` answers 200 (plain std I/O: usable inside or outside a runtime).
fn answers_ok(host: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(host) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(b"GET / HTTP/1.0\r\n\r\n").is_err() {
        return false;
    }
    let mut answer = [0u8; 12];
    stream.read_exact(&mut answer).is_ok()
        && answer.starts_with(b"HTTP/1.")
        && &answer[8..12] == b" 200"
}

fn small_pages() -> Limits {
    Limits {
        page_size: 7,
        ..Limits::default()
    }
}

#[tokio::test]
async fn the_client_reads_pages_queries_batches_and_counts_on_the_emulator() {
    let Some(emulator) = Emulator::start() else {
        return;
    };
    let project = "brain-client";
    let mut documents = Vec::new();
    for n in 0..25 {
        let status = if n % 5 == 0 {
            "CLOSED_PICKED_UP"
        } else {
            "ACTIVE"
        };
        documents.push((format!("batches/b{n:03}"), json!({ "status": status, "pieces": n, "ratio": 0.5, "tags": ["mug", n], "createdAt": "2026-11-20T10:00:00Z" })));
    }
    documents.push(("reservations/r1".into(), json!({ "status": "requested" })));
    emulator.seed(project, &documents).await;
    let client = FirestoreClient::emulator(&emulator.host, project, small_pages()).unwrap();

    let mut seen = Vec::new();
    let count = client
        .list("batches", &mut |document| seen.push(document))
        .await
        .unwrap();
    assert_eq!(count, 25, "seven documents a page, four pages");
    assert_eq!(seen.len(), 25);
    let first = seen.iter().find(|document| document.id == "b001").unwrap();
    assert_eq!(
        first.fields["pieces"], 1,
        "integerValue arrives as a string and decodes to a number"
    );
    assert_eq!(first.fields["tags"], json!(["mug", 1]));
    assert!(first.update_time.is_some());
    assert_eq!(client.count("batches").await.unwrap(), 25);
    assert_eq!(client.count("nothing").await.unwrap(), 0);

    let got = client.get("batches/b002").await.unwrap().unwrap();
    assert_eq!(got.fields["status"], "ACTIVE");
    assert!(client.get("batches/missing").await.unwrap().is_none());

    let closed = client
        .run_query(&json!({
            "from": [{ "collectionId": "batches" }],
            "where": { "fieldFilter": { "field": { "fieldPath": "status" }, "op": "EQUAL", "value": { "stringValue": "CLOSED_PICKED_UP" } } }
        }))
        .await
        .unwrap();
    assert_eq!(closed.len(), 5);
    let none = client
        .run_query(&json!({ "from": [{ "collectionId": "nothing" }] }))
        .await
        .unwrap();
    assert!(
        none.is_empty(),
        "an empty result is one {{readTime, done}} element, skipped"
    );

    let batch = client
        .batch_get(&[
            "batches/b003".into(),
            "batches/nope".into(),
            "reservations/r1".into(),
        ])
        .await
        .unwrap();
    assert!(batch[0].is_some() && batch[1].is_none() && batch[2].is_some());

    let source = FirestoreSource::new(Arc::new(client));
    let mut records = Vec::new();
    let summary = source
        .read("batches", &mut |record: Record| records.push(record))
        .await
        .unwrap();
    assert_eq!(summary.documents, 25);
    assert!(summary.newest_update_time.is_some());
    emulator.reset(project).await;
    assert_eq!(source.count("batches").await.unwrap(), Some(0));
}

/// The demo studio's fixture documents, as `(collection/id, fields)`, their relative times
/// resolved for today.
fn demo_documents() -> Vec<(String, Value)> {
    let root = crate::support::repo().join("examples/studio/cloud");
    let now = brain::clock::now();
    let mut all = Vec::new();
    for collection in brain::snapshot::COLLECTIONS {
        for entry in std::fs::read_dir(root.join(collection)).unwrap().flatten() {
            let id = entry
                .path()
                .file_stem()
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            let mut fields: Value =
                serde_json::from_str(&std::fs::read_to_string(entry.path()).unwrap()).unwrap();
            fields.as_object_mut().unwrap().remove("__updateTime__");
            brain::cloud::fixtures::resolve_relative_times(&mut fields, now, false);
            all.push((format!("{collection}/{id}"), fields));
        }
    }
    all
}

/// The demo studio's documents as the portal writes them (times as timestamps), encoded.
pub fn portal_documents() -> Vec<(String, Value)> {
    demo_documents()
        .into_iter()
        .map(|(path, fields)| (path, portal_fields(&fields)))
        .collect()
}

/// Fields as the portal writes them: times as Firestore timestamps, the rest as they are.
fn portal_fields(fields: &Value) -> Value {
    fn encode(value: &Value) -> Value {
        match value {
            Value::String(text) if chrono::DateTime::parse_from_rfc3339(text).is_ok() => {
                json!({ "timestampValue": text })
            }
            Value::Object(map) => json!({ "mapValue": { "fields": map
                .iter()
                .map(|(name, value)| (name.clone(), encode(value)))
                .collect::<serde_json::Map<String, Value>>() } }),
            Value::Array(items) => {
                json!({ "arrayValue": { "values": items.iter().map(encode).collect::<Vec<_>>() } })
            }
            other => brain::cloud::firestore::encode_value(other),
        }
    }
    encode(fields)["mapValue"]["fields"].clone()
}

/// A Firestore studio holding the portal's real field names and values (times as timestamps)
/// is counted as its fixture twin is, on every store, with nothing unclassified and the
/// seed's counters as the records give them.
#[test]
fn a_snapshot_read_from_the_emulator_counts_what_the_fixtures_count() {
    let Some(emulator) = Emulator::start() else {
        return;
    };
    let project = "brain-demo";
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(emulator.seed_encoded(project, &portal_documents()));
    for backend in crate::engine::backends() {
        let studio = crate::engine::Studio::new(backend, "");
        let admin = studio.admin.clone();
        let mut command = studio.command(Some(&admin));
        command
            .env("FIRESTORE_EMULATOR_HOST", &emulator.host)
            .args([
                "--format",
                "json",
                "snapshot",
                "run",
                "--source",
                "firestore",
                "--project",
                project,
            ]);
        let output = command.output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            studio.transcript(&output)
        );
        let from_cloud: Value = serde_json::from_slice(&output.stdout).unwrap();
        let fixtures = crate::support::repo().join("examples/studio/cloud");
        let (code, from_fixtures) = studio.json(
            &admin,
            &[
                "snapshot",
                "run",
                "--source",
                "fixtures",
                "--dir",
                fixtures.to_str().unwrap(),
            ],
        );
        assert_eq!(code, 0);
        for collection in brain::snapshot::COLLECTIONS {
            assert_eq!(
                from_cloud["state"]["collections"][collection],
                from_fixtures["state"]["collections"][collection],
                "{collection}"
            );
            assert_eq!(
                from_cloud["state"]["collections"][collection]["unclassified"], 0,
                "{collection}: every value the portal writes is in the model"
            );
        }
        let state: brain::snapshot::StudioState =
            serde_json::from_value(from_cloud["state"].clone()).unwrap();
        let seed = brain::snapshot::seed::SeedCounters::from_state(&state);
        assert_eq!(
            (
                seed.batches_active,
                seed.batches_closed,
                seed.reservations_open,
                seed.firings_scheduled,
                seed.reports_open,
                seed.high_severity_reports,
                seed.agent_requests_pending,
                seed.pending_orders
            ),
            (6, 2, 6, 4, 7, 2, 5, 2)
        );
        let source = &from_cloud["provenance"]["sources"][0];
        assert_eq!(source["source"], "firestore");
        assert_eq!(source["completeness"], "full");
        assert!(
            source["location"]
                .as_str()
                .unwrap()
                .contains("projects/brain-demo/databases/(default)")
        );
        assert_eq!(
            from_cloud["drift"],
            json!([]),
            "the emulator's counts match what brain read"
        );
    }
}

// ---- Faults, against a fake ---------------------------------------------------------------

#[derive(Clone)]
struct Fake {
    mode: &'static str,
    requests: Arc<AtomicUsize>,
    token_requests: Arc<AtomicUsize>,
    /// The access token the fake issues (and then requires).
    issued: &'static str,
    expires_in: i64,
}

async fn fake_list(State(fake): State<Fake>, headers: HeaderMap) -> axum::response::Response {
    let n = fake.requests.fetch_add(1, Ordering::SeqCst);
    let status_error = |http: StatusCode, status: &str| {
        (http, axum::Json(json!({ "error": { "code": http.as_u16(), "message": "injected", "status": status } }))).into_response()
    };
    let page = json!({ "documents": [{ "name": "projects/p/databases/(default)/documents/batches/b1", "fields": { "status": { "stringValue": "ACTIVE" } }, "updateTime": "2026-12-01T10:00:00Z" }] });
    match fake.mode {
        "unavailable-once" if n == 0 => {
            status_error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE")
        }
        "exhausted-once" if n == 0 => {
            status_error(StatusCode::TOO_MANY_REQUESTS, "RESOURCE_EXHAUSTED")
        }
        "invalid" => status_error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
        "malformed" => (StatusCode::OK, "{\"documents\": [").into_response(),
        "endless" => {
            let mut page = page;
            page["nextPageToken"] = Value::from(format!("t{n}"));
            axum::Json(page).into_response()
        }
        "slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            axum::Json(page).into_response()
        }
        "authenticated" => {
            let expected = format!("Bearer {}", fake.issued);
            if headers
                .get("authorization")
                .and_then(|value| value.to_str().ok())
                != Some(expected.as_str())
            {
                return status_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
            }
            axum::Json(page).into_response()
        }
        _ => axum::Json(page).into_response(),
    }
}

/// A token endpoint that checks the JWT's signature and claims before issuing a token.
async fn fake_token(State(fake): State<Fake>, body: String) -> axum::response::Response {
    fake.token_requests.fetch_add(1, Ordering::SeqCst);
    let form: std::collections::HashMap<String, String> =
        serde_urlencoded::from_str(&body).unwrap();
    assert_eq!(
        form["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let parts: Vec<&str> = form["assertion"].split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT");
    use base64::Engine as _;
    let decode = |part: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap()
    };
    let header: Value = serde_json::from_slice(&decode(parts[0])).unwrap();
    let claims: Value = serde_json::from_slice(&decode(parts[1])).unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], "test-key-1");
    assert_eq!(
        claims["iss"],
        "brain-reader@brain-test.iam.gserviceaccount.com"
    );
    assert_eq!(claims["scope"], "https://www.googleapis.com/auth/datastore");
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 3600);
    let pem = include_str!("../fixtures/firestore/test-service-account-key.pem");
    let der: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(der)
        .unwrap();
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
    let public = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        key.public().as_ref(),
    );
    let signed = format!("{}.{}", parts[0], parts[1]);
    if public.verify(signed.as_bytes(), &decode(parts[2])).is_err() {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": "invalid_grant" })),
        )
            .into_response();
    }
    axum::Json(json!({ "access_token": fake.issued, "expires_in": fake.expires_in, "token_type": "Bearer" })).into_response()
}

async fn start_fake(mode: &'static str, expires_in: i64) -> (String, Fake) {
    let fake = Fake {
        mode,
        requests: Arc::default(),
        token_requests: Arc::default(),
        issued: "ya29.test-token",
        expires_in,
    };
    let app = axum::Router::new()
        .route(
            "/v1/projects/p/databases/(default)/documents/batches",
            get(fake_list),
        )
        .route("/token", post(fake_token))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}"), fake)
}

fn quick() -> Limits {
    Limits {
        attempts: 3,
        first_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        timeout: Duration::from_secs(1),
        page_size: 1,
        max_pages: 5,
    }
}

async fn list_through_fake(
    mode: &'static str,
) -> (Result<u64, brain::cloud::firestore::FirestoreError>, usize) {
    let (base, fake) = start_fake(mode, 3600).await;
    let client = FirestoreClient::at(&format!("{base}/v1"), "p", None, quick()).unwrap();
    let result = client.list("batches", &mut |_| {}).await;
    (result, fake.requests.load(Ordering::SeqCst))
}

#[tokio::test]
async fn transient_errors_are_retried_and_others_are_not() {
    let (result, requests) = list_through_fake("unavailable-once").await;
    assert_eq!(result.unwrap(), 1);
    assert_eq!(requests, 2, "one 503, one retry");
    let (result, requests) = list_through_fake("exhausted-once").await;
    assert_eq!(result.unwrap(), 1);
    assert_eq!(requests, 2, "one 429, one retry");
    let (result, requests) = list_through_fake("invalid").await;
    let error = result.unwrap_err();
    assert_eq!(error.status, "INVALID_ARGUMENT");
    assert_eq!(error.http, 400);
    assert_eq!(requests, 1, "INVALID_ARGUMENT is never retried");
}

#[tokio::test]
async fn malformed_endless_and_slow_answers_fail_with_a_bounded_error() {
    let (result, _) = list_through_fake("malformed").await;
    assert_eq!(result.unwrap_err().status, "BAD_RESPONSE");
    let (result, requests) = list_through_fake("endless").await;
    assert_eq!(result.unwrap_err().status, "TRUNCATED");
    assert_eq!(requests, 5, "the page limit bounds an endless list");
    let started = Instant::now();
    let (result, requests) = list_through_fake("slow").await;
    let error = result.unwrap_err();
    assert_eq!(error.status, "DEADLINE_EXCEEDED");
    assert_eq!(requests, 3, "a timeout is retried up to the attempt limit");
    assert!(started.elapsed() < Duration::from_secs(10));
    // Through the source, a failure is an error (the snapshot goes partial), never zero documents.
    let (base, _) = start_fake("endless", 3600).await;
    let source = FirestoreSource::new(Arc::new(
        FirestoreClient::at(&format!("{base}/v1"), "p", None, quick()).unwrap(),
    ));
    let error = source.read("batches", &mut |_| {}).await.unwrap_err();
    assert!(
        matches!(error, brain::cloud::SourceError::Truncated { limit: 5 }),
        "{error:?}"
    );
}

fn account(token_uri: &str) -> ServiceAccount {
    let mut account: ServiceAccount = serde_json::from_str(include_str!(
        "../fixtures/firestore/test-service-account.json"
    ))
    .unwrap();
    account.token_uri = token_uri.to_string();
    account
}

#[tokio::test]
async fn a_service_account_jwt_buys_a_token_that_is_cached_and_renewed_before_it_expires() {
    let (base, fake) = start_fake("authenticated", 3600).await;
    let client = FirestoreClient::at(
        &format!("{base}/v1"),
        "p",
        Some(account(&format!("{base}/token"))),
        quick(),
    )
    .unwrap();
    for _ in 0..3 {
        assert_eq!(client.list("batches", &mut |_| {}).await.unwrap(), 1);
    }
    assert_eq!(
        fake.token_requests.load(Ordering::SeqCst),
        1,
        "the token is cached while it lasts"
    );

    // A token that expires within five minutes is renewed before each use.
    let (base, fake) = start_fake("authenticated", 200).await;
    let client = FirestoreClient::at(
        &format!("{base}/v1"),
        "p",
        Some(account(&format!("{base}/token"))),
        quick(),
    )
    .unwrap();
    for _ in 0..2 {
        client.list("batches", &mut |_| {}).await.unwrap();
    }
    assert_eq!(fake.token_requests.load(Ordering::SeqCst), 2);

    // A key the endpoint does not accept: UNAUTHENTICATED, and the key never shows in the error.
    let (base, _) = start_fake("authenticated", 3600).await;
    let mut wrong = account(&format!("{base}/token"));
    wrong.private_key = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----".into();
    let client = FirestoreClient::at(&format!("{base}/v1"), "p", Some(wrong), quick()).unwrap();
    let error = client.list("batches", &mut |_| {}).await.unwrap_err();
    assert_eq!(error.status, "UNAUTHENTICATED");
    assert!(!error.to_string().contains("BEGIN PRIVATE KEY"));
}
