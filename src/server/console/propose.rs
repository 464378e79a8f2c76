//! The console's New proposal page (`/proposals/new`): staff pick a capability they may
//! propose, fill a form generated from its `input_schema` ([`super::schema_form`]) and a
//! rationale, and the proposal is made by the same `Engine::propose` the API and the CLI call,
//! so Cedar, the manifests, quotas, kill switches, the intake gate and the audit log all apply.
//!
//! The picker is a GET form (`?capability=ID`, bookmarkable). Which capabilities a viewer may
//! propose is the Engine's answer to a hypothetical `propose` (its decision explain, under
//! neutral facts: no switch on, a fresh snapshot, quota left); the capabilities it refuses are
//! listed with the reason codes in words, so a viewer without propose rights sees why. The
//! facts of the moment are decided when the form is posted. A refused or invalid proposal
//! comes back as the form with what was typed and the refusal named (reason codes, their
//! meaning and fix), never a blank page. In read-only mode the form is shown without its
//! submit control and the POST is refused by `Checked`, like every other action route.
//!
//! Architecture Invariant: this page decides nothing: it shows the Engine's explain answers and
//! posts to `Engine::propose`; the form only turns typed text into JSON.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::schema_form::{self, FieldProblem};
use super::{
    AppState, Checked, Flash, ReadOnly, Viewer, degraded, esc, layout, random_hex, refusal_html,
    url_encode,
};
use crate::capability::{ActorType, Manifest, Mode};
use crate::engine::explain::{ExplainRequest, Explanation};
use crate::engine::{EngineError, ErrorBody, ProposeRequest};
use crate::policy::testing::{ContextInput, DelegationInput};

const TITLE: &str = "New proposal";
const PATH: &str = "/proposals/new";

/// `GET /proposals/new` parameters.
#[derive(Debug, Default, Deserialize)]
pub(super) struct NewParams {
    capability: Option<String>,
}

/// A capability and whether the Engine would let the viewer propose it.
struct Choice {
    manifest: Manifest,
    explanation: Explanation,
}

/// The capabilities a proposal can be made on (reads are what connectors and snapshots do,
/// never proposed), each with the Engine's answer for the viewer. `Err` is the Engine refusing
/// the viewer a look at all.
async fn choices(state: &AppState, viewer: &Viewer) -> Result<Vec<Choice>, EngineError> {
    // An agent signed in to the console proposes under its delegation, as through the API.
    let delegations = if viewer.caller.actor_type == ActorType::Agent {
        state
            .engine
            .delegations(&viewer.caller, Some(&viewer.caller.id))
            .await?
    } else {
        Vec::new()
    };
    let now = crate::clock::now();
    let manifests: Vec<&Manifest> = state
        .engine
        .policy()
        .manifests
        .values()
        .filter(|manifest| manifest.mode != Mode::Read)
        .collect();
    let requests: Vec<ExplainRequest> = manifests
        .iter()
        .map(|manifest| ExplainRequest {
            principal: viewer.caller.id.clone(),
            action: "propose".into(),
            capability: Some(manifest.id.clone()),
            kill_switch: None,
            context: ContextInput {
                now: now.timestamp(),
                ..ContextInput::default()
            },
            delegation: crate::engine::identity::resolve_delegation(
                &delegations,
                Some(&manifest.id),
                None,
                now,
            )
            .map(|(delegation, resolved)| DelegationInput {
                owner: delegation.owner,
                scopes: delegation.scopes,
                expired: resolved.expired,
                revoked: resolved.revoked,
            }),
        })
        .collect();
    let answers = state.engine.explain_each(&viewer.caller, &requests).await?;
    let mut choices = Vec::new();
    for (manifest, answer) in manifests.into_iter().zip(answers) {
        choices.push(Choice {
            manifest: manifest.clone(),
            explanation: answer?,
        });
    }
    Ok(choices)
}

