//! The JSON API through the router, without binding a port: every route is documented in the
//! OpenAPI document and the reverse; authentication, authorization by the policy set, the one
//! error shape and its statuses; a lifecycle end to end.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use brain::audit::checkpoint::AuditSigner;
use brain::config::Environment;
use brain::engine::{Engine, EngineSettings, Executors, PolicyBundle};
use brain::server::AppState;
use brain::store::{SqliteStore, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::engine::{Backend, Studio};

/// A router over a fresh studio's Engine, with tokens for an admin, a second staff member, a
/// human and an agent.
pub struct Api {
    pub router: axum::Router,
    pub engine: Arc<Engine>,
    /// The studio's brain.yaml, as the daemon loaded it.
    pub config: Arc<brain::config::LoadedConfig>,
    pub admin: String,
    pub bob: String,
    pub hana: String,
    pub bot: String,
    _studio: Studio,
    _dir: tempfile::TempDir,
}

impl Api {
    pub async fn new() -> Api {
        Api::with_config("").await
    }

    /// An Api whose brain.yaml has `config_extra` appended.
    pub async fn with_config(config_extra: &str) -> Api {
        let studio = Studio::new(Backend::Sqlite, config_extra);
        let loaded = brain::config::load(
            Some(&studio.path().join("brain.yaml")),
            &Environment::process(),
        )
        .unwrap();
        let bundle = PolicyBundle::load(&loaded).unwrap();
        let dir = crate::support::temp_dir();
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("brain.db"))
                .await
                .unwrap(),
        );
        store.migrate().await.unwrap();
        let engine = Arc::new(Engine::new(
            store.clone(),
            Arc::new(bundle),
            EngineSettings::default(),
            Arc::new(AuditSigner::generate().unwrap()),
            Executors::new(),
        ));
        let admin = engine.bootstrap_admin("admin").await.unwrap();
        let caller = engine.authenticate(&admin.token).await.unwrap();
        let mut tokens = Vec::new();
        for id in ["staff:bob", "human:hana", "agent:bot"] {
            tokens.push(engine.add_actor(&caller, id, None).await.unwrap().token);
        }
        let config = Arc::new(loaded);
        let state = AppState {
            store,
            policies: engine.policy().decider.shared_policies(),
            engine: engine.clone(),
            sessions: Arc::default(),
            swarms: Arc::new(brain::swarms::runtime::Runner::new(
                config.clone(),
                Vec::new(),
                brain::swarms::runtime::SwarmFiles::load(&config).unwrap().0,
            )),
            config: config.clone(),
            metrics: Arc::new(brain::telemetry::Metrics::new()),
            // The config's connectors (none unless a test configures them; `sim://` ones run
            // their simulators), not polled: their health is what they start with.
            connectors: Arc::new(
                brain::connectors::fleet::Fleet::from_config(&config, &engine.policy().manifests)
                    .await,
            ),
            cluster: Arc::new(brain::server::cluster::Cluster::new(
                "127.0.0.1:0".into(),
                brain::server::cluster::Mode::Single,
            )),
        };
        Api {
            router: brain::server::router(state),
            engine,
            config,
            admin: admin.token,
            bob: tokens[0].clone(),
            hana: tokens[1].clone(),
            bot: tokens[2].clone(),
            _studio: studio,
            _dir: dir,
        }
    }

    /// One call: status and JSON body (`Null` when the body is not JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value, axum::http::HeaderMap) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        self.raw(request).await
    }

    pub async fn raw(&self, request: Request<Body>) -> (StatusCode, Value, axum::http::HeaderMap) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
            .await
            .unwrap();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value, headers)
    }

    pub async fn propose(&self, token: &str, text: &str) -> String {
        let (status, view, _) = self
            .call(
                "POST",
                "/api/v1/proposals",
                Some(token),
                Some(json!({
                    "capability": "test.note.draft",
                    "input": { "text": text },
                    "rationale": "api test",
                })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{view}");
        view["id"].as_str().unwrap().to_string()
    }
}

/// The error shape every failure has.
fn assert_error_shape(body: &Value) {
    for key in [
        "code",
        "message",
        "reason_codes",
        "policy_ids",
        "retry_after",
    ] {
        assert!(body.get(key).is_some(), "`{key}` missing in {body}");
    }
}

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "p_000000000000"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn the_openapi_document_and_the_routes_match_both_ways() {
    let api = Api::new().await;
    let (status, document, _) = api
        .call("GET", "/api/v1/openapi.json", Some(&api.hana), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["openapi"], "3.1.0");
    let documented: std::collections::BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, operations)| {
            operations
                .as_object()
                .unwrap()
                .keys()
                .map(|method| (method.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    // Every documented route exists: without a token it answers 401, never the router's 404
    // or 405. Nothing under /api/v1 is anonymous.
    for (method, path) in &documented {
        let body = (method == "POST").then(|| json!({}));
        let (status, body, headers) = api.call(method, &concrete(path), None, body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
        assert_error_shape(&body);
        assert!(headers.contains_key("www-authenticate"));
    }
    // Every route the router has is documented: the routes are read from the router's source.
    let source = include_str!("../../src/server/api.rs");
    let mut routed = std::collections::BTreeSet::new();
    for line in source.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix(".route(\"") else {
            continue;
        };
        let (path, handlers) = rest.split_once('"').unwrap();
        for (method, marker) in [("GET", "get("), ("POST", "post(")] {
            if handlers.contains(&format!(" {marker}")) || handlers.contains(&format!(".{marker}"))
            {
                routed.insert((method.to_string(), path.to_string()));
            }
        }
    }
    assert!(routed.len() > 20, "routes read from the source: {routed:?}");
    assert_eq!(
        routed, documented,
        "the router and the OpenAPI document disagree"
    );
    // Each schema reference resolves.
    let text = document.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            document["components"]["schemas"].get(name).is_some(),
            "dangling reference to `{name}`"
        );
    }
}

#[tokio::test]
async fn every_mutating_route_refuses_missing_bad_and_revoked_tokens() {
    let api = Api::new().await;
    let (_, document, _) = api
        .call("GET", "/api/v1/openapi.json", Some(&api.bob), None)
        .await;
    let posts: Vec<String> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, operations)| operations.get("post").is_some())
        .map(|(path, _)| concrete(path))
        .collect();
    assert!(posts.len() > 10);
    let admin = api.engine.authenticate(&api.admin).await.unwrap();
    let revoked = api
        .engine
        .add_actor(&admin, "staff:gone", None)
        .await
        .unwrap()
        .token;
    api.engine.revoke_actor(&admin, "staff:gone").await.unwrap();
    for path in &posts {
        for token in [None, Some("brn_not-a-real-token"), Some(revoked.as_str())] {
            let (status, body, _) = api.call("POST", path, token, Some(json!({}))).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "POST {path} with {token:?}: {body}"
            );
            assert_error_shape(&body);
        }
    }
    let (status, body, _) = api
        .raw(
            Request::builder()
                .method("POST")
                .uri("/api/v1/proposals")
                .header("authorization", "Basic YWRtaW46YWRtaW4=")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["message"].as_str().unwrap().contains("Bearer"),
        "{body}"
    );
}

