//! Lint output formats: JSON, SARIF 2.1.0 (for code scanning) and GitHub workflow annotations.
//! (The human format is miette, rendered by the CLI.)

use serde_json::{Value, json};

use super::{RULES, Summary, severity_name};
use crate::diagnostic::{Finding, Severity};

/// `--format json`: `{ findings: [...], summary: { errors, warnings, files } }`.
pub fn json(findings: &[Finding], summary: Summary) -> Value {
    json!({
        "findings": findings.iter().map(|finding| {
            let mut value = serde_json::to_value(finding.to_json()).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut value {
                map.insert("rule".into(), Value::String(finding.code.clone()));
            }
            value
        }).collect::<Vec<_>>(),
        "summary": summary,
    })
}

fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// `--format sarif`: one SARIF 2.1.0 log with every rule and every result.
pub fn sarif(findings: &[Finding]) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|rule| {
            json!({
                "id": rule.id,
                "name": rule.id,
                "shortDescription": { "text": rule.summary },
                "fullDescription": { "text": rule.why },
                "help": { "text": format!("brain lint --explain {}", rule.id), "markdown": rule.explain() },
                "defaultConfiguration": { "level": sarif_level(rule.severity) },
                "properties": { "category": rule.category.as_str() },
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|finding| {
            let json = finding.to_json();
            let mut message = finding.message.clone();
            if let Some(help) = &finding.help {
                message.push_str(&format!("\nhelp: {help}"));
            }
            let mut result = json!({
                "ruleId": finding.code,
                "ruleIndex": RULES.iter().position(|rule| rule.id == finding.code),
                "level": sarif_level(finding.severity),
                "message": { "text": message },
            });
            if let Some(file) = &json.file {
                let mut location =
                    json!({ "artifactLocation": { "uri": file.replace('\\', "/") } });
                if let (Some(line), Some(column)) = (json.line, json.column) {
                    location["region"] = json!({
                        "startLine": line,
                        "startColumn": column,
                        "endLine": json.end_line.unwrap_or(line),
                        "endColumn": json.end_column.unwrap_or(column),
                    });
                }
                result["locations"] = json!([{ "physicalLocation": location }]);
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "brain",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

/// `--format github`: one workflow command per finding.
pub fn github(findings: &[Finding]) -> String {
    let mut out = String::new();
    for finding in findings {
        let json = finding.to_json();
        let command = match finding.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut properties = Vec::new();
        if let Some(file) = &json.file {
            properties.push(format!("file={}", escape_property(file)));
        }
        if let Some(line) = json.line {
            properties.push(format!("line={line}"));
        }
        if let Some(column) = json.column {
            properties.push(format!("col={column}"));
        }
        if let Some(end_line) = json.end_line {
            properties.push(format!("endLine={end_line}"));
        }
        if let Some(end_column) = json.end_column {
            properties.push(format!("endColumn={end_column}"));
        }
        properties.push(format!(
            "title={}",
            escape_property(&format!("brain lint: {}", finding.code))
        ));
        let mut message = finding.message.clone();
        if let Some(help) = &finding.help {
            message.push_str(&format!("\nhelp: {help}"));
        }
        out.push_str(&format!(
            "::{command} {}::{}\n",
            properties.join(","),
            escape_data(&message)
        ));
    }
    out
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// The one-line summary for people.
pub fn summary_line(summary: Summary) -> String {
    format!(
        "{} error(s), {} warning(s) in {} file(s)",
        summary.errors, summary.warnings, summary.files
    )
}

/// `--list`: one rule per line.
pub fn list() -> String {
    let width = RULES.iter().map(|rule| rule.id.len()).max().unwrap_or(0);
    RULES
        .iter()
        .map(|rule| {
            format!(
                "{:width$}  {:9}  {:7}  {}\n",
                rule.id,
                rule.category.as_str(),
                severity_name(rule.severity),
                rule.summary
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_commands_escape_their_text() {
        assert_eq!(escape_data("50%\nnext"), "50%25%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}
