//! `brain lint`: the rule catalogue and the runner.
//!
//! One rule is one file in `rules/` holding its id, category, default severity, docs (what,
//! why, a failing and a passing example) and its `check`. [`RULES`] is the plain static
//! registry. The runner parses the workspace once ([`Context`]), runs every rule, applies
//! per-rule severities from `brain.yaml` and inline suppressions, and returns findings sorted by
//! file and position.
//!
//! Architecture Invariant: no I/O; the workspace arrives as file texts (see `workspace`).
//! Architecture Invariant: one bad file never hides findings in the others: every file is
//! parsed on its own and rules run over whatever parsed.

pub mod context;
pub mod output;
pub mod rules;
mod suppress;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::LintLevel;
use crate::diagnostic::{Finding, Severity};
pub use context::{Context, DeclaredObjectives, SpecFile, Workspace};
pub use rules::RULES;

/// What a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Manifest,
    Cedar,
    Exemption,
    Spec,
    StateModel,
    Swarm,
    Slo,
    Invariant,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Manifest => "manifest",
            Category::Cedar => "cedar",
            Category::Exemption => "exemption",
            Category::Spec => "spec",
            Category::StateModel => "state-model",
            Category::Swarm => "swarm",
            Category::Slo => "slo",
            Category::Invariant => "invariant",
        }
    }
}

/// An example file for a rule's docs and tests: a path in a studio repository and its text.
pub type ExampleFile = (&'static str, &'static str);

/// One lint rule.
pub struct Rule {
    pub id: &'static str,
    pub category: Category,
    pub severity: Severity,
    /// One line: what the rule reports.
    pub summary: &'static str,
    /// Why it matters, in a short paragraph.
    pub why: &'static str,
    /// Files that, laid over the minimal clean studio, make the rule fire.
    pub failing: &'static [ExampleFile],
    /// The same files, fixed.
    pub passing: &'static [ExampleFile],
    pub check: fn(&Context<'_>, &mut Vec<Finding>),
}

impl Rule {
    /// `--explain RULE`: the rule's documentation as Markdown.
    pub fn explain(&self) -> String {
        let mut text = format!(
            "# {}\n\n{}\n\ncategory: {} · default severity: {}\n\n## Why\n\n{}\n",
            self.id,
            self.summary,
            self.category.as_str(),
            severity_name(self.severity),
            self.why
        );
        for (title, files) in [
            ("Failing example", self.failing),
            ("Passing example", self.passing),
        ] {
            text.push_str(&format!("\n## {title}\n"));
            for (path, content) in files {
                let language = if path.ends_with(".cedar") {
                    "cedar"
                } else if path.ends_with(".md") {
                    "markdown"
                } else if path.ends_with(".rs") {
                    "rust"
                } else {
                    "yaml"
                };
                text.push_str(&format!(
                    "\n`{path}`:\n\n```{language}\n{}\n```\n",
                    content.trim_end()
                ));
            }
        }
        text
    }
}

pub fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// Find a rule by id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().copied().find(|rule| rule.id == id)
}

/// Run every rule over the workspace. Findings carry the rule id as their code and the
/// severity configured for it; `off` rules and suppressed findings are dropped.
pub fn run(workspace: &Workspace, severities: &BTreeMap<String, LintLevel>) -> Vec<Finding> {
    let context = Context::new(workspace);
    let mut findings = Vec::new();
    for rule in RULES {
        let level = severities.get(rule.id).copied();
        if level == Some(LintLevel::Off) {
            continue;
        }
        let mut found = Vec::new();
        (rule.check)(&context, &mut found);
        for mut finding in found {
            finding.code = rule.id.to_string();
            finding.severity = match level {
                Some(LintLevel::Error) => Severity::Error,
                Some(LintLevel::Warning) => Severity::Warning,
                _ => rule.severity,
            };
            findings.push(finding);
        }
    }
    let mut findings = suppress::apply(workspace, findings);
    findings.sort_by(|left, right| {
        let key = |finding: &Finding| {
            (
                finding.source.as_ref().map(|source| source.name.clone()),
                finding.span.as_ref().map(|span| span.start),
                finding.code.clone(),
            )
        };
        key(left).cmp(&key(right))
    });
    findings
}

/// Counts for the summary line and the exit code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub files: usize,
}

pub fn summarize(findings: &[Finding], files: usize) -> Summary {
    Summary {
        errors: findings
            .iter()
            .filter(|finding| finding.severity == Severity::Error)
            .count(),
        warnings: findings
            .iter()
            .filter(|finding| finding.severity == Severity::Warning)
            .count(),
        files,
    }
}
