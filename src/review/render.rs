//! Markdown (a pull request comment) and GitHub workflow annotations for `brain policy diff` and
//! `brain policy replay`.

use std::fmt::Write;

use super::diff::{Change, DecisionChange, PolicyDiff};
use super::replay::Replay;

/// Rows a markdown table shows before it says how many more there are (a PR comment has a
/// size limit; `--format json` has everything).
pub const MAX_ROWS: usize = 100;

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

/// Text for a table cell: pipes escaped, on one line.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn code_list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items
            .iter()
            .map(|item| format!("`{item}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn count(n: usize, what: &str) -> String {
    crate::diagnostic::plural(n, what)
}

/// The headline: what changed, in counts.
pub fn diff_headline(diff: &PolicyDiff) -> String {
    let summary = &diff.summary;
    if diff.is_empty() {
        return "no change in what the policy set decides".into();
    }
    let mut parts = vec![
        format!("{} newly allowed", summary.newly_allowed),
        format!("{} newly denied", summary.newly_denied),
        format!("{} with other reasons", summary.reasons_changed),
    ];
    if summary.approval_changes > 0 {
        parts.push(count(summary.approval_changes, "approval threshold change"));
    }
    if summary.manifest_changes > 0 {
        parts.push(count(summary.manifest_changes, "manifest change"));
    }
    if summary.exemption_changes > 0 {
        parts.push(count(summary.exemption_changes, "exemption change"));
    }
    if summary.state_model_changed {
        parts.push("the state model changed".into());
    }
    parts.join(", ")
}

/// The semantic diff as a pull request comment.
pub fn diff_markdown(diff: &PolicyDiff) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### What this policy change does\n");
    let _ = writeln!(
        out,
        "`{}` (`{}`) → `{}` (`{}`): **{}**.",
        diff.base.label,
        short(&diff.base.hash),
        diff.head.label,
        short(&diff.head.hash),
        diff_headline(diff)
    );
    let _ = writeln!(
        out,
        "\n{} asked of {} (the others decide alike on both sides).",
        count(diff.summary.questions, "question"),
        crate::diagnostic::plural(diff.summary.capabilities_reevaluated, "capability")
    );
    let (outcomes, reasons): (Vec<&DecisionChange>, Vec<&DecisionChange>) = diff
        .decisions
        .iter()
        .partition(|change| change.change != Change::ReasonsChanged);
    if !outcomes.is_empty() {
        let _ = writeln!(out, "\n#### Answers that change\n");
        let mut ordered = outcomes;
        ordered.sort_by_key(|change| change.change);
        decision_table(&mut out, &ordered);
    }
    if !reasons.is_empty() {
        // Still denied (or still allowed), for other reasons: worth a look, not a headline.
        let _ = writeln!(
            out,
            "\n<details><summary>{} with the same outcome for other reasons</summary>\n",
            count(reasons.len(), "answer")
        );
        decision_table(&mut out, &reasons);
        let _ = writeln!(out, "\n</details>");
    }
    if !diff.approvals.is_empty() {
        let _ = writeln!(out, "\n#### Approvals needed to execute\n");
        let _ = writeln!(out, "| Capability | Who | Before | After |");
        let _ = writeln!(out, "|---|---|---|---|");
        let needed = |value| approvals_needed(value, "never allowed");
        for change in diff.approvals.iter().take(MAX_ROWS) {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                change.capability,
                cell(&change.principal),
                needed(change.before),
                needed(change.after)
            );
        }
    }
    if !diff.manifests.is_empty() {
        let _ = writeln!(out, "\n#### Capability manifests\n");
        for change in &diff.manifests {
            let file = change
                .file
                .as_deref()
                .map(|file| format!(" (`{file}`)"))
                .unwrap_or_default();
            let _ = writeln!(out, "- `{}` {}{file}", change.capability, change.kind);
            for field in &change.fields {
                let _ = writeln!(
                    out,
                    "  - `{}`: `{}` → `{}`",
                    field.field,
                    cell(&field.before.to_string()),
                    cell(&field.after.to_string())
                );
            }
        }
    }
    if !diff.exemptions.is_empty() {
        let _ = writeln!(out, "\n#### Declared exemptions\n");
        for change in &diff.exemptions {
            let covers = change
                .capability
                .as_deref()
                .map(|capability| format!(", covers `{capability}`"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "- `{}` {}{covers}; in force now: {} → {}",
                change.file,
                change.kind,
                yes_no(change.in_force_before),
                yes_no(change.in_force_after)
            );
        }
    }
    if let Some(model) = &diff.state_model {
        let _ = writeln!(out, "\n#### State model\n");
        let _ = writeln!(
            out,
            "`{}` → `{}`: snapshots computed under the two versions are not compared field by field.",
            model.before, model.after
        );
        if !model.values.is_empty() {
            let _ = writeln!(out, "\n| Collection | Value | Before | After |");
            let _ = writeln!(out, "|---|---|---|---|");
            for value in model.values.iter().take(MAX_ROWS) {
                let _ = writeln!(
                    out,
                    "| `{}` | `{}` | {} | {} |",
                    value.collection,
                    cell(&value.value),
                    value.before.unwrap_or("unclassified"),
                    value.after.unwrap_or("unclassified")
                );
            }
        }
        if !model.collections.is_empty() {
            let _ = writeln!(
                out,
                "\nOther rules changed for: {}.",
                code_list(&model.collections)
            );
        }
    }
    out
}

