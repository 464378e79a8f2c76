//! The studio repository on disk: reads the policy set's files (the I/O edge of `policy`), and
//! checks the parts of the config contract that need the policy set.

use std::path::{Path, PathBuf};

use crate::config::{ConnectorMode, LoadedConfig};
use crate::diagnostic::{Finding, Findings, SourceFile, plural};
use crate::policy::{self, PolicySet};

/// Why the policy files could not be read.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum WorkspaceError {
    #[error("cannot read `{path}`: {cause}")]
    #[diagnostic(
        code(workspace::unreadable),
        help("check the path and its permissions")
    )]
    Unreadable { path: String, cause: String },
    #[error("no Cedar schema in `{dir}`")]
    #[diagnostic(
        code(workspace::no_schema),
        help("add `brain.cedarschema` to the policies directory (`brain init` writes one)")
    )]
    NoSchema { dir: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Invalid(#[from] Findings),
}

/// How a path is shown in messages: relative to the current directory when it is inside it.
pub fn display_path(path: &Path) -> String {
    let current = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&current)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Read one file as a [`SourceFile`].
pub fn read_source(path: &Path) -> Result<SourceFile, WorkspaceError> {
    let text = std::fs::read_to_string(path).map_err(|error| WorkspaceError::Unreadable {
        path: display_path(path),
        cause: error.to_string(),
    })?;
    Ok(SourceFile::new(display_path(path), text))
}

/// Files in `dir` with extension `extension`, sorted; recursive when `recursive`.
pub fn files_with_extension(
    dir: &Path,
    extension: &str,
    recursive: bool,
) -> Result<Vec<PathBuf>, WorkspaceError> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current).map_err(|error| WorkspaceError::Unreadable {
            path: display_path(&current),
            cause: error.to_string(),
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if recursive {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|found| found == extension) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Read the schema and the policy files of a policies directory.
pub fn read_policy_files(dir: &Path) -> Result<(SourceFile, Vec<SourceFile>), WorkspaceError> {
    let schemas = files_with_extension(dir, "cedarschema", false)?;
    let schema_path = schemas
        .iter()
        .find(|path| {
            path.file_name()
                .is_some_and(|name| name == "brain.cedarschema")
        })
        .or_else(|| schemas.first())
        .ok_or_else(|| WorkspaceError::NoSchema {
            dir: display_path(dir),
        })?;
    let schema = read_source(schema_path)?;
    let policies = files_with_extension(dir, "cedar", true)?
        .iter()
        .map(|path| read_source(path))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((schema, policies))
}

/// Read and validate the policy set the config points at.
pub fn load_policy_set(config: &LoadedConfig) -> Result<PolicySet, WorkspaceError> {
    let (schema, files) = read_policy_files(&config.policies_dir())?;
    let (set, findings) = policy::load(&schema, &files);
    match set {
        Some(set) => Ok(set),
        None => {
            let errors = findings
                .iter()
                .filter(|finding| finding.severity == crate::diagnostic::Severity::Error)
                .count();
            Err(WorkspaceError::Invalid(Findings::new(
                format!("the policy set has {}", plural(errors, "error")),
                findings,
            )))
        }
    }
}

/// The config checks that need the policy set: a write-capable connector is refused while the
/// policy set declares no `global` kill switch.
pub fn check_contract(config: &LoadedConfig, policies: &PolicySet) -> Vec<Finding> {
    let mut findings = Vec::new();
    if policies.has_global_kill_switch() {
        return findings;
    }
    for (index, connector) in config.config.connectors.iter().enumerate() {
        if connector.enabled && connector.mode == ConnectorMode::Write {
            let pointer = format!("/connectors/{index}/mode");
            findings.push(
                Finding::error(
                    "config::no_global_kill_switch",
                    format!(
                        "connector `{}` can write, but the policy set declares no `global` kill switch",
                        connector.id
                    ),
                )
                .at(&config.source, config.document.value_span(&pointer), "write-capable connector")
                .with_help(
                    "add a forbid policy annotated `@kill_switch(\"global\")` to the policies directory (`brain init` writes one), or set `mode: read`",
                ),
            );
        }
    }
    findings
}

/// Warnings about the config against the capability manifests: a configured cloud source or an
/// enabled device connector whose reads no manifest covers. Every such read would be denied
/// (`UNKNOWN_CAPABILITY`): snapshots partial, devices never polled. Manifests that do not parse are
/// skipped here (lint and loading report them).
pub fn check_read_capabilities(config: &LoadedConfig) -> Vec<Finding> {
    let dir = config.capabilities_dir();
    let mut manifests = std::collections::BTreeMap::new();
    for path in files_with_extension(&dir, "yaml", false).unwrap_or_default() {
        let Ok(source) = read_source(&path) else {
            continue;
        };
        if let Some(manifest) = crate::capability::parse_manifest(source).value {
            manifests.insert(manifest.id.clone(), manifest);
        }
    }
    let shown_dir = display_path(&dir);
    let mut findings = Vec::new();
    for (pointer, capability) in crate::cloud::read_capabilities(config) {
        if manifests.contains_key(capability) {
            continue;
        }
        let key = pointer.trim_start_matches('/').replace('/', ".");
        findings.push(
            Finding::warning(
                "config::no_read_capability",
                format!(
                    "`{key}` is read under capability `{capability}`, which has no manifest in `{shown_dir}`"
                ),
            )
            .at(&config.source, config.document.key_span(pointer), "configured here")
            .with_help(format!(
                "add `{shown_dir}/{capability}.yaml` (`brain init` writes one); without it every read is denied (UNKNOWN_CAPABILITY) and snapshots are partial"
            )),
        );
    }
    for (index, connector) in config.config.connectors.iter().enumerate() {
        if !crate::connectors::fleet::is_polled(connector) {
            continue;
        }
        let Err(problem) = crate::connectors::fleet::read_capability(&manifests, &connector.id)
        else {
            continue;
        };
        let targeting = manifests
            .values()
            .filter(|manifest| manifest.target == connector.id && manifest.mode.as_str() == "read")
            .count();
        let scaffolded = crate::connectors::registry::spec(connector.kind)
            .map(|spec| spec.read_capability)
            .unwrap_or_default();
        let id = &connector.id;
        let (message, help) = if targeting > 1 {
            (
                format!("connector `{id}` cannot be polled: {problem}"),
                "a connector reads under exactly one capability".to_string(),
            )
        } else if connector.id == connector.kind.as_str() {
            (
                format!(
                    "connector `{id}` has no read capability: no manifest in `{shown_dir}` reads it (`{scaffolded}`)"
                ),
                format!(
                    "add `{shown_dir}/{scaffolded}.yaml` (`brain init` writes one); until then the connector is never polled"
                ),
            )
        } else {
            (
                format!(
                    "connector `{id}` has no read capability: no manifest in `{shown_dir}` has `mode: read` and `target: {id}`"
                ),
                format!(
                    "add one, like `{scaffolded}.yaml` (which `brain init` writes for `target: {}`); until then the connector is never polled",
                    connector.kind.as_str()
                ),
            )
        };
        findings.push(
            Finding::warning("config::no_read_capability", message)
                .at(
                    &config.source,
                    config
                        .document
                        .value_span(&format!("/connectors/{index}/id")),
                    "this connector",
                )
                .with_help(help),
        );
    }
    findings
}

/// Build the lint workspace: the files under `paths` (or, with none, the config's policies,
/// capabilities and specs directories), classified by extension and place.
pub fn lint_workspace(
    config: &LoadedConfig,
    paths: &[PathBuf],
) -> Result<crate::lint::Workspace, WorkspaceError> {
    use crate::lint::context::BUILT_IN_TARGETS;

    let state_model_path = config.state_model_path();
    let intake_path = config.intake_path();
    let roots: Vec<PathBuf> = if paths.is_empty() {
        vec![
            config.policies_dir(),
            config.capabilities_dir(),
            config.specs_dir(),
            state_model_path.clone(),
            intake_path.clone(),
            config.swarms_dir(),
        ]
    } else {
        paths.to_vec()
    };
    let specs_dir = config.specs_dir();
    let mut workspace = crate::lint::Workspace {
        manifests: Vec::new(),
        exemptions: Vec::new(),
        schema: None,
        policies: Vec::new(),
        specs: Vec::new(),
        state_model: None,
        templates: Vec::new(),
        term_lists: Vec::new(),
        intake: None,
        thresholds: config.config.thresholds.clone(),
        known_targets: BUILT_IN_TARGETS
            .iter()
            .map(|target| target.to_string())
            .chain(
                config
                    .config
                    .connectors
                    .iter()
                    .map(|connector| connector.id.clone()),
            )
            .collect(),
        now: crate::clock::now(),
        repository_root: config.repository_root(),
        test_files: std::collections::BTreeMap::new(),
        objectives: match &config.origin {
            crate::config::ConfigOrigin::File(_)
                if config.document.contains("/slos/objectives") =>
            {
                Some(crate::lint::DeclaredObjectives {
                    source: config.source.clone(),
                    document: config.document.clone(),
                    objectives: config.config.slos.objectives.clone(),
                })
            }
            _ => None,
        },
    };
    let mut files = Vec::new();
    for root in &roots {
        if root.is_file() {
            files.push(root.clone());
        } else if root.is_dir() {
            collect_files(root, &mut files)?;
        } else if !paths.is_empty() {
            return Err(WorkspaceError::Unreadable {
                path: display_path(root),
                cause: "no such file or directory".into(),
            });
        }
    }
    files.sort();
    files.dedup();
    let mut schemas = Vec::new();
    for path in files {
        let components: Vec<String> = path
            .components()
            .map(|component| component.as_os_str().to_string_lossy().into_owned())
            .collect();
        let has = |name: &str| components.iter().any(|component| component == name);
        let policies_at = components
            .iter()
            .position(|component| component == "policies");
        let policy_test = policies_at.is_some_and(|at| {
            components[at..]
                .iter()
                .any(|component| component == "tests")
        });
        let in_specs = path.starts_with(&specs_dir) || has("specs");
        let file_name = components.last().cloned().unwrap_or_default();
        match path.extension().and_then(|extension| extension.to_str()) {
            Some("cedarschema") => schemas.push(path),
            Some("cedar") => workspace.policies.push(read_source(&path)?),
            Some("yaml" | "yml")
                if path == state_model_path
                    || (in_specs && file_name == crate::snapshot::model::FILE_NAME) =>
            {
                workspace.state_model = Some(read_source(&path)?);
            }
            Some("yaml" | "yml")
                if path == intake_path || (in_specs && file_name == crate::intake::FILE_NAME) =>
            {
                workspace.intake = Some(read_source(&path)?);
            }
            Some("yaml" | "yml") if file_name == "brain.yaml" || policy_test || has("schemas") => {}
            Some("yaml" | "yml") if has("swarms") && has("trust-safety") => {
                workspace.term_lists.push(read_source(&path)?)
            }
            Some("yaml" | "yml") if has("swarms") => workspace.templates.push(read_source(&path)?),
            Some("yaml" | "yml") if has("exemptions") => {
                workspace.exemptions.push(read_source(&path)?)
            }
            Some("yaml" | "yml") => workspace.manifests.push(read_source(&path)?),
            Some("md") if file_name.eq_ignore_ascii_case("README.md") || !in_specs => {}
            Some("md") => {
                let relative = path
                    .strip_prefix(&specs_dir)
                    .ok()
                    .or_else(|| {
                        let index = components
                            .iter()
                            .rposition(|component| component == "specs")?;
                        let prefix: PathBuf = components[..=index].iter().collect();
                        path.strip_prefix(prefix).ok()
                    })
                    .map_or_else(
                        || file_name.clone(),
                        |relative| relative.display().to_string(),
                    );
                workspace.specs.push((relative, read_source(&path)?));
            }
            _ => {}
        }
    }
    let schema = schemas
        .iter()
        .find(|path| {
            path.file_name()
                .is_some_and(|name| name == "brain.cedarschema")
        })
        .or_else(|| schemas.first())
        .cloned();
    workspace.schema = match schema {
        Some(path) => Some(read_source(&path)?),
        None => {
            let default = config.policies_dir().join("brain.cedarschema");
            if default.is_file() && !workspace.policies.is_empty() {
                Some(read_source(&default)?)
            } else {
                None
            }
        }
    };
    if workspace.policies.is_empty() && !paths.is_empty() {
        // Linting manifests alone: judge them against the configured policy set.
        if let Ok((schema, policies)) = read_policy_files(&config.policies_dir()) {
            workspace.schema = Some(schema);
            workspace.policies = policies;
        }
    }
    if let Some(root) = &workspace.repository_root {
        workspace.test_files = look_up_test_files(root, &workspace.manifests);
    }
    Ok(workspace)
}

/// What is at each path the manifests list under `tests:`, under `root`. Only the YAML is read
/// here (lint parses the manifests properly); paths outside the repository are not looked up.
fn look_up_test_files(
    root: &Path,
    manifests: &[SourceFile],
) -> std::collections::BTreeMap<String, crate::lint::context::TestFile> {
    use crate::lint::context::TestFile;

    let mut found = std::collections::BTreeMap::new();
    for manifest in manifests {
        let Ok(document) = crate::yaml::parse(manifest.text()) else {
            continue;
        };
        let listed = document
            .value
            .get("tests")
            .and_then(|tests| tests.as_array());
        for path in listed
            .into_iter()
            .flatten()
            .filter_map(|path| path.as_str())
        {
            if found.contains_key(path) || !TestFile::inside(path) {
                continue;
            }
            let full = root.join(path);
            let state = match std::fs::metadata(&full) {
                Err(_) => TestFile::Missing,
                Ok(metadata) if metadata.is_dir() => {
                    let has_entries = std::fs::read_dir(&full)
                        .map(|mut entries| entries.next().is_some())
                        .unwrap_or(false);
                    if has_entries {
                        TestFile::Present
                    } else {
                        TestFile::Empty
                    }
                }
                Ok(metadata) if metadata.len() == 0 => TestFile::Empty,
                Ok(_) => TestFile::Present,
            };
            found.insert(path.to_string(), state);
        }
    }
    found
}

/// Every file under `dir`, skipping hidden directories, `target/` and local state.
fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), WorkspaceError> {
    let entries = std::fs::read_dir(dir).map_err(|error| WorkspaceError::Unreadable {
        path: display_path(dir),
        cause: error.to_string(),
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "node_modules" {
                collect_files(&path, files)?;
            }
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// Read and parse the declared exemptions (`capabilities/exemptions/*.yaml`). Any invalid file is
/// an error: an exemption brain cannot read must not silently apply or silently vanish.
pub fn load_exemptions(
    config: &LoadedConfig,
) -> Result<Vec<crate::engine::DeclaredExemption>, WorkspaceError> {
    let dir = config.capabilities_dir().join("exemptions");
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut exemptions = Vec::new();
    let mut findings = Vec::new();
    for path in files_with_extension(&dir, "yaml", false)? {
        let parsed = crate::capability::parse_exemption(read_source(&path)?);
        findings.extend(parsed.findings);
        if let Some(exemption) = parsed.value {
            exemptions.push(crate::engine::DeclaredExemption {
                file: display_path(&path),
                exemption,
            });
        }
    }
    if findings.is_empty() {
        Ok(exemptions)
    } else {
        Err(WorkspaceError::Invalid(Findings::new(
            format!(
                "{} in the declared exemptions (`brain lint` shows everything)",
                plural(findings.len(), "problem")
            ),
            findings,
        )))
    }
}

/// Read and parse every capability manifest of the config (not the exemptions). Any invalid
/// manifest is an error listing every problem.
pub fn load_manifests(
    config: &LoadedConfig,
) -> Result<Vec<crate::capability::Manifest>, WorkspaceError> {
    let mut manifests = Vec::new();
    let mut findings = Vec::new();
    for path in files_with_extension(&config.capabilities_dir(), "yaml", false)? {
        let parsed = crate::capability::parse_manifest(read_source(&path)?);
        findings.extend(parsed.findings);
        manifests.extend(parsed.value);
    }
    if findings.is_empty() {
        Ok(manifests)
    } else {
        Err(WorkspaceError::Invalid(Findings::new(
            format!(
                "{} in the capability manifests (`brain lint` shows everything)",
                plural(findings.len(), "problem")
            ),
            findings,
        )))
    }
}

/// The state model the config points at (`policy.state_model`, else `studio-state.yaml` in the
/// specs directory), or the model built into brain when the studio repository has none; the
/// second value says so, as a warning to show. A model with any problem is an error listing
/// every problem.
pub fn load_state_model(
    config: &LoadedConfig,
) -> Result<(crate::snapshot::Model, Option<Finding>), WorkspaceError> {
    use crate::snapshot::model;

    let path = config.state_model_path();
    if !path.is_file() && config.config.policy.state_model.is_none() {
        let built_in = model::Model::built_in();
        let warning = Finding::warning(
            "config::built_in_state_model",
            format!(
                "no state model at `{}`: StudioState counts records with the model built into brain (`{}` v{})",
                display_path(&path),
                built_in.model.id,
                built_in.model.version
            ),
        )
        .with_help(format!(
            "write the studio's own model to `{}` (`brain schema state-model` documents it) so the counts follow its records",
            display_path(&path)
        ));
        return Ok((built_in, Some(warning)));
    }
    let parsed = model::parse(read_source(&path)?);
    match parsed.value {
        Some(value) if parsed.findings.is_empty() => {
            let compiled = model::Model::new(value, display_path(&path)).map_err(|problem| {
                WorkspaceError::Unreadable {
                    path: display_path(&path),
                    cause: problem,
                }
            })?;
            Ok((compiled, None))
        }
        _ => Err(WorkspaceError::Invalid(Findings::new(
            format!(
                "the state model `{}` has {} (`brain lint` shows everything)",
                display_path(&path),
                plural(parsed.findings.len(), "problem")
            ),
            parsed.findings,
        ))),
    }
}

/// The marketing swarm's post templates (`swarms/marketing/*.yaml` in the studio repository),
/// or the ones built into brain when the repository has none; the second value says so, as a
/// warning to show. Any invalid template is an error listing every problem.
pub fn load_templates(
    config: &LoadedConfig,
) -> Result<(Vec<crate::swarms::marketing::Template>, Option<Finding>), WorkspaceError> {
    use crate::swarms::marketing;

    let dir = config.swarms_dir().join("marketing");
    let (sources, warning) = if dir.is_dir() {
        let sources = files_with_extension(&dir, "yaml", false)?
            .iter()
            .map(|path| read_source(path))
            .collect::<Result<Vec<_>, _>>()?;
        (sources, None)
    } else {
        let warning = config.config.swarms.marketing.as_ref().map(|_| {
            Finding::warning(
                "config::built_in_templates",
                format!(
                    "no post templates at `{}`: the marketing swarm drafts from the templates built into brain",
                    display_path(&dir)
                ),
            )
            .with_help("write the studio's own templates there (`brain lint` checks them)")
        });
        let sources = marketing::BUILT_IN_TEMPLATES
            .iter()
            .map(|(name, text)| SourceFile::new(format!("built-in {name}"), *text))
            .collect();
        (sources, warning)
    };
    let mut templates = Vec::new();
    let mut findings = Vec::new();
    for source in sources {
        let parsed = marketing::parse_template(source);
        findings.extend(parsed.findings);
        templates.extend(parsed.value);
    }
    if findings.is_empty() {
        Ok((templates, warning))
    } else {
        Err(WorkspaceError::Invalid(Findings::new(
            format!(
                "{} in the marketing templates (`brain lint` shows everything)",
                plural(findings.len(), "problem")
            ),
            findings,
        )))
    }
}

/// The trust & safety term lists (`swarms/trust-safety/terms.yaml`), or the ones built into
/// brain when the repository has none (with a warning when the triage is configured).
pub fn load_terms(
    config: &LoadedConfig,
) -> Result<(crate::swarms::trust_safety::Lists, Option<Finding>), WorkspaceError> {
    use crate::swarms::trust_safety;

    let path = config.swarms_dir().join("trust-safety").join("terms.yaml");
    if !path.is_file() {
        let warning = config.config.swarms.trust_safety.as_ref().map(|_| {
            Finding::warning(
                "config::built_in_terms",
                format!(
                    "no term lists at `{}`: the trust & safety triage uses the lists built into brain",
                    display_path(&path)
                ),
            )
            .with_help("write the studio's own lists there (`brain lint` checks them)")
        });
        return Ok((trust_safety::Lists::built_in(), warning));
    }
    let parsed = trust_safety::parse_terms(read_source(&path)?);
    match parsed.value {
        Some(lists) if parsed.findings.is_empty() => Ok((trust_safety::Lists::new(&lists), None)),
        _ => Err(WorkspaceError::Invalid(Findings::new(
            format!(
                "the term lists `{}` have {} (`brain lint` shows everything)",
                display_path(&path),
                plural(parsed.findings.len(), "problem")
            ),
            parsed.findings,
        ))),
    }
}

/// The compliance intake gate's term lists (`policy.intake`, else `intake.yaml` in the specs
/// directory), or the ones built into brain when the repository has none (with a warning).
pub fn load_intake(
    config: &LoadedConfig,
) -> Result<(crate::intake::Classifier, Option<Finding>), WorkspaceError> {
    let path = config.intake_path();
    if !path.is_file() && config.config.policy.intake.is_none() {
        let warning = Finding::warning(
            "config::built_in_intake",
            format!(
                "no intake term lists at `{}`: the compliance intake gate uses the lists built into brain",
                display_path(&path)
            ),
        )
        .with_help("write the studio's own lists there (`brain lint` checks them)");
        return Ok((crate::intake::Classifier::built_in(), Some(warning)));
    }
    let parsed = crate::intake::parse(read_source(&path)?);
    match parsed.value {
        Some(lists) if parsed.findings.is_empty() => Ok((
            crate::intake::Classifier::new(&lists, display_path(&path)),
            None,
        )),
        _ => Err(WorkspaceError::Invalid(Findings::new(
            format!(
                "the intake term lists `{}` have {} (`brain lint` shows everything)",
                display_path(&path),
                plural(parsed.findings.len(), "problem")
            ),
            parsed.findings,
        ))),
    }
}
