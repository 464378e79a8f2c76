//! The console's intake review queue (`/intake`) and the risk banner a routed proposal carries:
//! what the compliance intake gate routed to mandatory human review (proposals and agent
//! requests), with the category and the terms that matched, and the override form (grant or
//! deny, a reason code, a note) for a staff member other than the proposer.
//!
//! Every state is said in words: nothing routed, the store unavailable. The form appears only
//! for a signed-in person; the Engine decides the override (`review_intake`), never this page.

use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{AppState, Checked, Viewer, degraded, esc, finish, layout, refusal_html};
use crate::engine::ErrorBody;
use crate::engine::intake::Queued;
use crate::intake::IntakeRecord;

const TITLE: &str = "Intake review";
const ACTIVE: &str = "/intake";

/// The banner a routed proposal's page shows above everything else.
pub(super) fn banner(record: &IntakeRecord) -> String {
    let state = match &record.r#override {
        None => "It cannot be approved or executed until a staff member other than its proposer reviews it on the <a href=\"/intake\">intake review</a> page.".to_string(),
        Some(done) if done.decision == "granted" => format!(
            "{} granted an override ({}): it may be approved and executed as any proposal.",
            esc(&done.by),
            esc(&done.reason_code)
        ),
        Some(done) => format!(
            "{} denied an override ({}): it stays blocked.",
            esc(&done.by),
            esc(&done.reason_code)
        ),
    };
    format!(
        "<section class=\"risk-banner{}\" id=\"intake-banner\" role=\"alert\"><h2>Routed to human review: {}</h2><p>The compliance intake gate classified this proposal as <strong>{}</strong> ({}, confidence {:.0}%); matched: {}.</p><p>{state}</p></section>",
        if record.blocked() {
            ""
        } else {
            " risk-cleared"
        },
        esc(&record.classification.category.replace('_', " ")),
        esc(&record.classification.category),
        esc(&record.classification.reason_code),
        record.classification.confidence * 100.0,
        matched(record),
    )
}

