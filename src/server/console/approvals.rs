//! The console's Approvals page (`/approvals`): the proposal queue, waiting first, with each
//! proposal's age and time left, filtered by severity (a swarm's finding's, where the proposal
//! has one), risk tier, target system (the capability's `target`) and state.
//!
//! Filters are GET parameters (`?severity=high&target=firestore&state=pending_approval`), so a
//! view can be bookmarked; a value the page cannot use is named on the page and left out (the
//! page still renders, never a bare 400), and a filter that matches nothing says so with a link
//! that clears the filters.
//!
//! Architecture Invariant: this page decides nothing: the proposals are the Engine's answer for
//! the viewer, and the filters only choose which of them to show.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::drafts::{given, known_target, severity_filter};
use super::studio_state::{ago, plural};
use super::{AppState, Viewer, degraded, esc, layout, left, refusal_html, state_badge, url_encode};
use crate::capability::RiskTier;
use crate::engine::lifecycle::ProposalState;
use crate::engine::{ErrorBody, ProposalView};
use crate::store::{ProposalFilter, SwarmDraftFilter};
use crate::swarms::Severity;

const TITLE: &str = "Approvals";
const PATH: &str = "/approvals";
/// Proposals read for the page, newest first.
const PROPOSALS_READ: i64 = 500;
/// Swarm findings read to know proposals' severities.
const FINDINGS_READ: i64 = 2_000;

/// The page's GET parameters, as typed.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ApprovalParams {
    severity: Option<String>,
    risk: Option<String>,
    target: Option<String>,
    state: Option<String>,
}

/// Which states a filter keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
enum StateFilter {
    One(ProposalState),
    /// Draft, pending approval or approved: still waiting for someone.
    Open,
}

impl StateFilter {
    fn keeps(self, state: ProposalState) -> bool {
        match self {
            StateFilter::One(one) => one == state,
            StateFilter::Open => state.is_open(),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            StateFilter::One(state) => state.as_str(),
            StateFilter::Open => "open",
        }
    }
}

/// The filters the page applies, and the values it could not use.
#[derive(Debug, Default)]
struct Filters {
    severity: Option<Severity>,
    risk: Option<RiskTier>,
    target: Option<String>,
    state: Option<StateFilter>,
    problems: Vec<String>,
}

fn parse_risk(text: &str) -> Option<RiskTier> {
    [
        RiskTier::Low,
        RiskTier::Medium,
        RiskTier::High,
        RiskTier::Critical,
    ]
    .into_iter()
    .find(|tier| tier.as_str() == text)
}

impl Filters {
    fn parse(params: &ApprovalParams, targets: &BTreeSet<String>) -> Filters {
        let mut problems = Vec::new();
        let severity = severity_filter(given(&params.severity), &mut problems);
        let risk = given(&params.risk).and_then(|text| {
            let risk = parse_risk(&text);
            if risk.is_none() {
                problems.push(format!(
                    "`{text}` is not a risk tier (low, medium, high, critical): showing every tier"
                ));
            }
            risk
        });
        let target = known_target(given(&params.target), targets, &mut problems);
        let state = match given(&params.state).as_deref() {
            None | Some("all") => None,
            Some("open") => Some(StateFilter::Open),
            Some(text) => match ProposalState::parse(text) {
                Some(state) => Some(StateFilter::One(state)),
                None => {
                    problems.push(format!(
                        "`{text}` is not a state (open, all, {}): showing every state",
                        ProposalState::ALL.map(ProposalState::as_str).join(", ")
                    ));
                    None
                }
            },
        };
        Filters {
            severity,
            risk,
            target,
            state,
            problems,
        }
    }

    fn any(&self) -> bool {
        self.severity.is_some()
            || self.risk.is_some()
            || self.target.is_some()
            || self.state.is_some()
    }

    fn matches(&self, view: &ProposalView, severity: Option<&str>, target: Option<&str>) -> bool {
        self.severity
            .is_none_or(|wanted| severity == Some(wanted.as_str()))
            && self
                .risk
                .is_none_or(|wanted| view.risk_tier == wanted.as_str())
            && self
                .target
                .as_deref()
                .is_none_or(|wanted| target == Some(wanted))
            && self
                .state
                .is_none_or(|wanted| wanted.keeps(view.proposal.state))
    }