/// Reason codes in words, as a list.
fn reasons_html(codes: &[String]) -> String {
    codes
        .iter()
        .map(|code| {
            let words = crate::policy::reasons::lookup(code).map_or_else(String::new, |known| {
                format!(": {} — {}", known.meaning, known.fix)
            });
            format!("<li><code>{}</code>{}</li>", esc(code), esc(&words))
        })
        .collect()
}

fn capability_label(manifest: &Manifest) -> String {
    format!(
        "{} ({}, {} risk)",
        manifest.title,
        manifest.id,
        manifest.tier().as_str()
    )
}

/// The capability picker: a GET form over what the viewer may propose, and what it may not
/// and why.
fn picker_html(choices: &[Choice], selected: Option<&str>) -> String {
    let allowed: Vec<&Choice> = choices
        .iter()
        .filter(|choice| choice.explanation.decision.allowed)
        .collect();
    let refused: Vec<&Choice> = choices
        .iter()
        .filter(|choice| !choice.explanation.decision.allowed)
        .collect();
    let mut html = String::new();
    if allowed.is_empty() {
        html.push_str(
            "<section class=\"state-note state-empty\" id=\"cannot-propose\" role=\"status\"><h2>You cannot propose anything here</h2><p>The policy set allows you to propose none of the studio's capabilities; each one's reasons are listed below. Ask an admin for a staff token (<code>brain actor add staff:NAME</code>), or for a delegation if you are an agent.</p></section>",
        );
    } else {
        let options: String = allowed
            .iter()
            .map(|choice| {
                format!(
                    "<option value=\"{0}\"{1}>{2}</option>",
                    esc(&choice.manifest.id),
                    if selected == Some(choice.manifest.id.as_str()) {
                        " selected"
                    } else {
                        ""
                    },
                    esc(&capability_label(&choice.manifest))
                )
            })
            .collect();
        html.push_str(&format!(
            "<form method=\"get\" action=\"{PATH}\" class=\"filters\" id=\"pick-capability\" aria-label=\"Choose a capability\"><label for=\"capability\">Capability</label><select id=\"capability\" name=\"capability\">{options}</select><button type=\"submit\" id=\"choose\">Choose</button></form>"
        ));
    }
    if !refused.is_empty() {
        let items: String = refused
            .iter()
            .map(|choice| {
                format!(
                    "<li id=\"refused-{id}\"><code>{id}</code> — {title}<ul>{reasons}</ul></li>",
                    id = esc(&choice.manifest.id),
                    title = esc(&choice.manifest.title),
                    reasons = reasons_html(&choice.explanation.decision.reasons),
                )
            })
            .collect();
        html.push_str(&format!(
            "<details id=\"not-proposable\"{open}><summary>{count} you may not propose, and why</summary><ul class=\"problems\">{items}</ul></details>",
            open = if allowed.is_empty() { " open" } else { "" },
            count = super::studio_state::plural(refused.len() as u64, "capability", "capabilities"),
        ));
    }
    html
}

/// What the form shows about its capability before the fields.
fn capability_facts(manifest: &Manifest) -> String {
    let approvals = match manifest.approval.required {
        0 => "none: it is approved when proposed".to_string(),
        1 => "1 approval".to_string(),
        count => format!("{count} distinct approvals"),
    };
    let fresh = if manifest.requires_fresh_state {
        "<tr><th>Needs</th><td>fresh StudioState: it is refused while the latest snapshot is stale or partial</td></tr>"
    } else {
        ""
    };
    format!(
        "<table class=\"facts\" id=\"capability-facts\"><tr><th>Capability</th><td><code>{id}</code> — {title}</td></tr>\
         <tr><th>Risk tier</th><td class=\"tier-{tier}\">{tier}</td></tr>\
         <tr><th>Acts on</th><td><code>{target}</code> ({mode}, {class})</td></tr>\
         <tr><th>Owner</th><td>{owner}</td></tr>\
         <tr><th>Approvals</th><td>{approvals}</td></tr>{fresh}\
         <tr><th>If it fails</th><td>{failure}</td></tr></table>",
        id = esc(&manifest.id),
        title = esc(&manifest.title),
        tier = manifest.tier().as_str(),
        target = esc(&manifest.target),
        mode = manifest.mode.as_str(),
        class = manifest.class.as_str(),
        owner = esc(manifest.owner.as_deref().unwrap_or("—")),
        failure = esc(manifest.failure_mode.as_deref().unwrap_or("—")),
    )
}

