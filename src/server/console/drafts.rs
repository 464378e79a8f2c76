//! The console's Drafts page (`/drafts`) and the cockpit's Swarms panel: what the swarms
//! proposed, rendered as people read it, for staff to approve or reject.
//!
//! A draft with a post (marketing) is a preview of the post as it would read, with its channel,
//! template, source records, what to check before publishing and its [`DraftStatus`]; any other
//! draft (ops) is a recommendation card: title, severity, confidence, rationale, recommendation
//! and its evidence, each pointer linked to the document in the Firestore console when it came
//! from Firestore. Drafts are grouped by swarm and severity and filtered by swarm, rule,
//! severity, target system (the draft capability's `target`) and outcome (GET parameters; a
//! value the page cannot use is named, a filter matching nothing says so); the per-rule
//! acceptance rates sit below, so a noisy rule is visible. Approve and reject post to the proposal routes every other page uses, which
//! come back here (`return_to`, a path on this console only).
//!
//! Every state is said in words: no swarm configured, no drafts yet (and how to make some), a
//! swarm that cannot run (and why), the store unavailable (the page names it). Action controls
//! appear only for a signed-in person while the `global` kill switch is off; a wall display
//! (`server.auth.mode: none`) only looks.
//!
//! Architecture Invariant: this page decides nothing. What a draft is comes from its proposal's
//! input, what became of it from [`DraftOutcome::of`] (the same verdict the acceptance rates
//! count), and every action is the Engine's decision through the proposal routes.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::studio_state::{ago, plural, time_html};
use super::{AppState, Viewer, degraded, esc, layout, left, refusal_html, url_encode};
use crate::engine::lifecycle::ProposalState;
use crate::engine::swarms::{Disposition, DraftOutcome, dispositions};
use crate::engine::{EngineError, ErrorBody};
use crate::store::{Proposal, SwarmDraft, SwarmDraftFilter};
use crate::swarms::marketing::DraftStatus;
use crate::swarms::runtime::SwarmStatus;
use crate::swarms::{Evidence, Finding, Post, Severity, SwarmInfo};

/// Drafts read for the page: the list and the acceptance rates are both computed from these.
const DRAFTS_READ: i64 = 2_000;
/// Cards shown at most; a narrower filter shows the rest.
const CARDS_MAX: usize = 100;

const TITLE: &str = "Drafts";
const ACTIVE: &str = "/drafts";

/// The page's GET parameters, as typed.
#[derive(Debug, Default, Deserialize)]
pub(super) struct DraftParams {
    swarm: Option<String>,
    rule: Option<String>,
    severity: Option<String>,
    /// The system the drafts' capability acts on (its manifest's `target`).
    target: Option<String>,
    state: Option<String>,
}

/// The filters the page applies, and what it could not read.
#[derive(Debug)]
struct Filters {
    swarm: Option<String>,
    rule: Option<String>,
    severity: Option<Severity>,
    target: Option<String>,
    /// `None`: every outcome.
    outcome: Option<DraftOutcome>,
    problems: Vec<String>,
}

/// The system each swarm's drafts act on: its draft capability's `target`.
/// A filter's value as typed: trimmed, and none when empty.
pub(super) fn given(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_string)
}

/// `text` as a severity filter; a value that is none is ignored, and `problems` says so.
pub(super) fn severity_filter(
    text: Option<String>,
    problems: &mut Vec<String>,
) -> Option<Severity> {
    let text = text?;
    let severity = Severity::parse(&text);
    if severity.is_none() {
        problems.push(format!(
            "`{text}` is not a severity (low, medium, high): showing every severity"
        ));
    }
    severity
}

