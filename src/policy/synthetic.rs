//! Synthetic policy sets: the default policy set plus N generated capabilities, each with a
//! policy of its own. Benchmarks measure the index on them and property tests check that the
//! index decides exactly as the whole set does.

use crate::capability::{
    ActorType, Approval, Class, Limit, LimitScope, Manifest, Mode, RiskTier, Rollback,
};
use crate::config::Duration;
use crate::diagnostic::SourceFile;

/// The default policy set's schema and policy files, as compiled into brain.
pub fn default_policy_files() -> (SourceFile, Vec<SourceFile>) {
    (
        SourceFile::new(
            "policies/brain.cedarschema",
            include_str!("../../policies/brain.cedarschema"),
        ),
        vec![
            SourceFile::new(
                "policies/base.cedar",
                include_str!("../../policies/base.cedar"),
            ),
            SourceFile::new(
                "policies/kill_switches.cedar",
                include_str!("../../policies/kill_switches.cedar"),
            ),
        ],
    )
}

/// The id of synthetic capability `index`.
pub fn capability_id(index: usize) -> String {
    format!("synthetic.cap{index:05}")
}

/// A manifest for synthetic capability `index`, varying mode, tier, class and approvals.
pub fn manifest(index: usize) -> Manifest {
    let mode = [Mode::Read, Mode::Draft, Mode::Write][index % 3];
    let tier = [
        RiskTier::Low,
        RiskTier::Medium,
        RiskTier::High,
        RiskTier::Critical,
    ][index % 4];
    let class = match mode {
        Mode::Read if index.is_multiple_of(2) => Class::Physical,
        Mode::Read | Mode::Write => Class::Cloud,
        Mode::Draft => Class::Internal,
    };
    let required = match (mode, tier.is_high()) {
        (Mode::Write, true) => 2,
        (Mode::Write, false) => 1,
        _ => 0,
    };
    Manifest {
        id: capability_id(index),
        title: format!("Synthetic capability {index}"),
        owner: Some("staff:synthetic".into()),
        risk_tier: Some(tier),
        mode,
        target: ["firestore", "stripe", "hubitat", "brain"][index % 4].into(),
        class,
        approval: Approval {
            required,
            approver_types: vec![ActorType::Staff],
            valid_for: Duration::from_secs(86_400),
        },
        limits: vec![Limit {
            per: LimitScope::Actor,
            max: 10,
            window: Duration::from_secs(86_400),
        }],
        requires_fresh_state: index.is_multiple_of(5),
        failure_mode: Some("Nothing happens.".into()),
        rollback: Some(Rollback {
            strategy: "discard".into(),
            how: "Discard it.".into(),
        }),
        tests: vec!["tests/it/synthetic.rs".into()],
        spec: tier
            .is_high()
            .then(|| format!("{}.md", capability_id(index))),
        input_schema: None,
        enabled: !index.is_multiple_of(17),
    }
}

/// The Cedar policy of synthetic capability `index`: permits and forbids, alternately.
pub fn policy(index: usize) -> String {
    let id = capability_id(index);
    if index.is_multiple_of(2) {
        format!(
            "@id(\"synthetic.{index}.execute\")\npermit (principal is Staff, action == Action::\"execute\", resource == Capability::\"{id}\")\nwhen {{ context.approvals >= 1 }};\n"
        )
    } else {
        format!(
            "@id(\"synthetic.{index}.old-state\")\n@reason(\"SNAPSHOT_STALE\")\nforbid (principal, action in [Action::\"propose\", Action::\"execute\"], resource == Capability::\"{id}\")\nwhen {{ context.snapshot_age_seconds > 3600 }};\n"
        )
    }
}

/// The default set plus `count` synthetic policies (in files of 100), and their manifests.
pub fn policy_set(count: usize) -> (SourceFile, Vec<SourceFile>, Vec<Manifest>) {
    let (schema, mut files) = default_policy_files();
    for chunk in 0..count.div_ceil(100) {
        let text: String = (chunk * 100..((chunk + 1) * 100).min(count))
            .map(policy)
            .collect::<Vec<_>>()
            .join("\n");
        files.push(SourceFile::new(
            format!("policies/synthetic/{chunk:03}.cedar"),
            text,
        ));
    }
    (schema, files, (0..count).map(manifest).collect())
}

/// A studio repository of `count` synthetic capabilities and policies (plus the default set) and
/// `specs` specs, written as files under `dir` with a `brain.yaml`, as `brain lint` reads it.
/// For the lint benchmark: it measures what a governance reviewer's CI run does.
pub fn write_tree(dir: &std::path::Path, count: usize, specs: usize) -> std::io::Result<()> {
    let write = |relative: &str, text: &str| -> std::io::Result<()> {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)
    };
    write(
        "brain.yaml",
        "studio:\n  name: Synthetic\npolicy:\n  policies: policies\n  capabilities: capabilities\n  specs: specs\n",
    )?;
    let (schema, files, manifests) = policy_set(count);
    write(&schema.name, schema.text())?;
    for file in &files {
        write(&file.name, file.text())?;
    }
    let mut written_specs = 0;
    for manifest in &manifests {
        let value = serde_json::to_value(manifest).map_err(std::io::Error::other)?;
        write(
            &format!("capabilities/{}.yaml", manifest.id),
            &crate::yaml::emit(&value),
        )?;
        if let Some(spec) = &manifest.spec
            && written_specs < specs
        {
            written_specs += 1;
            let sections: String = crate::lint::rules::REQUIRED_SPEC_SECTIONS
                .iter()
                .map(|section| format!("## {section}\n\nWritten for the benchmark.\n\n"))
                .collect();
            write(
                &format!("specs/{spec}"),
                &format!(
                    "---\ncapability: {}\n---\n\n# {}\n\n{sections}",
                    manifest.id, manifest.title
                ),
            )?;
        }
    }
    Ok(())
}