/// What a posted form carried besides its fields.
struct Posted {
    typed: BTreeMap<String, String>,
    rationale: String,
    idempotency_key: String,
    problems: Vec<FieldProblem>,
    refusal: Option<ErrorBody>,
}

/// A refusal of the proposal, in words: the message, the reason codes with meaning and fix,
/// the policies that decided, and the help when there is one.
fn refusal_box(body: &ErrorBody) -> String {
    let help = body.help.as_deref().map_or_else(String::new, |help| {
        format!("<p class=\"help\">{}</p>", esc(help))
    });
    let mut html = refusal_html(body);
    if !help.is_empty()
        && let Some(at) = html.rfind("</div>")
    {
        html.insert_str(at, &help);
    }
    html.replacen("id=\"flash\"", "id=\"propose-refused\"", 1)
}

/// The form for `manifest`: its fields, the rationale and, unless the console is read-only,
/// the submit control.
fn form_html(viewer: &Viewer, manifest: &Manifest, posted: Option<&Posted>) -> String {
    let form = schema_form::form(manifest.input_schema.as_ref());
    let empty = BTreeMap::new();
    let typed = posted.map_or(&empty, |posted| &posted.typed);
    let problems = posted.map_or(&[][..], |posted| posted.problems.as_slice());
    let flagged = posted
        .and_then(|posted| posted.refusal.as_ref())
        .map(|refusal| schema_form::named_in(&refusal.message, &form))
        .unwrap_or_default();
    let fields = schema_form::render(&form, typed, problems, &flagged);
    let rationale = posted.map_or("", |posted| posted.rationale.as_str());
    let idempotency_key = posted
        .map(|posted| posted.idempotency_key.clone())
        .filter(|key| !key.is_empty())
        .or_else(|| random_hex(16).map(|key| format!("console-{key}")))
        .unwrap_or_default();
    let rationale_html = format!(
        "<div class=\"field\" id=\"wrap-rationale\"><label for=\"rationale\">Rationale <span class=\"required\">required</span></label><textarea id=\"rationale\" name=\"rationale\" rows=\"3\" required aria-required=\"true\" maxlength=\"2000\">{}</textarea><small class=\"hint\">Why this should happen; approvers read it.</small></div>",
        esc(rationale)
    );
    let problems_note = if problems.is_empty() {
        String::new()
    } else {
        format!(
            "<div class=\"refused\" id=\"form-problems\" role=\"alert\"><p><strong>Not proposed.</strong> {} could not be read; nothing was sent to the Engine.</p></div>",
            super::studio_state::plural(problems.len() as u64, "field", "fields")
        )
    };
    let refusal = posted
        .and_then(|posted| posted.refusal.as_ref())
        .map_or_else(String::new, refusal_box);
    let inner = format!(
        "<input type=\"hidden\" name=\"capability\" value=\"{capability}\"><input type=\"hidden\" name=\"idempotency_key\" value=\"{key}\">{fields}{rationale_html}",
        capability = esc(&manifest.id),
        key = esc(&idempotency_key),
    );
    let form = match &viewer.read_only {
        // The form is shown so people see what the capability asks, but it cannot be sent.
        Some(mode) => format!(
            "<div class=\"propose-form\" id=\"propose-form\"><p class=\"state-note read-only\" id=\"no-submit\" role=\"status\">{}</p><fieldset disabled>{inner}</fieldset></div>",
            match mode {
                ReadOnly::Configured => "The console is read-only (`server.console.read_only`): nothing can be proposed from it.".to_string(),
                ReadOnly::GlobalSwitch(reason) => format!("The global kill switch is on ({}): nothing can be proposed until it is off.", esc(reason)),
                ReadOnly::StoreDown(cause) => format!("brain's store is unreachable ({}): nothing can be proposed until it answers.", esc(cause)),
            }
        ),
        None if viewer.session_id.is_empty() => format!(
            "<div class=\"propose-form\" id=\"propose-form\"><p class=\"state-note read-only\" id=\"no-submit\" role=\"status\">This is a read-only view: sign in to propose.</p><fieldset disabled>{inner}</fieldset></div>"
        ),
        None => format!(
            "<form method=\"post\" action=\"{PATH}\" class=\"propose-form\" id=\"propose-form\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">{inner}<button type=\"submit\" id=\"propose\">Propose</button></form>",
            csrf = esc(&viewer.csrf),
        ),
    };
    format!(
        "<h2>{title}</h2>{facts}{refusal}{problems_note}{form}",
        title = esc(&manifest.title),
        facts = capability_facts(manifest),
    )
}

