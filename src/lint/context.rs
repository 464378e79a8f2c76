//! What lint looks at: the workspace's files ([`Workspace`]) and, parsed once, everything the
//! rules share ([`Context`]).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::capability::{self, Exemption, Manifest, Parsed};
use crate::config::ThresholdsConfig;
use crate::diagnostic::{Finding, SourceFile};
use crate::policy::decide::Decider;
use crate::policy::{self, PolicySet, Statement};

/// The files of a studio repository, as texts.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub manifests: Vec<SourceFile>,
    pub exemptions: Vec<SourceFile>,
    pub schema: Option<SourceFile>,
    pub policies: Vec<SourceFile>,
    /// Specs, each with its path relative to the specs directory (what manifests name).
    pub specs: Vec<(String, SourceFile)>,
    /// The state model (`specs/studio-state.yaml`), when the linted files include it.
    pub state_model: Option<SourceFile>,
    /// The swarms' templates (`swarms/marketing/*.yaml`).
    pub templates: Vec<SourceFile>,
    /// The trust & safety term lists (`swarms/trust-safety/*.yaml`).
    pub term_lists: Vec<SourceFile>,
    /// The compliance intake gate's term lists (`specs/intake.yaml`).
    pub intake: Option<SourceFile>,
    pub thresholds: ThresholdsConfig,
    /// Connector ids and built-in targets a capability may name.
    pub known_targets: BTreeSet<String>,
    pub now: DateTime<Utc>,
    /// The studio repository's root, which manifests' `tests:` paths are relative to; `None`
    /// when the tests are not at hand (the built-in demo, whose tests are brain's own).
    pub repository_root: Option<PathBuf>,
    /// What is at each path the manifests list under `tests:`, looked up under
    /// `repository_root` by `workspace` (lint itself does no I/O). A path not in the map is
    /// [`TestFile::Missing`].
    pub test_files: BTreeMap<String, TestFile>,
    /// The service-level objectives brain.yaml declares itself (`slos.objectives`), with the
    /// file for spans; `None` without a brain.yaml or when it declares none (the defaults).
    pub objectives: Option<DeclaredObjectives>,
}

/// `slos.objectives` as brain.yaml writes them.
#[derive(Debug, Clone)]
pub struct DeclaredObjectives {
    pub source: SourceFile,
    pub document: crate::yaml::Document,
    pub objectives: Vec<crate::config::slos::SloConfig>,
}

/// What is at a path a manifest lists under `tests:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestFile {
    /// A file with content, or a directory with entries.
    Present,
    /// Nothing.
    Missing,
    /// A file of zero bytes, or a directory without entries.
    Empty,
    /// Absolute, or climbing out with `..`: not a path in the repository.
    Outside,
}

impl TestFile {
    /// Whether `path` is relative and stays inside the directory it is relative to.
    pub fn inside(path: &str) -> bool {
        let path = std::path::Path::new(path);
        !path.as_os_str().is_empty()
            && path.components().all(|component| {
                matches!(
                    component,
                    std::path::Component::Normal(_) | std::path::Component::CurDir
                )
            })
    }
}

/// Targets every studio has: the cloud sources, the device kinds, and brain itself.
pub const BUILT_IN_TARGETS: &[&str] = &["brain", "firestore", "stripe", "hubitat", "roborock"];

impl Workspace {
    pub fn file_count(&self) -> usize {
        self.manifests.len()
            + self.exemptions.len()
            + usize::from(self.schema.is_some())
            + self.policies.len()
            + self.specs.len()
            + usize::from(self.state_model.is_some())
            + self.templates.len()
            + self.term_lists.len()
            + usize::from(self.intake.is_some())
    }

    /// What is at `path` (as a manifest lists it under `tests:`).
    pub fn test_file(&self, path: &str) -> TestFile {
        if !TestFile::inside(path) {
            return TestFile::Outside;
        }
        self.test_files
            .get(path)
            .copied()
            .unwrap_or(TestFile::Missing)
    }

    /// Every file, for suppressions.
    pub fn files(&self) -> impl Iterator<Item = &SourceFile> {
        self.manifests
            .iter()
            .chain(&self.exemptions)
            .chain(self.schema.iter())
            .chain(&self.policies)
            .chain(self.specs.iter().map(|(_, source)| source))
            .chain(self.state_model.iter())
            .chain(&self.templates)
            .chain(&self.term_lists)
            .chain(self.intake.iter())
    }
}

/// A parsed spec: front matter and `##` headings.
#[derive(Debug, Clone)]
pub struct SpecFile {
    pub relative: String,
    pub source: SourceFile,
    pub front_matter: Option<serde_json::Value>,
    pub headings: Vec<(String, Range<usize>)>,
}

impl SpecFile {
    pub fn parse(relative: &str, source: &SourceFile) -> Self {
        let text = source.text();
        let mut front_matter = None;
        let mut body_start = 0;
        if let Some(rest) = text.strip_prefix("---\n")
            && let Some(end) = rest.find("\n---")
        {
            front_matter = crate::yaml::parse(&rest[..end])
                .ok()
                .map(|document| document.value);
            body_start = 4 + end + 4;
        }
        let mut headings = Vec::new();
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            if offset >= body_start
                && let Some(title) = line.strip_prefix("## ")
            {
                let title = title.trim();
                headings.push((title.to_string(), offset..offset + line.trim_end().len()));
            }
            offset += line.len();
        }
        Self {
            relative: relative.to_string(),
            source: source.clone(),
            front_matter,
            headings,
        }
    }

    pub fn has_heading(&self, wanted: &str) -> bool {
        self.headings
            .iter()
            .any(|(title, _)| title.eq_ignore_ascii_case(wanted))
    }
}

