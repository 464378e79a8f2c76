//! Findings: problems found in a user's files, as data.
//!
//! A [`Finding`] names its code, severity, message, the file and span it points at, a label and
//! a help line. Findings render as miette diagnostics for people and serialize to JSON for
//! machines (with 1-based line and column). Checks return `Vec<Finding>`; only I/O returns `Err`.
//!
//! This module does no I/O.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};
use serde::Serialize;

/// How serious a finding is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// A file's text, shared by every finding that points into it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    text: Arc<NamedSource<String>>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let name = name.into();
        let text = Arc::new(NamedSource::new(&name, text.into()));
        Self { name, text }
    }

    pub fn text(&self) -> &str {
        self.text.inner()
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_column(&self, offset: usize) -> (usize, usize) {
        let text = self.text();
        let offset = offset.min(text.len());
        let before = &text[..floor_char_boundary(text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |index| index + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// One problem, pointing into a file when it can.
#[derive(Debug, Clone)]
pub struct Finding {
    pub code: String,
    pub severity: Severity,
    pub message: String,
    pub source: Option<SourceFile>,
    pub span: Option<Range<usize>>,
    pub label: Option<String>,
    pub help: Option<String>,
}

impl Finding {
    pub fn error(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            severity: Severity::Error,
            message: message.into(),
            source: None,
            span: None,
            label: None,
            help: None,
        }
    }

    pub fn warning(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    /// Point the finding at `span` in `source`, with a short label under it.
    pub fn at(mut self, source: &SourceFile, span: Range<usize>, label: impl Into<String>) -> Self {
        self.source = Some(source.clone());
        self.span = Some(span);
        self.label = Some(label.into());
        self
    }

    /// Name the file without pointing at a place in it.
    pub fn in_file(mut self, source: &SourceFile) -> Self {
        self.source = Some(source.clone());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// `file:line:column` (or just the file, or nothing) for one-line renderings.
    pub fn location(&self) -> Option<String> {
        let source = self.source.as_ref()?;
        Some(match &self.span {
            Some(span) => {
                let (line, column) = source.line_column(span.start);
                format!("{}:{line}:{column}", source.name)
            }
            None => source.name.clone(),
        })
    }

    /// The machine-readable form.
    pub fn to_json(&self) -> FindingJson {
        let (line, column, end_line, end_column) = match (&self.source, &self.span) {
            (Some(source), Some(span)) => {
                let (line, column) = source.line_column(span.start);
                let (end_line, end_column) = source.line_column(span.end);
                (Some(line), Some(column), Some(end_line), Some(end_column))
            }
            _ => (None, None, None, None),
        };
        FindingJson {
            code: self.code.clone(),
            severity: self.severity,
            message: self.message.clone(),
            file: self.source.as_ref().map(|source| source.name.clone()),
            line,
            column,
            end_line,
            end_column,
            help: self.help.clone(),
        }
    }
}

/// The JSON shape of a finding (stable; documented in the README).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FindingJson {
    pub code: String,
    pub severity: Severity,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub end_line: Option<usize>,
    pub end_column: Option<usize>,
    pub help: Option<String>,
}

impl fmt::Display for Finding {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for Finding {}

impl Diagnostic for Finding {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        match (&self.source, &self.span) {
            (Some(source), Some(_)) => Some(&source.text as &dyn SourceCode),
            _ => None,
        }
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span.clone()?;
        self.source.as_ref()?;
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            self.label.clone(),
            span.start..span.end.max(span.start),
        ))))
    }
}

/// Several findings reported at once under one headline.
#[derive(Debug)]
pub struct Findings {
    pub headline: String,
    pub findings: Vec<Finding>,
}

impl Findings {
    pub fn new(headline: impl Into<String>, findings: Vec<Finding>) -> Self {
        Self {
            headline: headline.into(),
            findings,
        }
    }

    pub fn has_errors(&self) -> bool {
        self.findings
            .iter()
            .any(|finding| finding.severity == Severity::Error)
    }
}

impl fmt::Display for Findings {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.headline)
    }
}

impl std::error::Error for Findings {}

impl Diagnostic for Findings {
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(
            self.findings
                .iter()
                .map(|finding| finding as &dyn Diagnostic),
        ))
    }
}

/// "1 problem" / "3 problems".
pub fn plural(count: usize, noun: &str) -> String {
    match noun.strip_suffix('y') {
        Some(stem) if count != 1 && !stem.ends_with(['a', 'e', 'o', 'u']) => {
            format!("{count} {stem}ies")
        }
        _ if count == 1 => format!("1 {noun}"),
        _ => format!("{count} {noun}s"),
    }
}

/// Closest candidate to `input` by edit distance, when it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(input, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len().max(input.len()) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn edit_distance(left: &str, right: &str) -> usize {
    let right: Vec<char> = right.chars().collect();
    let mut previous: Vec<usize> = (0..=right.len()).collect();
    for (i, left_char) in left.chars().enumerate() {
        let mut current = vec![i + 1; right.len() + 1];
        for (j, right_char) in right.iter().enumerate() {
            let substitution = previous[j] + usize::from(left_char != *right_char);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[right.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let source = SourceFile::new("f.yaml", "a: 1\nbé: 2\n");
        assert_eq!(source.line_column(0), (1, 1));
        assert_eq!(source.line_column(5), (2, 1));
        assert_eq!(source.line_column(9), (2, 4));
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("lisen", ["listen", "auth"]), Some("listen"));
        assert_eq!(did_you_mean("zzzzzz", ["listen", "auth"]), None);
    }
}