    /// The filters in words: `severity high, target firestore`.
    fn described(&self) -> String {
        let mut parts = Vec::new();
        if let Some(severity) = self.severity {
            parts.push(format!("severity <code>{}</code>", severity.as_str()));
        }
        if let Some(risk) = self.risk {
            parts.push(format!("risk tier <code>{}</code>", risk.as_str()));
        }
        if let Some(target) = &self.target {
            parts.push(format!("target <code>{}</code>", esc(target)));
        }
        if let Some(state) = self.state {
            parts.push(format!("state <code>{}</code>", state.as_str()));
        }
        parts.join(", ")
    }
}

fn option(value: &str, label: &str, selected: bool) -> String {
    format!(
        "<option value=\"{}\"{}>{}</option>",
        esc(value),
        if selected { " selected" } else { "" },
        esc(label)
    )
}

fn filters_form(filters: &Filters, targets: &BTreeSet<String>) -> String {
    let severities: String = Severity::ALL
        .iter()
        .rev()
        .map(|severity| {
            option(
                severity.as_str(),
                severity.as_str(),
                filters.severity == Some(*severity),
            )
        })
        .collect();
    let risks: String = [
        RiskTier::Low,
        RiskTier::Medium,
        RiskTier::High,
        RiskTier::Critical,
    ]
    .iter()
    .map(|tier| option(tier.as_str(), tier.as_str(), filters.risk == Some(*tier)))
    .collect();
    let target_options: String = targets
        .iter()
        .map(|target| option(target, target, filters.target.as_deref() == Some(target)))
        .collect();
    let states: String = std::iter::once(StateFilter::Open)
        .chain(ProposalState::ALL.into_iter().map(StateFilter::One))
        .map(|state| {
            option(
                state.as_str(),
                &state.as_str().replace('_', " "),
                filters.state == Some(state),
            )
        })
        .collect();
    let problems: String = filters
        .problems
        .iter()
        .map(|problem| format!("<li>{}</li>", esc(problem)))
        .collect();
    let problems = if problems.is_empty() {
        String::new()
    } else {
        format!(
            "<ul class=\"filter-problems warn\" id=\"filter-problems\" role=\"alert\">{problems}</ul>"
        )
    };
    format!(
        "<form method=\"get\" action=\"{PATH}\" class=\"filters\" id=\"approval-filters\" aria-label=\"Filter the proposals\">\
         <label for=\"filter-severity\">Severity</label><select id=\"filter-severity\" name=\"severity\"><option value=\"\">any</option>{severities}</select>\
         <label for=\"filter-risk\">Risk tier</label><select id=\"filter-risk\" name=\"risk\"><option value=\"\">any</option>{risks}</select>\
         <label for=\"filter-target\">Target</label><select id=\"filter-target\" name=\"target\"><option value=\"\">any</option>{target_options}</select>\
         <label for=\"filter-state\">State</label><select id=\"filter-state\" name=\"state\"><option value=\"\">any</option>{states}</select>\
         <button type=\"submit\">Filter</button> <a href=\"{PATH}\" id=\"clear-filters\">Clear filters</a></form>{problems}"
    )
}

fn severity_html(severity: Option<&str>) -> String {
    severity.map_or_else(
        || "<span class=\"muted\">—</span>".to_string(),
        |severity| {
            format!(
                "<span class=\"badge severity severity-{0}\">{0}</span>",
                esc(severity)
            )
        },
    )
}

