//! The Cedar policy set: parse the schema and the policy files, check every policy's `@id`,
//! validate strictly against the schema, and describe each policy (id, effect, reason code,
//! kill switch, file and span).
//!
//! Policies are renamed from Cedar's positional ids (`policy0`, ...) to their `@id` annotation,
//! so every decision and finding reports the ids people wrote.
//!
//! Architecture Invariant: no I/O here; callers hand in file texts (see `workspace`).
//! Architecture Invariant: a policy set with any error finding is never returned.

pub mod decide;
pub mod reasons;
pub mod request;
pub mod synthetic;
pub mod testing;

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use cedar_policy::{Effect, PolicyId, Schema, ValidationMode, Validator};
use miette::Diagnostic;

use crate::diagnostic::{Finding, Severity, SourceFile};

/// A loaded, validated policy set.
#[derive(Debug, Clone)]
pub struct PolicySet {
    pub cedar: cedar_policy::PolicySet,
    pub schema: Schema,
    pub policies: Vec<PolicyInfo>,
    /// SHA-256 over the schema and policy files (names and texts), to stamp decisions.
    pub hash: String,
}

/// What brain knows of one policy.
#[derive(Debug, Clone)]
pub struct PolicyInfo {
    pub id: String,
    pub effect: Effect,
    pub reason: Option<String>,
    pub kill_switch: Option<String>,
    pub file: String,
    pub span: Range<usize>,
    pub annotations: BTreeMap<String, String>,
}