/// `target` as a filter when a capability acts on it; otherwise it is ignored, and `problems`
/// names the targets there are.
pub(super) fn known_target(
    target: Option<String>,
    targets: &BTreeSet<String>,
    problems: &mut Vec<String>,
) -> Option<String> {
    target.filter(|target| {
        let known = targets.contains(target);
        if !known {
            problems.push(format!(
                "no capability acts on `{target}` (the targets are {}): showing every target",
                targets
                    .iter()
                    .map(|target| format!("`{target}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        known
    })
}

fn swarm_targets(state: &AppState) -> BTreeMap<&'static str, String> {
    crate::swarms::SWARMS
        .iter()
        .filter_map(|info| {
            state
                .engine
                .policy()
                .manifest(info.draft_capability)
                .map(|manifest| (info.name, manifest.target.clone()))
        })
        .collect()
}

impl Filters {
    fn parse(params: &DraftParams, targets: &BTreeSet<String>) -> Filters {
        let mut problems = Vec::new();
        let swarm = given(&params.swarm).filter(|name| {
            let known = crate::swarms::info(name).is_some();
            if !known {
                problems.push(format!(
                    "brain has no swarm named `{name}`: showing every swarm"
                ));
            }
            known
        });
        let rule = given(&params.rule).filter(|rule| {
            let known = crate::swarms::SWARMS
                .iter()
                .filter(|info| swarm.as_deref().is_none_or(|name| name == info.name))
                .any(|info| info.rules.iter().any(|each| each.id == rule));
            if !known {
                problems.push(format!("no rule `{rule}` to filter by: showing every rule"));
            }
            known
        });
        let severity = severity_filter(given(&params.severity), &mut problems);
        let target = known_target(given(&params.target), targets, &mut problems);
        let outcome = match given(&params.state).as_deref() {
            None | Some("open") => Some(DraftOutcome::Open),
            Some("all") => None,
            Some(text) => DraftOutcome::parse(text).or_else(|| {
                problems.push(format!(
                    "`{text}` is not a state (open, accepted, rejected, expired, all): showing open drafts"
                ));
                Some(DraftOutcome::Open)
            }),
        };
        Filters {
            swarm,
            rule,
            severity,
            target,
            outcome,
            problems,
        }
    }

    fn matches(&self, draft: &SwarmDraft, targets: &BTreeMap<&str, String>) -> bool {
        self.swarm
            .as_deref()
            .is_none_or(|swarm| draft.finding.swarm == swarm)
            && self
                .rule
                .as_deref()
                .is_none_or(|rule| draft.finding.rule == rule)
            && self
                .severity
                .is_none_or(|severity| draft.finding.severity == severity.as_str())
            && self.target.as_deref().is_none_or(|target| {
                targets
                    .get(draft.finding.swarm.as_str())
                    .is_some_and(|each| each == target)
            })
            && self
                .outcome
                .is_none_or(|outcome| DraftOutcome::of(draft) == outcome)
    }

    /// This page with these filters: where an action comes back to.
    fn href(&self) -> String {
        let mut query = Vec::new();
        if let Some(swarm) = &self.swarm {
            query.push(format!("swarm={}", url_encode(swarm)));
        }
        if let Some(rule) = &self.rule {
            query.push(format!("rule={}", url_encode(rule)));
        }
        if let Some(severity) = self.severity {
            query.push(format!("severity={}", severity.as_str()));
        }
        if let Some(target) = &self.target {
            query.push(format!("target={}", url_encode(target)));
        }
        match self.outcome {
            Some(DraftOutcome::Open) => {}
            Some(outcome) => query.push(format!("state={}", outcome.as_str())),
            None => query.push("state=all".into()),
        }
        if query.is_empty() {
            ACTIVE.to_string()
        } else {
            format!("{ACTIVE}?{}", query.join("&"))
        }
    }

    /// The filters besides the state, in words: `swarm ops, severity high`.
    fn described(&self) -> String {
        let mut parts = Vec::new();
        if let Some(swarm) = &self.swarm {
            parts.push(format!("swarm <code>{}</code>", esc(swarm)));
        }
        if let Some(rule) = &self.rule {
            parts.push(format!("rule <code>{}</code>", esc(rule)));
        }
        if let Some(severity) = self.severity {
            parts.push(format!("severity <code>{}</code>", severity.as_str()));
        }
        if let Some(target) = &self.target {
            parts.push(format!("target <code>{}</code>", esc(target)));
        }
        parts.join(", ")
    }

    /// The list's heading words: `open drafts`, `rejected drafts`, `drafts`.
    fn noun(&self) -> &'static str {
        match self.outcome {
            Some(DraftOutcome::Open) => "open",
            Some(DraftOutcome::Accepted) => "accepted",
            Some(DraftOutcome::Rejected) => "rejected",
            Some(DraftOutcome::Expired) => "expired",
            Some(DraftOutcome::Cancelled) => "cancelled",
            None => "",
        }
    }
}

/// Where a console form asks to go back to, when it is a path on this console: it starts with
/// one `/` and holds no backslash, whitespace or control character (browsers read `/\host` as
/// `//host` and drop tabs and newlines, so `/<tab>/host` would leave the site too).
pub(super) fn local_path(requested: &str) -> Option<&str> {
    let rest = requested.strip_prefix('/')?;
    let leaves = rest.starts_with('/')
        || requested
            .chars()
            .any(|c| c == '\\' || c.is_whitespace() || c.is_control());
    (!leaves && requested.len() <= 2_048).then_some(requested)
}

/// Where an action goes next: the form's `return_to` when it is a local console path (checked
/// before anything is acted on), otherwise `default`; `Err` says why the form is refused.
pub(super) fn return_to(requested: Option<&str>, default: String) -> Result<String, &'static str> {
    match requested.filter(|requested| !requested.is_empty()) {
        None => Ok(default),
        Some(requested) => local_path(requested)
            .map(str::to_string)
            .ok_or("`return_to` must be a path on this console, such as `/drafts`"),
    }
}

/// Whether the viewer may see action controls, and if not, why (in words, for the page).
async fn actions_allowed(state: &AppState, viewer: &Viewer) -> Result<(), String> {
    if viewer.session_id.is_empty() {
        return Err("This is a read-only view: sign in to approve or reject drafts.".into());
    }
    match state.engine.active_kill_switches().await {
        Ok(active) if active.contains("global") => Err(
            "The global kill switch is on: drafts cannot be approved or rejected until it is off."
                .into(),
        ),
        Ok(_) => Ok(()),
        Err(_) => Err(
            "Kill switches cannot be read (treated as on): drafts cannot be approved or rejected now."
                .into(),
        ),
    }
}

/// The configured swarms' standing; `Err` names why it could not be read.
async fn statuses(state: &AppState) -> Result<Vec<SwarmStatus>, String> {
    crate::swarms::runtime::statuses(&state.engine, &state.swarms.config, &state.swarms.files)
        .await
        .map_err(|error| {
            if let EngineError::Store(cause) = &error {
                tracing::error!(cause = %cause, "store error reading the swarms' standing");
            }
            ErrorBody::from_error(&error, false).message
        })
}

/// A swarm's order on the page: catalogue order, unknown names last.
fn swarm_order(name: &str) -> usize {
    crate::swarms::SWARMS
        .iter()
        .position(|info| info.name == name)
        .unwrap_or(usize::MAX)
}

fn swarm_title(name: &str) -> &str {
    crate::swarms::info(name).map_or(name, |info| info.title)
}

fn rule_title(swarm: &str, rule: &str) -> Option<&'static str> {
    crate::swarms::info(swarm)?
        .rules
        .iter()
        .find(|each| each.id == rule)
        .map(|each| each.title)
}

fn severity_badge(severity: &str) -> String {
    format!(
        "<span class=\"badge severity severity-{0}\">{0}</span>",
        esc(severity)
    )
}

fn percent(fraction: f64) -> String {
    format!("{:.0}%", fraction * 100.0)
}

/// `studio`, `batches/b-1`: a subject as a reader scans it.
fn subject_html(subject: &str) -> String {
    format!("<code class=\"subject\">{}</code>", esc(subject))
}

/// Text with `backticked` names (as brain's messages write them) as HTML: escaped, each name
/// in a `<code>`.
fn words(text: &str) -> String {
    let parts: Vec<&str> = text.split('`').collect();
    if parts.len().is_multiple_of(2) {
        // An odd number of backticks: no pairs to trust.
        return esc(text);
    }
    parts
        .iter()
        .enumerate()
        .map(|(index, part)| {
            if index % 2 == 1 {
                format!("<code>{}</code>", esc(part))
            } else {
                esc(part)
            }
        })
        .collect()
}

/// Open drafts per swarm.
fn open_by_swarm(drafts: &[SwarmDraft]) -> BTreeMap<String, u64> {
    let mut open = BTreeMap::new();
    for draft in drafts
        .iter()
        .filter(|draft| DraftOutcome::of(draft) == DraftOutcome::Open)
    {
        *open.entry(draft.finding.swarm.clone()).or_default() += 1;
    }
    open
}

// ---- Evidence ----------------------------------------------------------------------------

/// The Firestore console's page of the document at `path` (`batches/b-2026-041`).
pub(super) fn firestore_console_url(project_id: &str, database: &str, path: &str) -> String {
    let database = if database == "(default)" {
        "-default-".to_string()
    } else {
        url_encode(database)
    };
    let document: String = path
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(|segment| format!("~2F{}", url_encode(segment)))
        .collect();
    format!(
        "https://console.firebase.google.com/project/{}/firestore/databases/{database}/data/{document}",
        url_encode(project_id)
    )
}

/// A value as it reads in a sentence: text as it is, anything else as compact JSON, cut short.
fn value_text(value: &serde_json::Value) -> String {
    let text = match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Null => "(none)".into(),
        other => other.to_string(),
    };
    if text.chars().count() > 120 {
        format!("{}…", text.chars().take(119).collect::<String>())
    } else {
        text
    }
}