fn decision_table(out: &mut String, changes: &[&DecisionChange]) {
    let _ = writeln!(
        out,
        "| Change | Capability | Action | Who | Situations | For example | Before | After |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for change in changes.iter().take(MAX_ROWS) {
        let marker = markdown_marker(change.change);
        let _ = writeln!(
            out,
            "| {marker} | `{}` | {} | {} | {} of {} | {} | {} | {} |",
            change.capability,
            change.action,
            cell(&change.principal),
            change.situations,
            change.of,
            cell(&change.example.describe()),
            cell(&change.before.describe()),
            cell(&change.after.describe()),
        );
    }
    if changes.len() > MAX_ROWS {
        let _ = writeln!(
            out,
            "\n… and {} more (`--format json` lists every one).",
            changes.len() - MAX_ROWS
        );
    }
}

/// A change in a markdown table: a newly allowed answer in bold.
fn markdown_marker(change: Change) -> &'static str {
    match change {
        Change::NewlyAllowed => "**newly allowed**",
        other => other.as_str(),
    }
}

/// The approvals needed to execute, or `never` when no number is enough.
pub fn approvals_needed(value: Option<i64>, never: &str) -> String {
    value.map_or_else(|| never.to_string(), |n| n.to_string())
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// Where an annotation points: a file relative to the repository and a line.
pub type Location = Option<(String, usize)>;

/// The diff as GitHub workflow annotations: an error per newly allowed answer, a warning per
/// newly denied one, a notice for the rest; each on the file that decides it on the head side
/// (`locate`), else without a file.
pub fn diff_github(diff: &PolicyDiff, locate: &dyn Fn(&DecisionChange) -> Location) -> String {
    let mut out = String::new();
    let mut reasons_only = 0;
    for change in &diff.decisions {
        let level = match change.change {
            Change::NewlyAllowed => "error",
            Change::NewlyDenied => "warning",
            Change::ReasonsChanged => {
                reasons_only += 1;
                continue;
            }
        };
        let message = format!(
            "{} `{}` by {}: {} in {} of {} situations (e.g. {}): {} → {}",
            change.action,
            change.capability,
            change.principal,
            change.change.as_str(),
            change.situations,
            change.of,
            change.example.describe(),
            change.before.describe(),
            change.after.describe()
        );
        annotation(&mut out, level, locate(change), &message);
    }
    if reasons_only > 0 {
        let message = format!(
            "{} keep their outcome for other reasons (reason codes or deciding policies); the markdown report lists them",
            count(reasons_only, "answer")
        );
        annotation(&mut out, "notice", None, &message);
    }
    for change in &diff.approvals {
        let needed = |value| approvals_needed(value, "never");
        let message = format!(
            "approvals {} needs to execute `{}`: {} → {}",
            change.principal,
            change.capability,
            needed(change.before),
            needed(change.after)
        );
        annotation(&mut out, "notice", None, &message);
    }
    for change in &diff.manifests {
        let fields: Vec<String> = change
            .fields
            .iter()
            .map(|field| field.field.clone())
            .collect();
        let message = format!(
            "capability `{}` {}{}",
            change.capability,
            change.kind,
            if fields.is_empty() {
                String::new()
            } else {
                format!(": {}", fields.join(", "))
            }
        );
        annotation(
            &mut out,
            "notice",
            change.file.clone().map(|file| (file, 1)),
            &message,
        );
    }
    for change in &diff.exemptions {
        let message = format!(
            "declared exemption `{}` {}; in force now: {} → {}",
            change.file,
            change.kind,
            yes_no(change.in_force_before),
            yes_no(change.in_force_after)
        );
        annotation(&mut out, "notice", None, &message);
    }
    if let Some(model) = &diff.state_model {
        let message = format!(
            "state model {} → {}: {} value(s) count in another class",
            model.before,
            model.after,
            model.values.len()
        );
        annotation(&mut out, "notice", None, &message);
    }
    out
}

/// One `::level file=..,line=..::message` line, escaped as GitHub expects.
fn annotation(out: &mut String, level: &str, location: Location, message: &str) {
    let escape = |text: &str| {
        text.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let property = |text: &str| escape(text).replace(':', "%3A").replace(',', "%2C");
    match location {
        Some((file, line)) => {
            let _ = writeln!(
                out,
                "::{level} file={},line={line},title=brain policy diff::{}",
                property(&file),
                escape(message)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "::{level} title=brain policy diff::{}",
                escape(message)
            );
        }
    }
}

/// The headline of a replay.
pub fn replay_headline(replay: &Replay) -> String {
    let summary = &replay.summary;
    format!(
        "{} replayed of {} read: {} newly allowed, {} newly denied, {} with other reasons",
        count(summary.replayed, "decision"),
        count(summary.events, "event"),
        summary.newly_allowed,
        summary.newly_denied,
        summary.reasons_changed
    )
}

/// The replay as a pull request comment.
pub fn replay_markdown(replay: &Replay) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### Recorded decisions under this policy change\n");
    let window = replay
        .since
        .as_deref()
        .map(|since| format!(" since {since}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "The audit log's decisions{window}, decided again under `{}` (`{}`): **{}**.",
        replay.candidate,
        short(&replay.candidate_hash),
        replay_headline(replay)
    );
    if replay.summary.without_request > 0 {
        let _ = writeln!(
            out,
            "\n{} carry no recorded request (written before requests were recorded, or not decisions) and were not replayed.",
            count(replay.summary.without_request, "event")
        );
    }
    if replay.changes.is_empty() {
        let _ = writeln!(out, "\nNo recorded decision would come out differently.");
    } else {
        let _ = writeln!(
            out,
            "\n| Event | Actor | Action | Capability | Change | Before | After |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        for change in replay.changes.iter().take(MAX_ROWS) {
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} | {} | {} | {} |",
                change.seq,
                change.actor,
                change.action,
                change
                    .capability
                    .as_deref()
                    .map(|capability| format!("`{capability}`"))
                    .unwrap_or_default(),
                markdown_marker(change.change),
                cell(&change.before.describe()),
                cell(&change.after.describe())
            );
        }
        if replay.changes.len() > MAX_ROWS {
            let _ = writeln!(
                out,
                "\n… and {} more (`--format json` lists every one).",
                replay.changes.len() - MAX_ROWS
            );
        }
    }
    if !replay.problems.is_empty() {
        let _ = writeln!(out, "\n#### Events that could not be replayed\n");
        for problem in &replay.problems {
            let _ = writeln!(out, "- event {}: {}", problem.seq, problem.problem);
        }
    }
    out
}