impl PolicySet {
    /// Names of the kill switches the set declares (`global`, `physical`, `target:*`, ...).
    pub fn kill_switches(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .policies
            .iter()
            .filter_map(|policy| policy.kill_switch.as_deref())
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Whether a forbid declares the `global` kill switch.
    pub fn has_global_kill_switch(&self) -> bool {
        self.policies.iter().any(|policy| {
            policy.effect == Effect::Forbid && policy.kill_switch.as_deref() == Some("global")
        })
    }

    pub fn policy(&self, id: &str) -> Option<&PolicyInfo> {
        self.policies.iter().find(|policy| policy.id == id)
    }
}

/// Parse and validate. Returns the set when there is no error, and every finding either way.
pub fn load(schema_source: &SourceFile, files: &[SourceFile]) -> (Option<PolicySet>, Vec<Finding>) {
    let mut findings = Vec::new();
    let schema = match Schema::from_cedarschema_str(schema_source.text()) {
        Ok((schema, warnings)) => {
            for warning in warnings {
                findings.push(from_diagnostic(
                    &warning,
                    "cedar::schema_warning",
                    Severity::Warning,
                    schema_source,
                ));
            }
            Some(schema)
        }
        Err(error) => {
            findings.push(from_diagnostic(
                &error,
                "cedar::schema",
                Severity::Error,
                schema_source,
            ));
            None
        }
    };

    let mut combined = cedar_policy::PolicySet::new();
    let mut infos: Vec<PolicyInfo> = Vec::new();
    let mut first_seen: HashMap<String, String> = HashMap::new();
    for file in files {
        let statements = match parse_file(file) {
            Ok(statements) => statements,
            Err(errors) => {
                findings.extend(errors);
                continue;
            }
        };
        for statement in statements {
            let Some(id) = statement.id.clone() else {
                findings.push(
                    Finding::error("cedar::missing_id", "policy has no `@id` annotation")
                        .at(file, head(file, &statement.span), "no @id")
                        .with_help("add `@id(\"area.what-it-does\")` above the policy; brain reports decisions by that id"),
                );
                continue;
            };
            if let Some(first_file) = first_seen.get(&id) {
                findings.push(
                    Finding::error(
                        "cedar::duplicate_id",
                        format!("policy id `{id}` is used twice"),
                    )
                    .at(file, head(file, &statement.span), "second use")
                    .with_help(format!(
                        "the first use is in `{first_file}`; give each policy its own `@id`"
                    )),
                );
                continue;
            }
            first_seen.insert(id.clone(), file.name.clone());
            if let Err(error) = combined.add(statement.policy.new_id(PolicyId::new(&id))) {
                findings.push(
                    Finding::error(
                        "cedar::policy_set",
                        format!("cannot add policy `{id}`: {error}"),
                    )
                    .at(file, head(file, &statement.span), "here"),
                );
                continue;
            }
            infos.push(PolicyInfo {
                id,
                effect: statement.policy.effect(),
                reason: statement.annotations.get("reason").cloned(),
                kill_switch: statement.annotations.get("kill_switch").cloned(),
                file: file.name.clone(),
                span: statement.span,
                annotations: statement.annotations,
            });
        }
    }

    if let Some(schema) = &schema {
        let files_by_name: HashMap<&str, &SourceFile> = files
            .iter()
            .map(|file| (file.name.as_str(), file))
            .collect();
        let file_of = |policy_id: &PolicyId| {
            infos
                .iter()
                .find(|info| info.id == policy_id.as_ref())
                .and_then(|info| files_by_name.get(info.file.as_str()).copied())
        };
        let result = Validator::new(schema.clone()).validate(&combined, ValidationMode::Strict);
        for error in result.validation_errors() {
            if let Some(file) = file_of(error.policy_id()) {
                findings.push(from_diagnostic(
                    error,
                    "cedar::validation",
                    Severity::Error,
                    file,
                ));
            }
        }
        for warning in result.validation_warnings() {
            if let Some(file) = file_of(warning.policy_id()) {
                findings.push(from_diagnostic(
                    warning,
                    "cedar::validation_warning",
                    Severity::Warning,
                    file,
                ));
            }
        }
    }

    let has_errors = findings
        .iter()
        .any(|finding| finding.severity == Severity::Error);
    let set = match schema {
        Some(schema) if !has_errors => Some(PolicySet {
            cedar: combined,
            schema,
            policies: infos,
            hash: hash_sources(schema_source, files),
        }),
        _ => None,
    };
    (set, findings)
}

/// One policy of a file, with its span and annotations, before renaming.
#[derive(Debug, Clone)]
pub struct Statement {
    pub policy: cedar_policy::Policy,
    pub id: Option<String>,
    pub annotations: BTreeMap<String, String>,
    pub span: Range<usize>,
}

/// Parse one Cedar file into its policies, in file order. Templates are refused.
pub fn parse_file(file: &SourceFile) -> Result<Vec<Statement>, Vec<Finding>> {
    let parsed: cedar_policy::PolicySet = match file.text().parse() {
        Ok(parsed) => parsed,
        Err(error) => {
            let errors: &cedar_policy::ParseErrors = &error;
            return Err(errors
                .iter()
                .map(|error| from_diagnostic(error, "cedar::syntax", Severity::Error, file))
                .collect());
        }
    };
    if parsed.templates().next().is_some() {
        return Err(vec![
            Finding::error("cedar::template", "policy templates are not supported")
                .in_file(file)
                .with_help(
                    "write concrete policies; exemptions and delegations are data, not templates",
                ),
        ]);
    }
    let spans = split_statements(file.text());
    let mut positional: Vec<&cedar_policy::Policy> = parsed.policies().collect();
    positional.sort_by_key(|policy| positional_index(policy.id().as_ref()));
    Ok(positional
        .into_iter()
        .enumerate()
        .map(|(index, policy)| {
            let annotations: BTreeMap<String, String> = policy
                .annotations()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect();
            Statement {
                policy: policy.clone(),
                id: annotations.get("id").cloned(),
                annotations,
                span: spans.get(index).cloned().unwrap_or(0..0),
            }
        })
        .collect())
}

fn positional_index(id: &str) -> usize {
    id.strip_prefix("policy")
        .and_then(|number| number.parse().ok())
        .unwrap_or(usize::MAX)
}

/// The first line of a policy statement, to point at without underlining the whole policy.
pub fn head(file: &SourceFile, span: &Range<usize>) -> Range<usize> {
    let text = &file.text()[span.clone()];
    let end = text.find('\n').unwrap_or(text.len());
    span.start..span.start + end
}

fn hash_sources(schema: &SourceFile, files: &[SourceFile]) -> String {
    let mut material = String::new();
    for file in std::iter::once(schema).chain(files) {
        material.push_str(&file.name);
        material.push('\0');
        material.push_str(file.text());
        material.push('\0');
    }
    crate::audit::sha256_hex(material.as_bytes())
}

/// Turn a Cedar diagnostic into a finding in `file`.
pub fn from_diagnostic(
    diagnostic: &dyn Diagnostic,
    code: &str,
    severity: Severity,
    file: &SourceFile,
) -> Finding {
    let mut finding = match severity {
        Severity::Error => Finding::error(code, diagnostic.to_string()),
        Severity::Warning => Finding::warning(code, diagnostic.to_string()),
    };
    let label = diagnostic.labels().and_then(|mut labels| labels.next());
    finding = match label {
        Some(label) => {
            let start = label.offset().min(file.text().len());
            let end = (label.offset() + label.len()).min(file.text().len());
            finding.at(
                file,
                start..end,
                label.label().unwrap_or("here").to_string(),
            )
        }
        None => finding.in_file(file),
    };
    if let Some(help) = diagnostic.help() {
        finding = finding.with_help(help.to_string());
    }
    finding
}

/// Byte ranges of the top-level statements (policies) of a Cedar file, in order: from the first
/// character that is not whitespace or a comment to the closing `;`.
pub fn split_statements(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut statements = Vec::new();
    let mut depth: i32 = 0;
    let mut start: Option<usize> = None;
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        match byte {
            b'/' if bytes.get(index + 1) == Some(&b'/') => {
                while index < bytes.len() && bytes[index] != b'\n' {
                    index += 1;
                }
                continue;
            }
            b'"' => {
                start.get_or_insert(index);
                index += 1;
                while index < bytes.len() && bytes[index] != b'"' {
                    if bytes[index] == b'\\' {
                        index += 1;
                    }
                    index += 1;
                }
            }
            b'(' | b'{' | b'[' => {
                start.get_or_insert(index);
                depth += 1;
            }
            b')' | b'}' | b']' => depth -= 1,
            b';' if depth <= 0 => {
                if let Some(begin) = start.take() {
                    statements.push(begin..index + 1);
                }
                depth = 0;
            }
            byte if byte.is_ascii_whitespace() => {}
            _ => {
                start.get_or_insert(index);
            }
        }
        index += 1;
    }
    statements
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"
        entity User;
        entity Doc;
        action read appliesTo { principal: [User], resource: [Doc] };
    "#;

