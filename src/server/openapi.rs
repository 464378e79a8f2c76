//! The OpenAPI 3.1 document of `/api/v1`, generated from the route table below and the JSON
//! Schemas of the very types the handlers read and write (schemars). A test walks this table
//! against the router, so a route cannot exist without being documented, nor the reverse.

use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Value, json};

use super::api;
use crate::engine;

/// How to make one schema (a `$ref` into the components) with the shared generator.
type SchemaFn = fn(&mut SchemaGenerator) -> schemars::Schema;

fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> schemars::Schema {
    generator.subschema_for::<T>()
}

/// One documented route.
pub struct RouteDoc {
    pub method: &'static str,
    /// With `{param}` placeholders, as the router spells them.
    pub path: &'static str,
    pub summary: &'static str,
    /// Needs `Authorization: Bearer <token>`.
    pub authenticated: bool,
    pub query: Option<SchemaFn>,
    pub body: Option<SchemaFn>,
    pub response: SchemaFn,
}

const fn route(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    body: Option<SchemaFn>,
    response: SchemaFn,
) -> RouteDoc {
    RouteDoc {
        method,
        path,
        summary,
        authenticated: true,
        query: None,
        body,
        response,
    }
}

/// Every `/api/v1` route.
pub fn routes() -> Vec<RouteDoc> {
    vec![
        route(
            "get",
            "/api/v1/openapi.json",
            "This document",
            None,
            schema::<Value>,
        ),
        route(
            "get",
            "/api/v1/whoami",
            "The caller, as its token resolves",
            None,
            schema::<engine::Caller>,
        ),
        RouteDoc {
            query: Some(schema::<api::ProposalQuery>),
            ..route(
                "get",
                "/api/v1/proposals",
                "List proposals, newest first",
                None,
                schema::<Vec<engine::ProposalView>>,
            )
        },
        route(
            "post",
            "/api/v1/proposals",
            "Propose an action on a capability",
            Some(schema::<api::ProposeBody>),
            schema::<engine::ProposalView>,
        ),
        route(
            "get",
            "/api/v1/proposals/{id}",
            "One proposal with its approvals",
            None,
            schema::<engine::ProposalView>,
        ),
        route(
            "post",
            "/api/v1/proposals/{id}/submit",
            "Send a draft to the approval queue",
            None,
            schema::<engine::ProposalView>,
        ),
        route(
            "post",
            "/api/v1/proposals/{id}/approve",
            "Approve a proposal (never your own)",
            Some(schema::<api::CommentBody>),
            schema::<engine::ProposalView>,
        ),
        route(
            "post",
            "/api/v1/proposals/{id}/reject",
            "Reject a proposal, with a reason",
            Some(schema::<api::ReasonBody>),
            schema::<engine::ProposalView>,
        ),
        route(
            "post",
            "/api/v1/proposals/{id}/cancel",
            "Cancel a proposal",
            Some(schema::<api::ReasonBody>),
            schema::<engine::ProposalView>,
        ),
        route(
            "post",
            "/api/v1/proposals/{id}/dry-run",
            "The decision and the exact plan, without executing",
            None,
            schema::<engine::DryRun>,
        ),
        route(
            "post",
            "/api/v1/proposals/{id}/execute",
            "Execute an approved proposal",
            None,
            schema::<engine::ProposalView>,
        ),
        route(
            "post",
            "/api/v1/proposals/{id}/rollback",
            "Roll back a succeeded execution",
            None,
            schema::<engine::ProposalView>,
        ),
        route(
            "get",
            "/api/v1/exemptions",
            "Declared and runtime exemptions",
            None,
            schema::<Vec<engine::ExemptionView>>,
        ),
        route(
            "post",
            "/api/v1/exemptions",
            "Grant a time-bounded exemption",
            Some(schema::<api::ExemptBody>),
            schema::<engine::ExemptionView>,
        ),
        route(
            "post",
            "/api/v1/exemptions/{id}/revoke",
            "Revoke an exemption",
            Some(schema::<api::ReasonBody>),
            schema::<engine::ExemptionView>,
        ),
        route(
            "get",
            "/api/v1/cluster",
            "This daemon, the leader lease and the daemons sharing the store",
            None,
            schema::<super::cluster::ClusterView>,
        ),
        RouteDoc {
            query: Some(schema::<api::ScorecardQuery>),
            ..route(
                "get",
                "/api/v1/scorecard",
                "The service-level objectives over a period (`7d`, `30d`, `month:2026-11`), from brain's own records",
                None,
                schema::<crate::scorecard::Scorecard>,
            )
        },
        route(
            "get",
            "/api/v1/kill-switches",
            "Kill switches and the names the policies declare",
            None,
            schema::<api::SwitchList>,
        ),
        route(
            "post",
            "/api/v1/kill-switches/{name}",
            "Turn a kill switch on or off",
            Some(schema::<api::SwitchBody>),
            schema::<engine::KillSwitchState>,
        ),
        route(
            "get",
            "/api/v1/actors",
            "Actors (never their tokens)",
            None,
            schema::<Vec<crate::store::Actor>>,
        ),
        route(
            "post",
            "/api/v1/actors",
            "Add an actor; its token is in this response only",
            Some(schema::<api::ActorBody>),
            schema::<engine::Issued>,
        ),
        route(
            "post",
            "/api/v1/actors/{id}/revoke",
            "Revoke an actor",
            None,
            schema::<crate::store::Actor>,
        ),
        RouteDoc {
            query: Some(schema::<api::DelegationQuery>),
            ..route(
                "get",
                "/api/v1/delegations",
                "Delegations",
                None,
                schema::<Vec<crate::store::Delegation>>,
            )
        },
        route(
            "post",
            "/api/v1/delegations",
            "Delegate scopes of an owner's authority to an agent",
            Some(schema::<api::DelegateBody>),
            schema::<crate::store::Delegation>,
        ),
        route(
            "post",
            "/api/v1/delegations/{id}/revoke",
            "Revoke a delegation",
            None,
            schema::<crate::store::Delegation>,
        ),
        RouteDoc {
            query: Some(schema::<api::AuditQuery>),
            ..route(
                "get",
                "/api/v1/audit",
                "Audit events, newest first",
                None,
                schema::<Vec<crate::audit::AuditEvent>>,
            )
        },
        route(
            "get",
            "/api/v1/audit/verify",
            "Recompute the hash chain and check the checkpoints",
            None,
            schema::<engine::AuditVerification>,
        ),
        route(
            "post",
            "/api/v1/decisions/explain",
            "Decide a hypothetical question, with the determining policies",
            Some(schema::<engine::explain::ExplainRequest>),
            schema::<engine::explain::Explanation>,
        ),
        route(
            "get",
            "/api/v1/capabilities",
            "The capability manifests",
            None,
            schema::<Vec<crate::capability::Manifest>>,
        ),
        route(
            "get",
            "/api/v1/policies",
            "The loaded Cedar policies",
            None,
            schema::<api::PolicyList>,
        ),
        route(
            "get",
            "/api/v1/reason-codes",
            "The reason-code catalogue",
            None,
            schema::<Vec<api::ReasonView>>,
        ),
        RouteDoc {
            query: Some(schema::<api::SnapshotQuery>),
            ..route(
                "get",
                "/api/v1/snapshots",
                "StudioState snapshots, newest first (derived from cloud)",
                None,
                schema::<Vec<crate::store::SnapshotRecord>>,
            )
        },
        route(
            "get",
            "/api/v1/snapshots/{id}",
            "One snapshot, or `latest`",
            None,
            schema::<crate::store::SnapshotRecord>,
        ),
        route(
            "get",
            "/api/v1/freshness",
            "How old the newest snapshot is, and whether decisions treat it as stale",
            None,
            schema::<engine::snapshots::Freshness>,
        ),
        route(
            "get",
            "/api/v1/connectors",
            "Device connectors: health, breaker, request and error counts, latest readings",
            None,
            schema::<Vec<crate::connectors::guard::ConnectorStatus>>,
        ),
        route(
            "get",
            "/api/v1/connectors/{id}",
            "One device connector",
            None,
            schema::<crate::connectors::guard::ConnectorStatus>,
        ),
        route(
            "post",
            "/api/v1/intake/classify",
            "Classify a text, or a proposal's input and rationale, through the compliance intake gate (changes nothing)",
            Some(schema::<api::ClassifyBody>),
            schema::<crate::intake::Classification>,
        ),
        route(
            "get",
            "/api/v1/intake/queue",
            "The proposals and agent requests the intake gate routed to mandatory human review",
            None,
            schema::<Vec<crate::engine::intake::Queued>>,
        ),
        route(
            "post",
            "/api/v1/intake/override",
            "A staff member's decision on a routed proposal or agent request (never its proposer)",
            Some(schema::<api::OverrideBody>),
            schema::<crate::intake::IntakeRecord>,
        ),
    ]
}