#[tokio::test]
async fn the_policy_set_authorizes_each_call_with_reason_codes_and_fitting_statuses() {
    let api = Api::new().await;
    let id = api.propose(&api.admin, "latch").await;

    // A human may not turn the kill switch on, approve a staff-only capability, or add actors.
    let cases = [
        (
            "POST",
            "/api/v1/kill-switches/global".to_string(),
            &api.hana,
            json!({"on": true, "reason": "r"}),
            "NO_PERMIT",
        ),
        (
            "POST",
            format!("/api/v1/proposals/{id}/approve"),
            &api.hana,
            json!({}),
            "APPROVER_NOT_ALLOWED",
        ),
        (
            "POST",
            "/api/v1/actors".to_string(),
            &api.hana,
            json!({"id": "staff:eve"}),
            "NO_PERMIT",
        ),
        (
            "GET",
            "/api/v1/audit".to_string(),
            &api.hana,
            Value::Null,
            "NO_PERMIT",
        ),
        // An agent without a delegation can do nothing.
        (
            "GET",
            "/api/v1/proposals".to_string(),
            &api.bot,
            Value::Null,
            "DELEGATION_MISSING",
        ),
        // Self-approval through the API.
        (
            "POST",
            format!("/api/v1/proposals/{id}/approve"),
            &api.admin,
            json!({}),
            "SELF_APPROVAL_FORBIDDEN",
        ),
        // Executing before approval.
        (
            "POST",
            format!("/api/v1/proposals/{id}/execute"),
            &api.bob,
            json!({}),
            "APPROVAL_REQUIRED",
        ),
    ];
    for (method, path, token, body, reason) in cases {
        let body = (!body.is_null()).then_some(body);
        let (status, answer, _) = api.call(method, &path, Some(token), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
        assert_error_shape(&answer);
        assert_eq!(answer["code"], "denied");
        assert!(
            answer["reason_codes"].to_string().contains(reason),
            "{method} {path}: {answer}"
        );
    }

    // 404, 409, 400 and 429 in the same shape.
    let (status, answer, _) = api
        .call(
            "POST",
            "/api/v1/proposals/p_000000000000/approve",
            Some(&api.bob),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert_error_shape(&answer);
    let (status, answer, _) = api
        .call("GET", "/api/v1/nothing-here", Some(&api.bob), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert_error_shape(&answer);
    let (status, answer, _) = api
        .call("DELETE", "/api/v1/proposals", Some(&api.bob), None)
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{answer}");
    assert_error_shape(&answer);

    let rejected = api.propose(&api.admin, "to reject").await;
    let (status, answer, _) = api
        .call(
            "POST",
            &format!("/api/v1/proposals/{rejected}/reject"),
            Some(&api.bob),
            Some(json!({"reason": "no"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer, _) = api
        .call(
            "POST",
            &format!("/api/v1/proposals/{rejected}/approve"),
            Some(&api.bob),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["reason_codes"], json!(["INVALID_STATE"]));

    for bad in [
        Body::from("{not json"),
        Body::from(r#"{"capability": "test.note.draft"}"#),
        Body::from(
            r#"{"capability": "test.note.draft", "input": {}, "rationale": "r", "surprise": 1}"#,
        ),
        Body::from("[]"),
    ] {
        let (status, answer, _) = api
            .raw(
                Request::builder()
                    .method("POST")
                    .uri("/api/v1/proposals")
                    .header("authorization", format!("Bearer {}", api.bob))
                    .header("content-type", "application/json")
                    .body(bad)
                    .unwrap(),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_error_shape(&answer);
        assert_eq!(answer["code"], "bad_request");
    }
    let (status, answer, _) = api
        .raw(
            Request::builder()
                .method("POST")
                .uri("/api/v1/proposals")
                .header("authorization", format!("Bearer {}", api.bob))
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a body without a JSON content type: {answer}"
    );
    let (status, answer, _) = api
        .call("GET", "/api/v1/proposals?state=bogus", Some(&api.bob), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer, _) = api
        .call("GET", "/api/v1/proposals?limit=many", Some(&api.bob), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");

    // The quota (3 executions an hour per proposer) answers 429 with Retry-After.
    for n in 0..3 {
        let id = api.propose(&api.bob, &format!("quota {n}")).await;
        let (status, _, _) = api
            .call(
                "POST",
                &format!("/api/v1/proposals/{id}/approve"),
                Some(&api.admin),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) = api
            .call(
                "POST",
                &format!("/api/v1/proposals/{id}/execute"),
                Some(&api.admin),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, answer, headers) = api
        .call(
            "POST",
            "/api/v1/proposals",
            Some(&api.bob),
            Some(json!({"capability": "test.note.draft", "input": {"text": "one more"}, "rationale": "r"})),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{answer}");
    assert!(answer["retry_after"].as_u64().unwrap() > 0);
    assert_eq!(
        headers["retry-after"].to_str().unwrap(),
        answer["retry_after"].to_string()
    );
}

#[tokio::test]
async fn a_lifecycle_runs_end_to_end_and_the_policy_set_is_readable() {
    let api = Api::new().await;
    let id = api.propose(&api.admin, "kiln 2 latch").await;
    let (status, dry, _) = api
        .call(
            "POST",
            &format!("/api/v1/proposals/{id}/dry-run"),
            Some(&api.bob),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(dry["would_execute"], false);
    let (status, view, _) = api
        .call(
            "POST",
            &format!("/api/v1/proposals/{id}/approve"),
            Some(&api.bob),
            Some(json!({"comment": "ok"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["state"], "approved");
    let (status, view, _) = api
        .call(
            "POST",
            &format!("/api/v1/proposals/{id}/execute"),
            Some(&api.bob),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["state"], "succeeded");
    let (status, list, _) = api
        .call(
            "GET",
            "/api/v1/proposals?state=succeeded",
            Some(&api.hana),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);

    let (status, who, _) = api
        .call("GET", "/api/v1/whoami", Some(&api.bob), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(who["id"], "staff:bob");
    for path in [
        "/api/v1/capabilities",
        "/api/v1/policies",
        "/api/v1/reason-codes",
        "/api/v1/kill-switches",
        "/api/v1/exemptions",
    ] {
        let (status, body, _) = api.call("GET", path, Some(&api.hana), None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (_, policies, _) = api
        .call("GET", "/api/v1/policies", Some(&api.bob), None)
        .await;
    assert!(
        policies["policies"]
            .to_string()
            .contains("kill-switch.global")
    );
    let (status, verify, _) = api
        .call("GET", "/api/v1/audit/verify", Some(&api.bob), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(verify["ok"], true);
    let (status, events, _) = api
        .call(
            "GET",
            &format!("/api/v1/audit?proposal={id}&limit=10"),
            Some(&api.bob),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|event| event["action"] == "execute" && event["decision"] == "allow")
    );

    let (status, explained, _) = api
        .call(
            "POST",
            "/api/v1/decisions/explain",
            Some(&api.bob),
            Some(json!({
                "principal": "staff:carol",
                "action": "execute",
                "capability": "firestore.ops_note.append",
                "context": { "approvals": 1, "kill_switches": ["global"] }
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{explained}");
    assert_eq!(explained["decision"]["allowed"], false);
    assert!(
        explained["policies"]
            .to_string()
            .contains("KILL_SWITCH_ACTIVE"),
        "{explained}"
    );

    // Kill switch, exemption and delegation round trips.
    let (status, switch, _) = api
        .call(
            "POST",
            "/api/v1/kill-switches/global",
            Some(&api.bob),
            Some(json!({"on": true, "reason": "drill"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{switch}");
    let (status, answer, _) = api
        .call(
            "POST",
            "/api/v1/proposals",
            Some(&api.bob),
            Some(
                json!({"capability": "test.note.draft", "input": {"text": "x"}, "rationale": "r"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(answer["reason_codes"], json!(["KILL_SWITCH_ACTIVE"]));
    let (status, _, _) = api
        .call(
            "POST",
            "/api/v1/kill-switches/global",
            Some(&api.bob),
            Some(json!({"on": false, "reason": "drill over"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, exemption, _) = api
        .call(
            "POST",
            "/api/v1/exemptions",
            Some(&api.bob),
            Some(json!({"capability": "test.note.draft", "expires": "2h", "justification": "firing day, notes go out fast", "requested_by": "staff:admin"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{exemption}");
    assert_eq!(exemption["in_force"], true);
    let (status, delegation, _) = api
        .call(
            "POST",
            "/api/v1/delegations",
            Some(&api.admin),
            Some(json!({"agent": "agent:bot", "owner": "staff:bob", "scopes": ["marketing.*"], "expires": "7d"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{delegation}");
    let (status, draft, _) = api
        .call(
            "POST",
            "/api/v1/proposals",
            Some(&api.bot),
            Some(json!({"capability": "marketing.post.draft", "input": {"channel": "website", "body": "Open studio Saturday"}, "rationale": "weekly post", "draft": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{draft}");
    assert_eq!(draft["state"], "draft");
    assert_eq!(draft["owner"], "staff:bob");
}

#[tokio::test]
async fn a_store_that_goes_away_answers_503_and_never_allows() {
    let api = Api::new().await;
    api.engine.store().close().await;
    let (status, answer, _) = api
        .call(
            "POST",
            "/api/v1/proposals",
            Some(&api.bob),
            Some(
                json!({"capability": "test.note.draft", "input": {"text": "x"}, "rationale": "r"}),
            ),
        )
        .await;
    assert!(
        status == StatusCode::SERVICE_UNAVAILABLE,
        "{status}: {answer}"
    );
    assert_error_shape(&answer);
    assert_eq!(answer["code"], "store_unavailable");
    assert!(
        !answer["message"].as_str().unwrap().contains("pool"),
        "internal causes stay in the log: {answer}"
    );
}