fn evidence_html(evidence: &[Evidence], firestore: Option<(&str, &str)>) -> String {
    if evidence.is_empty() {
        return String::new();
    }
    let items: String = evidence
        .iter()
        .map(|pointer| {
            let path = match (pointer.source.as_str(), firestore) {
                ("firestore", Some((project_id, database))) => format!(
                    "<a href=\"{}\" rel=\"noreferrer\" title=\"Open the document in the Firestore console\">{}</a>",
                    esc(&firestore_console_url(project_id, database, &pointer.path)),
                    esc(&pointer.path)
                ),
                (source, _) => format!(
                    "<span class=\"source\">{}</span> <code>{}</code>",
                    esc(source),
                    esc(&pointer.path)
                ),
            };
            let updated = pointer
                .update_time
                .as_deref()
                .map_or_else(String::new, |at| format!(" <small>updated {}</small>", time_html(at)));
            format!(
                "<li>{path}: <code class=\"field\">{}</code> = <code class=\"value\">{}</code>{updated}</li>",
                esc(&pointer.field),
                esc(&value_text(&pointer.value))
            )
        })
        .collect();
    format!("<p class=\"label\">Evidence</p><ul class=\"evidence\">{items}</ul>")
}

// ---- Cards -------------------------------------------------------------------------------

/// What a card needs besides its draft.
struct CardContext<'a> {
    firestore: Option<(&'a str, &'a str)>,
    /// Action controls, with the CSRF token and where to come back to.
    actions: Option<(&'a str, &'a str)>,
    now: chrono::DateTime<chrono::Utc>,
}

fn channel_title(channel: &str) -> String {
    match channel {
        "newsletter" => "Newsletter".into(),
        "instagram" => "Instagram".into(),
        "website" => "Website".into(),
        other => other.to_string(),
    }
}