/// A policy file after parsing: its statements, or the syntax findings.
pub struct PolicyFile {
    pub source: SourceFile,
    pub statements: Result<Vec<Statement>, Vec<Finding>>,
}

/// Everything rules share, parsed once.
pub struct Context<'a> {
    pub workspace: &'a Workspace,
    pub manifests: Vec<Parsed<Manifest>>,
    pub exemptions: Vec<Parsed<Exemption>>,
    pub specs: Vec<SpecFile>,
    /// The state model, parsed with its schema and semantic problems as findings.
    pub state_model: Option<Parsed<crate::snapshot::model::StateModel>>,
    /// The swarms' templates, parsed with their placeholder problems as findings.
    pub templates: Vec<Parsed<crate::swarms::marketing::Template>>,
    /// The term lists, parsed with their problems as findings.
    pub term_lists: Vec<Parsed<crate::swarms::trust_safety::TermLists>>,
    /// The intake gate's lists, parsed with their problems as findings.
    pub intake: Option<Parsed<crate::intake::IntakeTerms>>,
    pub policy_files: Vec<PolicyFile>,
    /// Findings of loading the whole set (schema, ids, strict validation).
    pub policy_findings: Vec<Finding>,
    /// The validated set, when it has no errors.
    pub policies: Option<Arc<PolicySet>>,
    pub decider: Option<Decider>,
}

impl<'a> Context<'a> {
    pub fn new(workspace: &'a Workspace) -> Self {
        let manifests = workspace
            .manifests
            .iter()
            .map(|source| capability::parse_manifest(source.clone()))
            .collect();
        let exemptions = workspace
            .exemptions
            .iter()
            .map(|source| capability::parse_exemption(source.clone()))
            .collect();
        let specs = workspace
            .specs
            .iter()
            .map(|(relative, source)| SpecFile::parse(relative, source))
            .collect();
        let state_model = workspace
            .state_model
            .as_ref()
            .map(|source| crate::snapshot::model::parse(source.clone()));
        let templates = workspace
            .templates
            .iter()
            .map(|source| crate::swarms::marketing::parse_template(source.clone()))
            .collect();
        let term_lists = workspace
            .term_lists
            .iter()
            .map(|source| crate::swarms::trust_safety::parse_terms(source.clone()))
            .collect();
        let intake = workspace
            .intake
            .as_ref()
            .map(|source| crate::intake::parse(source.clone()));
        let policy_files = workspace
            .policies
            .iter()
            .map(|source| PolicyFile {
                source: source.clone(),
                statements: policy::parse_file(source),
            })
            .collect();
        let (policies, policy_findings) = match &workspace.schema {
            Some(schema) => {
                let (set, findings) = policy::load(schema, &workspace.policies);
                (set.map(Arc::new), findings)
            }
            None => (None, Vec::new()),
        };
        let decider = policies.clone().map(Decider::new);
        Self {
            workspace,
            manifests,
            exemptions,
            specs,
            state_model,
            templates,
            term_lists,
            intake,
            policy_files,
            policy_findings,
            policies,
            decider,
        }
    }

    /// Manifests that parsed, with their parse result (for spans).
    pub fn valid_manifests(&self) -> impl Iterator<Item = (&Parsed<Manifest>, &Manifest)> {
        self.manifests
            .iter()
            .filter_map(|parsed| parsed.value.as_ref().map(|manifest| (parsed, manifest)))
    }

    pub fn manifest(&self, id: &str) -> Option<&Manifest> {
        self.valid_manifests()
            .map(|(_, manifest)| manifest)
            .find(|manifest| manifest.id == id)
    }

    /// Every parsed policy statement with its file.
    pub fn statements(&self) -> impl Iterator<Item = (&SourceFile, &Statement)> {
        self.policy_files.iter().flat_map(|file| {
            file.statements
                .iter()
                .flatten()
                .map(move |statement| (&file.source, statement))
        })
    }

    pub fn spec(&self, relative: &str) -> Option<&SpecFile> {
        self.specs.iter().find(|spec| spec.relative == relative)
    }
}

/// A finding at the key of `pointer` in a parsed YAML file (the file itself when absent).
pub fn at_key<T>(parsed: &Parsed<T>, finding: Finding, pointer: &str, label: &str) -> Finding {
    match &parsed.document {
        Some(document) if document.contains(pointer) => {
            finding.at(&parsed.source, document.key_span(pointer), label)
        }
        Some(document) => finding.at(&parsed.source, first_line(&parsed.source, document), label),
        None => finding.in_file(&parsed.source),
    }
}

/// A finding at the value of `pointer` (the file's first line when absent).
pub fn at_value<T>(parsed: &Parsed<T>, finding: Finding, pointer: &str, label: &str) -> Finding {
    match &parsed.document {
        Some(document) if document.contains(pointer) => {
            finding.at(&parsed.source, document.value_span(pointer), label)
        }
        Some(document) => finding.at(&parsed.source, first_line(&parsed.source, document), label),
        None => finding.in_file(&parsed.source),
    }
}

/// The first non-comment line of a file, to point at when the key in question is absent.
fn first_line(source: &SourceFile, document: &crate::yaml::Document) -> Range<usize> {
    let start = document.value_span("").start;
    let text = source.text();
    let end = text[start..]
        .find('\n')
        .map_or(text.len(), |offset| start + offset);
    start..end
}