fn intro() -> String {
    "<p class=\"intro\">Propose an action on one of the studio's capabilities. The proposal is decided like one from the CLI or the API (policies, manifests, quotas, kill switches, the intake gate) and goes to the approval queue; every step is in the audit log.</p>".into()
}

/// The page: the picker, and the form of the chosen capability.
async fn render(
    state: &AppState,
    viewer: &Viewer,
    capability: Option<&str>,
    posted: Option<&Posted>,
) -> (StatusCode, String) {
    let mut body = intro();
    let choices = match choices(state, viewer).await {
        Ok(choices) => choices,
        Err(error) => {
            let status = if matches!(error, EngineError::Store(_)) {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            };
            body.push_str(&refusal_html(&ErrorBody::from_error(&error, false)));
            return (status, body);
        }
    };
    body.push_str(&picker_html(&choices, capability));
    let Some(capability) = capability.map(str::trim).filter(|id| !id.is_empty()) else {
        return (StatusCode::OK, body);
    };
    match choices
        .iter()
        .find(|choice| choice.manifest.id == capability)
    {
        Some(choice) if choice.explanation.decision.allowed => {
            body.push_str(&form_html(viewer, &choice.manifest, posted));
        }
        // A posted proposal shows the Engine's own refusal, with the facts of the moment.
        Some(_) if posted.is_some_and(|posted| posted.refusal.is_some()) => {
            if let Some(refusal) = posted.and_then(|posted| posted.refusal.as_ref()) {
                body.push_str(&refusal_box(refusal));
            }
        }
        Some(choice) => body.push_str(&format!(
            "<div class=\"refused\" id=\"propose-refused\" role=\"alert\"><p><strong>You may not propose <code>{}</code>.</strong></p><ul>{}</ul></div>",
            esc(&choice.manifest.id),
            reasons_html(&choice.explanation.decision.reasons)
        )),
        None => {
            // A refusal the Engine made (an unknown capability posted) says it in its own words.
            match posted.and_then(|posted| posted.refusal.as_ref()) {
                Some(refusal) => body.push_str(&refusal_box(refusal)),
                None => {
                    let suggestion = crate::diagnostic::did_you_mean(
                        capability,
                        choices.iter().map(|choice| choice.manifest.id.as_str()),
                    )
                    .map_or_else(String::new, |found| {
                        format!(
                            " Did you mean <a href=\"{PATH}?capability={0}\"><code>{1}</code></a>?",
                            url_encode(found),
                            esc(found)
                        )
                    });
                    body.push_str(&format!(
                        "<div class=\"refused\" id=\"propose-refused\" role=\"alert\"><p>No capability <code>{}</code> can be proposed: it is not declared, or it is a read.{suggestion}</p></div>",
                        esc(capability)
                    ));
                }
            }
        }
    }
    let status = posted.map_or(StatusCode::OK, |posted| {
        match posted.refusal.as_ref().map(|refusal| refusal.code.as_str()) {
            None if posted.problems.is_empty() => StatusCode::OK,
            None | Some("invalid_input") => StatusCode::UNPROCESSABLE_ENTITY,
            Some("denied")
                if posted
                    .refusal
                    .as_ref()
                    .is_some_and(|refusal| refusal.reason_codes == ["INPUT_INVALID"]) =>
            {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Some("denied") => StatusCode::FORBIDDEN,
            Some("store_unavailable") => StatusCode::SERVICE_UNAVAILABLE,
            Some("not_found") => StatusCode::NOT_FOUND,
            Some(_) => StatusCode::CONFLICT,
        }
    });
    (status, body)
}

/// `GET /proposals/new`.
pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(params): Query<NewParams>,
) -> Response {
    let banner = degraded(&state).await;
    let (status, body) = render(&state, &viewer, params.capability.as_deref(), None).await;
    (status, layout(&banner, &viewer, TITLE, PATH, &body)).into_response()
}

