//! Inline suppressions. A comment `brain-lint: allow RULE-ID` (several ids separated by commas
//! or spaces) silences those rules on the comment's own line and on the next line. A
//! suppression must name rules; one that names none or an unknown rule is itself a finding
//! (rule `invalid-suppression`).

use std::collections::{HashMap, HashSet};

use super::Workspace;
use crate::diagnostic::{Finding, SourceFile};

pub const MARKER: &str = "brain-lint: allow";

/// One suppression comment.
pub struct Suppression {
    /// 1-based line of the comment.
    pub line: usize,
    /// Byte range of the comment's rule list (or of the marker when empty).
    pub span: std::ops::Range<usize>,
    pub rules: Vec<String>,
}

/// Every suppression comment in a file.
pub fn suppressions(source: &SourceFile) -> Vec<Suppression> {
    let mut found = Vec::new();
    let mut offset = 0;
    for (index, line) in source.text().split_inclusive('\n').enumerate() {
        if let Some(position) = line.find(MARKER) {
            let before = &line[..position];
            let in_comment =
                before.contains('#') || before.contains("//") || before.contains("<!--");
            if in_comment {
                let rest = &line[position + MARKER.len()..];
                let rest = rest.split("-->").next().unwrap_or(rest);
                let rules: Vec<String> = rest
                    .split([',', ' ', '\t', '\n', '\r'])
                    .map(str::trim)
                    .filter(|rule| !rule.is_empty())
                    .map(str::to_string)
                    .collect();
                let start = offset + position;
                found.push(Suppression {
                    line: index + 1,
                    span: start..offset + line.trim_end().len(),
                    rules,
                });
            }
        }
        offset += line.len();
    }
    found
}

/// Drop findings covered by a valid suppression.
pub fn apply(workspace: &Workspace, findings: Vec<Finding>) -> Vec<Finding> {
    let mut allowed: HashMap<&str, HashSet<(usize, String)>> = HashMap::new();
    for source in workspace.files() {
        for suppression in suppressions(source) {
            for rule in &suppression.rules {
                let entry = allowed.entry(source.name.as_str()).or_default();
                entry.insert((suppression.line, rule.clone()));
                entry.insert((suppression.line + 1, rule.clone()));
            }
        }
    }
    findings
        .into_iter()
        .filter(|finding| {
            if finding.code == "invalid-suppression" {
                return true;
            }
            let (Some(source), Some(span)) = (&finding.source, &finding.span) else {
                return true;
            };
            let (line, _) = source.line_column(span.start);
            !allowed
                .get(source.name.as_str())
                .is_some_and(|lines| lines.contains(&(line, finding.code.clone())))
        })
        .collect()
}