fn error_responses(authenticated: bool) -> Value {
    let error = json!({ "$ref": "#/components/schemas/ErrorBody" });
    let mut responses = serde_json::Map::new();
    for (status, description) in [
        ("400", "the request is malformed, or its input is invalid"),
        (
            "403",
            "denied by the policy set (reason codes and policy ids say why)",
        ),
        (
            "404",
            "no such proposal, actor, delegation, exemption or capability",
        ),
        ("409", "the proposal's state does not allow this step"),
        (
            "429",
            "a quota is used up; `Retry-After` says when to retry",
        ),
        ("503", "the store is unavailable, so nothing was allowed"),
    ] {
        responses.insert(
            status.into(),
            json!({ "description": description, "content": { "application/json": { "schema": error } } }),
        );
    }
    if authenticated {
        responses.insert(
            "401".into(),
            json!({ "description": "no valid token", "content": { "application/json": { "schema": error } } }),
        );
    }
    Value::Object(responses)
}

/// The whole document.
pub fn document() -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    settings.meta_schema = None;
    let mut generator = settings.into_generator();
    // Registers `ErrorBody` in the components, which every error response refers to.
    let _ = generator.subschema_for::<engine::ErrorBody>();
    let mut paths = serde_json::Map::new();
    for route in routes() {
        let mut operation = json!({
            "summary": route.summary,
            "operationId": format!("{} {}", route.method, route.path),
            "responses": {
                "200": {
                    "description": "done",
                    "content": { "application/json": { "schema": (route.response)(&mut generator) } }
                }
            }
        });
        if let Some(errors) = error_responses(route.authenticated).as_object()
            && let Some(responses) = operation["responses"].as_object_mut()
        {
            responses.extend(errors.clone());
        }
        let mut parameters: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        if let Some(query) = route.query {
            let query_schema = query(&mut generator);
            parameters.push(json!({
                "name": "filter",
                "in": "query",
                "style": "form",
                "explode": true,
                "schema": query_schema,
            }));
        }
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        if let Some(body) = route.body {
            operation["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": body(&mut generator) } }
            });
        }
        if route.authenticated {
            operation["security"] = json!([{ "bearer": [] }]);
        }
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        entry[route.method] = operation;
    }
    let schemas = generator.take_definitions(true);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "brain",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The cloud stays authoritative; brain computes and proposes; irreversible actions need approval; everything is auditable; the system fails safe. Every call is decided by the policy set; errors share one shape."
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } }
        }
    })
}