fn post_html(post: &Post, status: DraftStatus) -> String {
    // The body as the post would read: its own line breaks, nothing added.
    let body = esc(&post.body).replace('\n', "<br>");
    let refs = if post.source_refs.is_empty() {
        "none".to_string()
    } else {
        post.source_refs
            .iter()
            .map(|reference| format!("<code>{}</code>", esc(reference)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let notes = if post.confidence_notes.is_empty() {
        "<dd>nothing noted</dd>".to_string()
    } else {
        let items: String = post
            .confidence_notes
            .iter()
            .map(|note| format!("<li>{}</li>", esc(note)))
            .collect();
        format!("<dd><ul class=\"notes\">{items}</ul></dd>")
    };
    format!(
        "<figure class=\"post-preview channel-{channel_class}\"><figcaption><span class=\"channel\">{channel} post</span> <span class=\"badge draft-status status-{status}\">{status_words}</span></figcaption><blockquote class=\"post-body\">{body}</blockquote></figure>\
         <dl class=\"post-facts\"><dt>Template</dt><dd><code>{template}</code> v{version}</dd><dt>Source records</dt><dd>{refs}</dd><dt>Check before publishing</dt>{notes}</dl>",
        channel_class = esc(&post.channel),
        channel = esc(&channel_title(&post.channel)),
        status = status.as_str(),
        status_words = status.as_str().replace('_', " "),
        template = esc(&post.template.id),
        version = post.template.version,
    )
}

/// Where the draft stands, in words: time left while open, who decided and why otherwise.
fn standing_html(draft: &SwarmDraft, proposal: Option<&Proposal>) -> String {
    let outcome = DraftOutcome::of(draft);
    let by = |verb: &str| {
        let who = draft
            .closed_by
            .as_deref()
            .map_or_else(String::new, |who| format!(" by {}", esc(who)));
        let why = draft
            .closed_reason
            .as_deref()
            .filter(|reason| !reason.is_empty())
            .map_or_else(String::new, |reason| {
                format!(": <q class=\"reason\">{}</q>", esc(reason))
            });
        format!("{verb}{who}{why}")
    };
    let text = match outcome {
        DraftOutcome::Open => match proposal {
            Some(proposal) => format!("waiting for review, {}", esc(&left(&proposal.expires_at))),
            None => "waiting for review".into(),
        },
        DraftOutcome::Accepted => format!(
            "accepted ({})",
            esc(&draft.state.as_str().replace('_', " "))
        ),
        DraftOutcome::Rejected => by("rejected"),
        DraftOutcome::Expired => "expired before anyone decided".into(),
        DraftOutcome::Cancelled => by("cancelled"),
    };
    format!(
        "<span class=\"outcome outcome-{}\">{text}</span>",
        outcome.as_str()
    )
}

fn actions_html(draft: &SwarmDraft, is_post: bool, csrf: &str, back: &str) -> String {
    if draft.state != ProposalState::PendingApproval {
        return String::new();
    }
    let id = esc(&draft.finding.proposal_id);
    let path = url_encode(&draft.finding.proposal_id);
    let hidden = format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"return_to\" value=\"{}\">",
        esc(csrf),
        esc(back)
    );
    let approve = if is_post {
        "Approve for publishing"
    } else {
        "Approve"
    };
    format!(
        "<div class=\"draft-actions\">\
         <form method=\"post\" action=\"/proposals/{path}/approve\" class=\"inline\">{hidden}<button type=\"submit\" id=\"approve-{id}\" class=\"approve\" aria-describedby=\"title-{id}\">{approve}</button></form>\
         <form method=\"post\" action=\"/proposals/{path}/reject\" class=\"inline reject\">{hidden}<label for=\"reason-{id}\">Reason</label><input type=\"text\" id=\"reason-{id}\" name=\"reason\" required maxlength=\"500\" placeholder=\"why not\"><button type=\"submit\" id=\"reject-{id}\" class=\"danger\" aria-describedby=\"title-{id}\">Reject</button></form>\
         </div>"
    )
}

fn card_html(draft: &SwarmDraft, proposal: Option<&Proposal>, context: &CardContext<'_>) -> String {
    let finding_record = &draft.finding;
    let finding: Option<Finding> =
        proposal.and_then(|proposal| serde_json::from_value(proposal.input.clone()).ok());
    let id = esc(&finding_record.proposal_id);
    let outcome = DraftOutcome::of(draft);
    let is_post = finding
        .as_ref()
        .is_some_and(|finding| finding.post.is_some());
    let title = finding.as_ref().map_or_else(
        || {
            rule_title(&finding_record.swarm, &finding_record.rule)
                .unwrap_or("Draft")
                .to_string()
        },
        |finding| finding.title.clone(),
    );
    let mut html = format!(
        "<article class=\"card draft-card {kind}\" id=\"draft-{id}\" data-swarm=\"{swarm}\" data-rule=\"{rule}\" data-severity=\"{severity}\" data-outcome=\"{outcome}\">\
         <p class=\"draft-meta\">{badge} <code>{rule}</code> <span class=\"confidence\">{confidence} confident</span></p>\
         <h4 id=\"title-{id}\">{title}</h4><p class=\"draft-subject\">about {subject}</p>",
        kind = if is_post {
            "draft-post"
        } else {
            "draft-recommendation"
        },
        swarm = esc(&finding_record.swarm),
        rule = esc(&finding_record.rule),
        severity = esc(&finding_record.severity),
        outcome = outcome.as_str(),
        badge = severity_badge(&finding_record.severity),
        confidence = percent(finding_record.confidence),
        title = esc(&title),
        subject = subject_html(&finding_record.subject),
    );
    match &finding {
        None => html.push_str(
            "<p class=\"problem\">The draft's text is not available (pruned by retention, or recorded in a shape this build cannot read); its proposal has what remains.</p>",
        ),
        Some(finding) => match &finding.post {
            Some(post) => {
                html.push_str(&post_html(post, DraftStatus::of(draft.state, draft.approved)));
                html.push_str(&format!(
                    "<p class=\"rationale\"><span class=\"label\">Why</span> {}</p>",
                    esc(&finding.rationale)
                ));
            }
            None => {
                html.push_str(&format!(
                    "<p class=\"rationale\"><span class=\"label\">Why</span> {}</p><p class=\"recommendation\"><span class=\"label\">Recommendation</span> {}</p>",
                    esc(&finding.rationale),
                    esc(&finding.recommendation)
                ));
                html.push_str(&evidence_html(&finding.evidence, context.firestore));
            }
        },
    }
    html.push_str(&format!(
        "<p class=\"draft-foot\"><a href=\"/proposals/{path}\">{id}</a> · proposed {proposed} · {standing}</p>",
        path = url_encode(&finding_record.proposal_id),
        proposed = esc(&ago(&finding_record.created_at, context.now)),
        standing = standing_html(draft, proposal),
    ));
    if let Some((csrf, back)) = context.actions {
        html.push_str(&actions_html(draft, is_post, csrf, back));
    }
    html.push_str("</article>");
    html
}

// ---- The page ----------------------------------------------------------------------------

fn error_state(state_banner: &[String], viewer: &Viewer, error: &EngineError) -> Response {
    let body = ErrorBody::from_error(error, false);
    let (status, note) = match error {
        EngineError::Store(cause) => {
            tracing::error!(cause = %cause, "store error on the Drafts page");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "<section class=\"state-note state-error\" id=\"drafts-error\" role=\"alert\"><h2>Drafts cannot be read</h2><p>{}.</p><p>brain keeps the swarms' drafts in its store; until it answers, no draft can be shown, approved or rejected. The swarms' own runs stop too: nothing is proposed while the store is down.</p></section>",
                    esc(&body.message)
                ),
            )
        }
        _ => (
            StatusCode::OK,
            format!(
                "<section class=\"state-note state-error\" id=\"drafts-error\"><h2>Drafts are not shown to you</h2>{}</section>",
                refusal_html(&body)
            ),
        ),
    };
    (status, layout(state_banner, viewer, TITLE, ACTIVE, &note)).into_response()
}

/// Notes for swarms that cannot run, or whose last run did not complete.
fn swarm_notes(statuses: &[SwarmStatus], open: &BTreeMap<String, u64>) -> String {
    let mut html = String::new();
    for status in statuses {
        let name = esc(&status.name);
        if let Some(problem) = &status.problem {
            let still_open = match open.get(&status.name).copied().unwrap_or(0) {
                0 => String::new(),
                count => format!(
                    "; its {} can still be reviewed",
                    plural(count, "open draft", "open drafts")
                ),
            };
            html.push_str(&format!(
                "<section class=\"state-note state-partial\" id=\"swarm-{name}-cannot-run\" role=\"status\"><h2>{title} (<code>{name}</code>) cannot run</h2><p>{}.</p><p>It proposes nothing until this is fixed{still_open}.</p></section>",
                words(problem),
                title = esc(&status.title),
            ));
        } else if let Some(run) = status
            .last_run
            .as_ref()
            .filter(|run| run.outcome != "completed")
        {
            html.push_str(&format!(
                "<section class=\"state-note state-partial\" id=\"swarm-{name}-last-run\" role=\"status\"><h2>The last run of {title} (<code>{name}</code>) was {outcome}</h2><p>{}</p></section>",
                last_run_problem(run),
                title = esc(&status.title),
                outcome = esc(&run.outcome),
            ));
        }
    }
    html
}