/// `POST /proposals/new`: the CSRF token and the read-only mode are checked by `Checked`
/// before the form is read.
pub(super) async fn post(
    State(state): State<AppState>,
    checked: Checked<Vec<(String, String)>>,
) -> Response {
    let viewer = &checked.viewer;
    let pairs = &checked.form;
    let value_of = |key: &str| {
        pairs
            .iter()
            .find(|(name, _)| name == key)
            .map_or_else(String::new, |(_, value)| value.clone())
    };
    let capability = value_of("capability").trim().to_string();
    let mut posted = Posted {
        typed: schema_form::typed(pairs),
        rationale: value_of("rationale"),
        idempotency_key: value_of("idempotency_key").trim().to_string(),
        problems: Vec::new(),
        refusal: None,
    };
    let manifest = state.engine.policy().manifest(&capability).cloned();
    let input = match &manifest {
        Some(manifest) => schema_form::read(
            &schema_form::form(manifest.input_schema.as_ref()),
            &posted.typed,
        ),
        // An unknown capability is the Engine's to refuse (and audit).
        None => Ok(serde_json::Value::Object(serde_json::Map::new())),
    };
    let result = match input {
        Err(problems) => {
            posted.problems = problems;
            None
        }
        Ok(input) => Some(
            state
                .engine
                .propose(
                    &viewer.caller,
                    &ProposeRequest {
                        capability: capability.clone(),
                        input,
                        rationale: posted.rationale.clone(),
                        idempotency_key: Some(posted.idempotency_key.clone())
                            .filter(|key| !key.is_empty()),
                        ..ProposeRequest::default()
                    },
                )
                .await,
        ),
    };
    match result {
        Some(Ok(view)) => {
            let message = format!(
                "proposed {}: {}",
                view.proposal.id,
                view.proposal.state.described()
            );
            state
                .sessions
                .set_flash(&*state.store, &viewer.session_id, Flash::Done(message))
                .await;
            Redirect::to(&format!("/proposals/{}", url_encode(&view.proposal.id))).into_response()
        }
        Some(Err(error)) => {
            if let EngineError::Store(cause) = &error {
                tracing::error!(cause = %cause, "store error proposing from the console");
            }
            posted.refusal = Some(ErrorBody::from_error(&error, false));
            respond(&state, viewer, &capability, &posted).await
        }
        None => respond(&state, viewer, &capability, &posted).await,
    }
}

async fn respond(state: &AppState, viewer: &Viewer, capability: &str, posted: &Posted) -> Response {
    let banner = degraded(state).await;
    let (status, body) = render(state, viewer, Some(capability), Some(posted)).await;
    (status, layout(&banner, viewer, TITLE, PATH, &body)).into_response()
}