    fn load_text(text: &str) -> (Option<PolicySet>, Vec<Finding>) {
        load(
            &SourceFile::new("brain.cedarschema", SCHEMA),
            &[SourceFile::new("p.cedar", text)],
        )
    }

    #[test]
    fn splits_statements_around_comments_and_strings() {
        let text = "// a; comment\n@id(\"a;b\")\npermit (principal, action, resource);\n\n@id(\"c\") forbid (principal, action, resource) when { \"x;\" == \"y\" };";
        let statements = split_statements(text);
        assert_eq!(statements.len(), 2);
        assert!(text[statements[0].clone()].starts_with("@id(\"a;b\")"));
        assert!(text[statements[1].clone()].ends_with("};"));
    }

    #[test]
    fn policies_are_renamed_to_their_id() {
        let (set, findings) = load_text(
            "@id(\"docs.read\") permit (principal, action == Action::\"read\", resource);\n\
             @id(\"docs.kill\") @reason(\"KILL_SWITCH_ACTIVE\") @kill_switch(\"global\") forbid (principal, action, resource);",
        );
        assert!(findings.is_empty(), "{findings:?}");
        let set = set.unwrap();
        assert!(set.policy("docs.read").is_some());
        assert!(set.has_global_kill_switch());
        assert_eq!(set.kill_switches(), vec!["global"]);
    }

    #[test]
    fn missing_and_duplicate_ids_and_strict_validation_are_findings() {
        let (set, findings) = load_text(
            "permit (principal, action, resource);\n\
             @id(\"x\") permit (principal, action, resource);\n\
             @id(\"x\") permit (principal, action, resource);\n\
             @id(\"y\") permit (principal is User, action == Action::\"read\", resource) when { principal.nope == 1 };",
        );
        assert!(set.is_none());
        let codes: Vec<&str> = findings
            .iter()
            .map(|finding| finding.code.as_str())
            .collect();
        assert!(codes.contains(&"cedar::missing_id"), "{codes:?}");
        assert!(codes.contains(&"cedar::duplicate_id"), "{codes:?}");
        assert!(codes.contains(&"cedar::validation"), "{codes:?}");
    }

    #[test]
    fn syntax_errors_point_into_the_file() {
        let (set, findings) = load_text("@id(\"x\") permit (principal, action resource);");
        assert!(set.is_none());
        assert_eq!(findings[0].code, "cedar::syntax");
        assert!(findings[0].span.is_some());
    }
}