/// Why a run did not complete: its reason codes and problem, in words.
fn last_run_problem(run: &crate::store::SwarmRunRecord) -> String {
    let reasons: Vec<String> = run.summary["reasons"]
        .as_array()
        .map(|reasons| {
            reasons
                .iter()
                .filter_map(|code| code.as_str())
                .map(|code| format!("<code>{}</code>", esc(code)))
                .collect()
        })
        .unwrap_or_default();
    let problem = run.summary["problem"]
        .as_str()
        .map_or_else(String::new, words);
    match (reasons.is_empty(), problem.is_empty()) {
        (true, true) => "no reason was recorded".into(),
        (true, false) => problem,
        (false, true) => reasons.join(", "),
        (false, false) => format!("{} — {problem}", reasons.join(", ")),
    }
}

fn filters_form(
    filters: &Filters,
    configured: &[SwarmStatus],
    targets: &BTreeSet<String>,
) -> String {
    let selected = |on: bool| if on { " selected" } else { "" };
    let names: BTreeSet<&str> = configured
        .iter()
        .map(|status| status.name.as_str())
        .chain(filters.swarm.as_deref())
        .collect();
    let mut swarms: Vec<&SwarmInfo> = crate::swarms::SWARMS
        .iter()
        .copied()
        .filter(|info| names.contains(info.name))
        .collect();
    if swarms.is_empty() {
        swarms = crate::swarms::SWARMS.to_vec();
    }
    let swarm_options: String = swarms
        .iter()
        .map(|info| {
            format!(
                "<option value=\"{0}\"{1}>{2} ({0})</option>",
                info.name,
                selected(filters.swarm.as_deref() == Some(info.name)),
                esc(info.title)
            )
        })
        .collect();
    let rule_options: String = swarms
        .iter()
        .map(|info| {
            let options: String = info
                .rules
                .iter()
                .map(|rule| {
                    format!(
                        "<option value=\"{0}\"{1}>{2}</option>",
                        rule.id,
                        selected(filters.rule.as_deref() == Some(rule.id)),
                        esc(rule.title)
                    )
                })
                .collect();
            format!(
                "<optgroup label=\"{}\">{options}</optgroup>",
                esc(info.title)
            )
        })
        .collect();
    let severity_options: String = Severity::ALL
        .iter()
        .rev()
        .map(|severity| {
            format!(
                "<option value=\"{0}\"{1}>{0}</option>",
                severity.as_str(),
                selected(filters.severity == Some(*severity))
            )
        })
        .collect();
    let target_options: String = targets
        .iter()
        .map(|target| {
            format!(
                "<option value=\"{0}\"{1}>{0}</option>",
                esc(target),
                selected(filters.target.as_deref() == Some(target.as_str()))
            )
        })
        .collect();
    let state_options: String = [
        (Some(DraftOutcome::Open), "open"),
        (Some(DraftOutcome::Accepted), "accepted"),
        (Some(DraftOutcome::Rejected), "rejected"),
        (Some(DraftOutcome::Expired), "expired"),
        (None, "all"),
    ]
    .iter()
    .map(|(outcome, value)| {
        format!(
            "<option value=\"{value}\"{}>{value}</option>",
            selected(filters.outcome == *outcome)
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
        format!("<ul class=\"filter-problems warn\" id=\"filter-problems\">{problems}</ul>")
    };
    format!(
        "<form method=\"get\" action=\"/drafts\" class=\"filters\" id=\"draft-filters\" aria-label=\"Filter the drafts\">\
         <label for=\"filter-swarm\">Swarm</label><select id=\"filter-swarm\" name=\"swarm\"><option value=\"\">every swarm</option>{swarm_options}</select>\
         <label for=\"filter-rule\">Rule</label><select id=\"filter-rule\" name=\"rule\"><option value=\"\">every rule</option>{rule_options}</select>\
         <label for=\"filter-severity\">Severity</label><select id=\"filter-severity\" name=\"severity\"><option value=\"\">any</option>{severity_options}</select>\
         <label for=\"filter-target\">Target</label><select id=\"filter-target\" name=\"target\"><option value=\"\">any</option>{target_options}</select>\
         <label for=\"filter-state\">State</label><select id=\"filter-state\" name=\"state\">{state_options}</select>\
         <button type=\"submit\">Filter</button> <a href=\"/drafts\" id=\"clear-filters\">Clear filters</a></form>{problems}"
    )
}

fn acceptance_html(rates: &[Disposition], read: usize) -> String {
    if rates.is_empty() {
        return "<section id=\"acceptance\"><h2>Acceptance by rule</h2><p>No draft yet: each rule's acceptance rate appears once its drafts are approved, rejected or expire.</p></section>".into();
    }
    let mut rates: Vec<&Disposition> = rates.iter().collect();
    rates.sort_by_key(|rate| {
        (
            swarm_order(&rate.swarm),
            rate.swarm.clone(),
            rate.rule.clone(),
        )
    });
    let rows: String = rates
        .iter()
        .map(|rate| {
            let decided = rate.accepted + rate.rejected + rate.expired;
            let acceptance = match rate.acceptance_rate {
                None => "<span class=\"muted\">none decided</span>".to_string(),
                // A rule most of whose drafts staff turn down is noise: say so.
                Some(fraction) if fraction < 0.5 && decided >= 2 => format!(
                    "<span class=\"warn\">{}</span> <small>noisy: most of its drafts are not accepted</small>",
                    percent(fraction)
                ),
                Some(fraction) => percent(fraction),
            };
            let median = rate
                .median_hours_to_disposition
                .map_or_else(|| "—".to_string(), |hours| format!("{hours:.1} h"));
            let rule = rule_title(&rate.swarm, &rate.rule).unwrap_or(&rate.rule);
            format!(
                "<tr id=\"acceptance-{swarm}-{rule_id}\"><td><code>{swarm}</code></td><th scope=\"row\"><a href=\"/drafts?swarm={swarm_q}&amp;rule={rule_q}&amp;state=all\">{rule}</a> <code class=\"muted\">{rule_id}</code></th>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num rate\">{acceptance}</td><td class=\"num\">{median}</td></tr>",
                rate.drafts,
                rate.open,
                rate.accepted,
                rate.rejected,
                rate.expired,
                swarm = esc(&rate.swarm),
                rule = esc(rule),
                rule_id = esc(&rate.rule),
                swarm_q = url_encode(&rate.swarm),
                rule_q = url_encode(&rate.rule),
            )
        })
        .collect();
    format!(
        "<section id=\"acceptance\"><h2>Acceptance by rule</h2><p class=\"muted\">Over the newest {} drafts, whatever the filters above. Accepted counts approved drafts (for posts: approved for publishing); the rate is accepted over accepted, rejected and expired; the time is the median from the draft to its approval, rejection or expiry.</p>\
         <table class=\"list acceptance\"><thead><tr><th scope=\"col\">Swarm</th><th scope=\"col\">Rule</th><th scope=\"col\" class=\"num\">Drafts</th><th scope=\"col\" class=\"num\">Open</th><th scope=\"col\" class=\"num\">Accepted</th><th scope=\"col\" class=\"num\">Rejected</th><th scope=\"col\" class=\"num\">Expired</th><th scope=\"col\" class=\"num\">Acceptance rate</th><th scope=\"col\" class=\"num\">Median hours to disposition</th></tr></thead><tbody>{rows}</tbody></table></section>",
        read
    )
}

fn enroll_steps(statuses: &[SwarmStatus]) -> String {
    let names: Vec<&str> = statuses.iter().map(|status| status.name.as_str()).collect();
    let names = if names.is_empty() { vec!["ops"] } else { names };
    let enroll: String = names
        .iter()
        .map(|name| format!("<code>brain swarm enroll {}</code>", esc(name)))
        .collect::<Vec<_>>()
        .join(", ");
    let run: String = names
        .iter()
        .map(|name| format!("<code>brain swarm run {}</code>", esc(name)))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "<p>Let each swarm run ({enroll}), make sure a snapshot exists (<code>brain snapshot run</code>), then run them ({run}); <code>brain serve</code> runs them after each new snapshot and on their schedules.</p>"
    )
}

/// The cards, a section per swarm (catalogue order) and within it a group per severity, most
/// severe first.
fn sections_html(
    matching: &[&SwarmDraft],
    proposals: &BTreeMap<String, Proposal>,
    context: &CardContext<'_>,
    described: &dyn Fn(u64) -> String,
) -> String {
    let mut html = String::new();
    let mut by_swarm: BTreeMap<(usize, &str), Vec<&SwarmDraft>> = BTreeMap::new();
    for draft in matching {
        by_swarm
            .entry((swarm_order(&draft.finding.swarm), &draft.finding.swarm))
            .or_default()
            .push(draft);
    }
    for ((_, swarm), drafts) in &by_swarm {
        html.push_str(&format!(
            "<section class=\"drafts-swarm\" id=\"drafts-{swarm}\" aria-labelledby=\"drafts-{swarm}-title\"><h2 id=\"drafts-{swarm}-title\">{title} <code>{swarm}</code> <small>{count}</small></h2>",
            swarm = esc(swarm),
            title = esc(swarm_title(swarm)),
            count = described(drafts.len() as u64),
        ));
        for severity in Severity::ALL.iter().rev() {
            let cards: String = drafts
                .iter()
                .filter(|draft| draft.finding.severity == severity.as_str())
                .map(|draft| card_html(draft, proposals.get(&draft.finding.proposal_id), context))
                .collect();
            if !cards.is_empty() {
                html.push_str(&format!(
                    "<h3 class=\"severity-heading\">{badge} severity</h3><div class=\"cards drafts\">{cards}</div>",
                    badge = severity_badge(severity.as_str()),
                ));
            }
        }
        // Severities this build does not know (a newer store) are still shown.
        let other: String = drafts
            .iter()
            .filter(|draft| Severity::parse(&draft.finding.severity).is_none())
            .map(|draft| card_html(draft, proposals.get(&draft.finding.proposal_id), context))
            .collect();
        if !other.is_empty() {
            html.push_str(&format!(
                "<h3 class=\"severity-heading\">Other severity</h3><div class=\"cards drafts\">{other}</div>"
            ));
        }
        html.push_str("</section>");
    }
    html
}

pub(super) async fn page(state: &AppState, viewer: &Viewer, params: &DraftParams) -> Response {
    let banner = degraded(state).await;
    let swarm_targets = swarm_targets(state);
    let targets: BTreeSet<String> = state
        .engine
        .policy()
        .manifests
        .values()
        .map(|manifest| manifest.target.clone())
        .collect();
    let filters = Filters::parse(params, &targets);
    let every = SwarmDraftFilter {
        limit: DRAFTS_READ,
        ..SwarmDraftFilter::default()
    };
    let read = || state.engine.swarm_drafts(&viewer.caller, &every);
    let mut drafts = match read().await {
        Ok(drafts) => drafts,
        Err(error) => return error_state(&banner, viewer, &error),
    };
    // Drafts whose time ran out are marked expired, as the approvals queue does, so nothing
    // past its expiry is offered for approval; only a viewer allowed to look sets this off.
    match state.engine.expire_due().await {
        Ok(0) => {}
        Ok(_) => {
            drafts = match read().await {
                Ok(drafts) => drafts,
                Err(error) => return error_state(&banner, viewer, &error),
            }
        }
        Err(error) => {
            tracing::warn!(error = %error, "drafts past their expiry could not be marked expired");
        }
    }
    let statuses = statuses(state).await;
    let allowed = actions_allowed(state, viewer).await;
    let now = crate::clock::now();

    let mut body = String::from(
        "<p class=\"intro\">What the swarms drafted for staff to review, by swarm and severity. Nothing a swarm drafts is carried out without a person: approving a recommendation accepts it, approving a post marks it ready for a person to publish.</p>",
    );
    let configured = statuses.as_deref().unwrap_or_default();
    match &statuses {
        Err(problem) => body.push_str(&format!(
            "<section class=\"state-note state-error\" id=\"swarms-error\" role=\"alert\"><h2>The swarms' standing cannot be read</h2><p>{}.</p></section>",
            esc(problem)
        )),
        Ok(statuses) if statuses.is_empty() => body.push_str(
            "<section class=\"state-note state-empty\" id=\"no-swarms\" role=\"status\"><h2>No swarm is configured</h2><p>Swarms are department agents that read the studio's records and draft recommendations and posts for staff. Declare them under <code>swarms:</code> in brain.yaml (<code>ops</code>, <code>marketing</code>; <code>brain schema config</code> shows the keys), then let each run with <code>brain swarm enroll NAME</code>.</p></section>",
        ),
        Ok(statuses) => body.push_str(&swarm_notes(statuses, &open_by_swarm(&drafts))),
    }
    if drafts.is_empty() && !configured.is_empty() {
        body.push_str(&format!(
            "<section class=\"state-note state-empty\" id=\"no-drafts\" role=\"status\"><h2>No drafts yet</h2><p>The configured swarms have not proposed anything.</p>{}</section>",
            enroll_steps(configured)
        ));
    }
    let actions = match &allowed {
        Ok(()) => Some((viewer.csrf.as_str(), filters.href())),
        Err(why) => {
            if !drafts.is_empty() {
                body.push_str(&format!(
                    "<p class=\"state-note read-only\" id=\"no-actions\" role=\"status\">{}</p>",
                    esc(why)
                ));
            }
            None
        }
    };
    if !drafts.is_empty() {
        body.push_str(&filters_form(&filters, configured, &targets));
    }

    let mut matching: Vec<&SwarmDraft> = drafts
        .iter()
        .filter(|draft| filters.matches(draft, &swarm_targets))
        .collect();
    // By swarm, most severe first; newest first within (the store's order, kept by the stable
    // sort).
    matching.sort_by_key(|draft| {
        (
            swarm_order(&draft.finding.swarm),
            draft.finding.swarm.clone(),
            std::cmp::Reverse(Severity::parse(&draft.finding.severity)),
        )
    });
    let total = matching.len();
    matching.truncate(CARDS_MAX);
    let shown: Vec<SwarmDraft> = matching.iter().map(|draft| (*draft).clone()).collect();
    let proposals = match state
        .engine
        .swarm_draft_proposals(&viewer.caller, &shown)
        .await
    {
        Ok(proposals) => proposals,
        Err(error) => return error_state(&banner, viewer, &error),
    };
    let firestore = state
        .config
        .config
        .cloud
        .firestore
        .as_ref()
        .map(|firestore| (firestore.project_id.as_str(), firestore.database.as_str()));
    let context = CardContext {
        firestore,
        actions: actions.as_ref().map(|(csrf, back)| (*csrf, back.as_str())),
        now,
    };

    let noun = filters.noun();
    let described = |count: u64| {
        if noun.is_empty() {
            plural(count, "draft", "drafts")
        } else {
            format!(
                "{count} {noun} {}",
                if count == 1 { "draft" } else { "drafts" }
            )
        }
    };
    if total == 0 && !drafts.is_empty() {
        body.push_str(&format!(
            "<p class=\"state-note state-empty\" id=\"no-matches\" role=\"status\">No {} match{}. <a href=\"/drafts\">Clear filters</a> or see <a href=\"/drafts?state=all\">every draft</a>.</p>",
            if noun.is_empty() { "drafts".to_string() } else { format!("{noun} drafts") },
            match filters.described() {
                described if described.is_empty() => String::new(),
                described => format!(" {described}"),
            }
        ));
    } else if total > 0 {
        body.push_str(&format!(
            "<p id=\"draft-count\" role=\"status\">{}{}</p>",
            described(total as u64),
            if total > CARDS_MAX {
                format!(", the first {CARDS_MAX} shown: narrow the filters to see the rest")
            } else {
                String::new()
            }
        ));
    }
    body.push_str(&sections_html(&matching, &proposals, &context, &described));
    body.push_str(&acceptance_html(&dispositions(&drafts), drafts.len()));
    layout(&banner, viewer, TITLE, ACTIVE, &body).into_response()
}

// ---- The cockpit's panel -----------------------------------------------------------------

/// The cockpit's Swarms panel: each configured swarm's last run, its open drafts and whether it
/// can run (and why not).
pub(super) async fn cockpit_panel(state: &AppState, viewer: &Viewer) -> String {
    if state.swarms.config.config.swarms.each().is_empty() {
        return "<h2>Swarms</h2><p id=\"swarms\">No swarm is configured: declare them under <code>swarms:</code> in brain.yaml.</p>".into();
    }
    // Reading the drafts is the viewer's authorized look at the swarms; nothing more is shown
    // to a viewer the Engine refuses it.
    let open = match state
        .engine
        .swarm_drafts(
            &viewer.caller,
            &SwarmDraftFilter {
                limit: DRAFTS_READ,
                ..SwarmDraftFilter::default()
            },
        )
        .await
    {
        Ok(drafts) => open_by_swarm(&drafts),
        Err(EngineError::Denied(denial)) => {
            return format!(
                "<h2>Swarms</h2><div id=\"swarms\">{}</div>",
                refusal_html(&ErrorBody::from_error(&EngineError::Denied(denial), false))
            );
        }
        Err(error) => {
            if let EngineError::Store(cause) = &error {
                tracing::error!(cause = %cause, "store error reading the swarms' drafts");
            }
            return format!(
                "<h2>Swarms</h2><p class=\"bad\" id=\"swarms\">The swarms' standing cannot be read: {}</p>",
                esc(&ErrorBody::from_error(&error, false).message)
            );
        }
    };
    let statuses = match statuses(state).await {
        Ok(statuses) => statuses,
        Err(problem) => {
            return format!(
                "<h2>Swarms</h2><p class=\"bad\" id=\"swarms\">The swarms' standing cannot be read: {}</p>",
                esc(&problem)
            );
        }
    };
    let now = crate::clock::now();
    let rows: String = statuses
        .iter()
        .map(|status| {
            let name = esc(&status.name);
            let (last_run, findings) = match &status.last_run {
                None => ("never".to_string(), "—".to_string()),
                Some(run) => {
                    let total = |key: &str| -> u64 {
                        run.summary["rules"].as_object().map_or(0, |rules| {
                            rules.values().filter_map(|tally| tally[key].as_u64()).sum()
                        })
                    };
                    let class = if run.outcome == "completed" { "ok" } else { "bad" };
                    let mut text = format!(
                        "<span class=\"{class}\">{}</span> {} <small>({}{})</small>",
                        esc(&run.outcome),
                        format_args!(
                            "<time datetime=\"{}\">{}</time>",
                            esc(&run.started_at),
                            esc(&ago(&run.started_at, now))
                        ),
                        esc(&run.trigger),
                        if run.dry_run { ", dry run" } else { "" },
                    );
                    if run.outcome != "completed" {
                        text.push_str(&format!(": {}", last_run_problem(run)));
                    }
                    (
                        text,
                        format!(
                            "{} emitted, {} suppressed",
                            total("emitted"),
                            total("suppressed")
                        ),
                    )
                }
            };
            let drafts = format!(
                "<a href=\"/drafts?swarm={}\" id=\"open-drafts-{name}\">{}</a>",
                url_encode(&status.name),
                plural(
                    open.get(&status.name).copied().unwrap_or(0),
                    "open draft",
                    "open drafts"
                )
            );
            let standing = match &status.problem {
                None => "<span class=\"ok\">ready</span>".to_string(),
                Some(problem) => {
                    format!("<span class=\"bad\">cannot run</span>: {}", words(problem))
                }
            };
            format!(
                "<tr id=\"swarm-{name}\"><th scope=\"row\">{title} <code>{name}</code></th><td>{last_run}</td><td>{findings}</td><td>{drafts}</td><td>{standing}</td></tr>",
                title = esc(&status.title),
            )
        })
        .collect();
    format!(
        "<h2>Swarms</h2><table class=\"list\" id=\"swarms\"><thead><tr><th scope=\"col\">Swarm</th><th scope=\"col\">Last run</th><th scope=\"col\">Its findings</th><th scope=\"col\">Drafts</th><th scope=\"col\">Can it run?</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_stays_on_this_console() {
        for local in [
            "/drafts",
            "/drafts?swarm=ops&state=all",
            "/",
            "/proposals/p_1",
        ] {
            assert_eq!(local_path(local), Some(local), "{local}");
        }
        for away in [
            "//evil.example",
            "//evil.example/drafts",
            "https://evil.example/drafts",
            "http:/evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil.example",
            "drafts",
            "javascript:alert(1)",
            "",
        ] {
            assert_eq!(local_path(away), None, "{away:?}");
        }
    }

    #[test]
    fn backticked_names_read_as_code_and_everything_is_escaped() {
        assert_eq!(
            words("run `brain swarm enroll ops` <now>"),
            "run <code>brain swarm enroll ops</code> &lt;now&gt;"
        );
        assert_eq!(
            words("a `<b>` c `d`"),
            "a <code>&lt;b&gt;</code> c <code>d</code>"
        );
        assert_eq!(words("one ` tick <i>"), "one ` tick &lt;i&gt;");
    }

    #[test]
    fn firestore_documents_link_to_the_firestore_console() {
        assert_eq!(
            firestore_console_url("studio-os", "(default)", "batches/b-2026-041"),
            "https://console.firebase.google.com/project/studio-os/firestore/databases/-default-/data/~2Fbatches~2Fb-2026-041"
        );
        assert_eq!(
            firestore_console_url("studio-os", "staging", "kilns/k 1/logs/l#2"),
            "https://console.firebase.google.com/project/studio-os/firestore/databases/staging/data/~2Fkilns~2Fk%201~2Flogs~2Fl%232"
        );
    }

    #[test]
    fn filters_read_what_people_type_and_name_what_they_cannot() {
        let targets: BTreeSet<String> = ["brain".to_string(), "firestore".to_string()].into();
        let parse_with = |swarm: &str, rule: &str, severity: &str, target: &str, state: &str| {
            let some = |text: &str| Some(text.to_string());
            Filters::parse(
                &DraftParams {
                    swarm: some(swarm),
                    rule: some(rule),
                    severity: some(severity),
                    target: some(target),
                    state: some(state),
                },
                &targets,
            )
        };
        let parse = |swarm: &str, rule: &str, severity: &str, state: &str| {
            parse_with(swarm, rule, severity, "", state)
        };
        let open = parse("", "", "", "");
        assert_eq!(open.outcome, Some(DraftOutcome::Open), "open by default");
        assert_eq!(open.href(), "/drafts");
        let narrow = parse("ops", "stalled_batch", "high", "rejected");
        assert!(narrow.problems.is_empty(), "{:?}", narrow.problems);
        assert_eq!(
            narrow.href(),
            "/drafts?swarm=ops&rule=stalled_batch&severity=high&state=rejected"
        );
        assert_eq!(parse("", "", "", "all").href(), "/drafts?state=all");
        let wrong = parse("payroll", "firing_completed", "urgent", "maybe");
        assert_eq!(wrong.swarm, None);
        assert_eq!(wrong.rule.as_deref(), Some("firing_completed"));
        assert_eq!(wrong.severity, None);
        assert_eq!(wrong.outcome, Some(DraftOutcome::Open));
        assert_eq!(wrong.problems.len(), 3, "{:?}", wrong.problems);
        let mismatched = parse("ops", "firing_completed", "", "");
        assert_eq!(mismatched.rule, None, "a marketing rule is not an ops rule");
        let target = parse_with("", "", "", "firestore", "all");
        assert_eq!(target.target.as_deref(), Some("firestore"));
        assert_eq!(target.href(), "/drafts?target=firestore&state=all");
        let unknown = parse_with("", "", "", "mars", "");
        assert_eq!(unknown.target, None);
        assert!(
            unknown.problems[0].contains("no capability acts on `mars`"),
            "{:?}",
            unknown.problems
        );
    }
}