fn table(
    views: &[&ProposalView],
    severities: &BTreeMap<String, String>,
    targets: &BTreeMap<String, String>,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    if views.is_empty() {
        return "<p>None.</p>".into();
    }
    let rows: String = views
        .iter()
        .map(|view| {
            let proposal = &view.proposal;
            format!(
                "<tr data-proposal=\"{id_text}\"><td><a href=\"/proposals/{id}\" class=\"proposal\">{id_text}</a></td><td>{state}</td><td><code>{capability}</code><br><small>{title}</small></td><td><code>{target}</code></td><td>{severity}</td><td class=\"tier-{tier}\">{tier}</td><td>{owner}</td><td>{proposer}</td><td>{valid} of {required}</td><td class=\"age\"><time datetime=\"{created}\">{age}</time></td><td>{left}</td></tr>",
                id = url_encode(&proposal.id),
                id_text = esc(&proposal.id),
                state = state_badge(proposal.state),
                capability = esc(&proposal.capability),
                title = esc(&view.capability_title),
                target = esc(targets.get(&proposal.capability).map_or("?", String::as_str)),
                severity = severity_html(severities.get(&proposal.id).map(String::as_str)),
                tier = esc(&view.risk_tier),
                owner = esc(view.capability_owner.as_deref().unwrap_or("—")),
                proposer = esc(&proposal.proposer),
                valid = view.valid_approvals,
                required = view.required_approvals,
                created = esc(&proposal.created_at),
                age = esc(&ago(&proposal.created_at, now)),
                left = if proposal.state.is_open() { esc(&left(&proposal.expires_at)) } else { String::new() },
            )
        })
        .collect();
    format!(
        "<table class=\"list\"><thead><tr><th>Proposal</th><th>State</th><th>Capability</th><th>Target</th><th>Severity</th><th>Risk</th><th>Owner</th><th>Proposer</th><th>Approvals</th><th>Age</th><th>Time left</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

/// `GET /approvals`.
pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(params): Query<ApprovalParams>,
) -> Response {
    let banner = degraded(&state).await;
    let manifests = &state.engine.policy().manifests;
    let target_of: BTreeMap<String, String> = manifests
        .values()
        .map(|manifest| (manifest.id.clone(), manifest.target.clone()))
        .collect();
    let targets: BTreeSet<String> = target_of.values().cloned().collect();
    let filters = Filters::parse(&params, &targets);
    let list = state
        .engine
        .proposals(
            &viewer.caller,
            &ProposalFilter {
                state: match filters.state {
                    Some(StateFilter::One(state)) => Some(state),
                    _ => None,
                },
                limit: PROPOSALS_READ,
                ..ProposalFilter::default()
            },
        )
        .await;
    let new_link = "<p><a href=\"/proposals/new\" id=\"new-proposal\">New proposal</a></p>";
    let body = match list {
        Err(error) => refusal_html(&ErrorBody::from_error(&error, false)),
        Ok(list) => {
            // A swarm's draft carries its finding's severity; other proposals have none.
            let severities: BTreeMap<String, String> = state
                .engine
                .swarm_drafts(
                    &viewer.caller,
                    &SwarmDraftFilter {
                        limit: FINDINGS_READ,
                        ..SwarmDraftFilter::default()
                    },
                )
                .await
                .map(|drafts| {
                    drafts
                        .into_iter()
                        .map(|draft| (draft.finding.proposal_id, draft.finding.severity))
                        .collect()
                })
                .unwrap_or_default();
            let now = crate::clock::now();
            let mut body = format!("{new_link}{}", filters_form(&filters, &targets));
            let matching: Vec<&ProposalView> = list
                .iter()
                .filter(|view| {
                    filters.matches(
                        view,
                        severities.get(&view.proposal.id).map(String::as_str),
                        target_of.get(&view.proposal.capability).map(String::as_str),
                    )
                })
                .collect();
            if !filters.any() {
                let (waiting, rest): (Vec<&ProposalView>, Vec<&ProposalView>) = matching
                    .iter()
                    .partition(|view| view.proposal.state == ProposalState::PendingApproval);
                body.push_str(&format!(
                    "<h2>Waiting for approval</h2>{}<h2>Recent</h2>{}",
                    table(&waiting, &severities, &target_of, now),
                    table(&rest, &severities, &target_of, now)
                ));
            } else if matching.is_empty() {
                body.push_str(&format!(
                    "<p class=\"state-note state-empty\" id=\"no-matches\" role=\"status\">No proposals match {}{}. <a href=\"{PATH}\">Clear filters</a></p>",
                    filters.described(),
                    if filters.severity.is_some() {
                        " (only a swarm's drafts have a severity)"
                    } else {
                        ""
                    }
                ));
            } else {
                body.push_str(&format!(
                    "<p id=\"match-count\" role=\"status\">{} {} {}, newest first{}.</p>{}",
                    plural(matching.len() as u64, "proposal", "proposals"),
                    if matching.len() == 1 {
                        "matches"
                    } else {
                        "match"
                    },
                    filters.described(),
                    if list.len() as i64 >= PROPOSALS_READ {
                        format!(" (of the newest {PROPOSALS_READ})")
                    } else {
                        String::new()
                    },
                    table(&matching, &severities, &target_of, now)
                ));
            }
            body
        }
    };
    layout(&banner, &viewer, TITLE, PATH, &body).into_response()
}