fn matched(record: &IntakeRecord) -> String {
    if record.classification.matched.is_empty() {
        "nothing".into()
    } else {
        record
            .classification
            .matched
            .iter()
            .map(|term| format!("<q>{}</q>", esc(term)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn subject_html(subject: &str) -> String {
    if subject.starts_with("p_") {
        format!(
            "<a href=\"/proposals/{}\"><code>{}</code></a>",
            super::url_encode(subject),
            esc(subject)
        )
    } else {
        format!("<code>{}</code>", esc(subject))
    }
}

fn card(queued: &Queued, csrf: Option<&str>) -> String {
    let record = &queued.record;
    let slug: String = record
        .subject
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() {
                character
            } else {
                '-'
            }
        })
        .collect();
    let state = match (&record.r#override, queued.blocked) {
        (None, _) => "<span class=\"badge badge-high\">waiting for review</span>".to_string(),
        (Some(done), true) => format!(
            "<span class=\"badge badge-high\">denied</span> by {} ({}): {}",
            esc(&done.by),
            esc(&done.reason_code),
            esc(&done.note)
        ),
        (Some(done), false) => format!(
            "<span class=\"badge badge-low\">granted</span> by {} ({}): {}",
            esc(&done.by),
            esc(&done.reason_code),
            esc(&done.note)
        ),
    };
    let form = csrf.map_or_else(String::new, |csrf| {
        format!(
            "<form method=\"post\" action=\"/intake/override\" class=\"override\" aria-label=\"Override the gate on {subject}\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"subject\" value=\"{subject}\">\
             <label for=\"code-{slug}\">Reason code</label><input type=\"text\" id=\"code-{slug}\" name=\"reason_code\" required pattern=\"[A-Z][A-Z0-9_]{{2,47}}\" placeholder=\"PROP_ONLY\">\
             <label for=\"note-{slug}\">Note</label><input type=\"text\" id=\"note-{slug}\" name=\"note\" required maxlength=\"500\" placeholder=\"why\">\
             <button type=\"submit\" name=\"decision\" value=\"grant\" id=\"grant-{slug}\">Grant</button>\
             <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny-{slug}\" class=\"danger\">Deny</button></form>",
            csrf = esc(csrf),
            subject = esc(&record.subject),
        )
    });
    format!(
        "<article class=\"card intake-card\" id=\"intake-{slug}\"><h3>{} <span class=\"badge badge-high\">{}</span></h3>\
         <p>{} ({}, confidence {:.0}%); matched: {}.</p><p class=\"muted\">{} · classified {} · lists {} v{} · text hash <code>{}</code></p><p>{state}</p>{form}</article>",
        subject_html(&record.subject),
        esc(&record.classification.category),
        esc(&record.summary),
        esc(&record.classification.reason_code),
        record.classification.confidence * 100.0,
        matched(record),
        if record.proposer.is_empty() {
            "an agent request read from the cloud".to_string()
        } else {
            format!("proposed by {}", esc(&record.proposer))
        },
        super::studio_state::time_html(&record.classified_at),
        esc(&record.classification.rule_set.id),
        record.classification.rule_set.version,
        esc(&record.text_hash[..12.min(record.text_hash.len())]),
    )
}

/// `GET /intake`.
pub(super) async fn page(state: &AppState, viewer: &Viewer) -> Response {
    let banner = degraded(state).await;
    let queue = match state.engine.intake_queue(&viewer.caller).await {
        Ok(queue) => queue,
        Err(error) => {
            let body = refusal_html(&ErrorBody::from_error(&error, false));
            return layout(&banner, viewer, TITLE, ACTIVE, &body).into_response();
        }
    };
    let mut body = String::from(
        "<p class=\"intro\">What the compliance intake gate routed to mandatory human review: proposals whose input or rationale, and agent requests whose words, it classified as illegal content, weaponization, IP infringement or fraud risk. A routed proposal cannot be approved or executed until a staff member other than its proposer grants an override here; a denied override keeps it blocked. Every decision is audited.</p>",
    );
    let csrf = (!viewer.session_id.is_empty()).then_some(viewer.csrf.as_str());
    if csrf.is_none() {
        body.push_str("<p class=\"state-note read-only\" id=\"no-actions\" role=\"status\">This is a read-only view: sign in to review.</p>");
    }
    let (waiting, decided): (Vec<&Queued>, Vec<&Queued>) = queue
        .iter()
        .partition(|queued| queued.record.r#override.is_none());
    if queue.is_empty() {
        body.push_str("<section class=\"state-note state-empty\" id=\"nothing-routed\" role=\"status\"><h2>Nothing was routed to review</h2><p>No proposal or agent request matched the intake lists (<code>specs/intake.yaml</code>). <code>brain intake classify --text TEXT</code> shows what a text would be.</p></section>");
    }
    if !waiting.is_empty() {
        body.push_str(&format!(
            "<h2 id=\"waiting\">Waiting for review ({})</h2><div class=\"intake-list\">",
            waiting.len()
        ));
        for queued in &waiting {
            body.push_str(&card(queued, csrf));
        }
        body.push_str("</div>");
    }
    if !decided.is_empty() {
        body.push_str(&format!(
            "<h2 id=\"decided\">Reviewed ({})</h2><div class=\"intake-list\">",
            decided.len()
        ));
        for queued in &decided {
            body.push_str(&card(queued, csrf));
        }
        body.push_str("</div>");
    }
    layout(&banner, viewer, TITLE, ACTIVE, &body).into_response()
}

#[derive(Deserialize)]
pub(super) struct OverrideForm {
    subject: String,
    decision: String,
    reason_code: String,
    note: String,
}

/// `POST /intake/override`.
pub(super) async fn override_post(state: &AppState, checked: Checked<OverrideForm>) -> Response {
    let form = &checked.form;
    let grant = form.decision == "grant";
    let result = state
        .engine
        .intake_override(
            &checked.viewer.caller,
            form.subject.trim(),
            grant,
            form.reason_code.trim(),
            &form.note,
        )
        .await;
    let done = format!(
        "override {} for {}",
        if grant { "granted" } else { "denied" },
        form.subject.trim()
    );
    finish(state, &checked.viewer, result, done, ACTIVE.into()).await
}
