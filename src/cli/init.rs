//! `brain init [DIR]`: scaffold a studio repository that `brain config check` accepts as it is.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use super::Cli;
use super::output::{self, Format};
use super::session::{open_engine_from, report_error};
use crate::config;
use crate::engine::{EngineError, keys};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to scaffold (created if missing; default: the current directory).
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Overwrite files that already exist.
    #[arg(long)]
    pub force: bool,
    /// The first staff admin's name: the actor is `staff:NAME`.
    #[arg(long, default_value = "admin", value_name = "NAME")]
    pub admin: String,
}

const BRAIN_YAML: &str = "\
# yaml-language-server: $schema=./schemas/brain.schema.json
# brain.yaml: how this studio's brain runs. `brain config check` validates it;
# `brain schema config` prints its full JSON Schema. Secrets never sit in this file:
# write `{ env: NAME }` or `{ file: PATH }` wherever a secret is needed.
studio:
  name: My Studio
  timezone: UTC

# Local, derived, disposable state (the SQLite file, exports). Keep it out of version control.
data_dir: .brain

server:
  listen: 127.0.0.1:8787

store:
  sqlite:
    path: brain.db
  # For production, use Postgres instead of SQLite:
  # postgres:
  #   url: { env: BRAIN_DATABASE_URL }

policy:
  policies: policies
  capabilities: capabilities
  specs: specs

thresholds:
  snapshot_stale_after: 30m
  max_exemption: 30d
";

const GITIGNORE: &str = ".brain/\n";

/// The first line of every manifest `brain init` writes, so editors validate it.
const CAPABILITY_SCHEMA_LINE: &str =
    "# yaml-language-server: $schema=../schemas/capability.schema.json";

/// The scaffold's policy test cases, which every scaffolded manifest lists under `tests:`.
const SCAFFOLD_TESTS: &str = "policies/tests/studio.yaml";

const POLICY_TESTS: &str = "\
# `brain test` runs these; add a case for every rule you rely on. Each capability lists this file
# under `tests:` (`brain lint` checks that the files listed there exist).
tests:
  - name: staff may propose the ops-note pilot
    principal: staff:alice
    action: propose
    capability: firestore.ops_note.append
    expect: allow
  - name: the global kill switch stops execution
    principal: staff:bob
    action: execute
    capability: firestore.ops_note.append
    context: { approvals: 1, kill_switches: [global] }
    expect: deny
    reasons: [KILL_SWITCH_ACTIVE]
  - name: nobody approves their own proposal
    principal: staff:alice
    action: approve
    capability: firestore.ops_note.append
    context: { proposer: staff:alice }
    expect: deny
    reasons: [SELF_APPROVAL_FORBIDDEN]
  - name: a delegated agent may propose a marketing draft
    principal: agent:marketing-swarm
    delegation: { owner: staff:marketing-lead, scopes: [marketing.*] }
    action: propose
    capability: marketing.post.draft
    expect: allow
  - name: staff may turn the global kill switch on
    principal: staff:alice
    action: set_kill_switch
    kill_switch: global
    expect: allow
  - name: the snapshotter may read Firestore
    principal: system:snapshotter
    action: read
    capability: firestore.studio.read
    expect: allow
  - name: the snapshotter may read Stripe
    principal: system:snapshotter
    action: read
    capability: stripe.payments.read
    expect: allow
  - name: the Hubitat connector may read its hub
    principal: system:connector:hubitat
    action: read
    capability: hubitat.devices.read
    expect: allow
  - name: the Roborock connector may read its vacuums
    principal: system:connector:roborock
    action: read
    capability: roborock.status.read
    expect: allow
";

/// The repository's manifests list brain's own test files; a scaffolded studio has none of
/// those, so its manifests list the scaffold's policy test cases instead.
fn with_scaffold_tests(manifest: &str) -> String {
    let mut out = String::with_capacity(manifest.len());
    let mut in_tests = false;
    for line in manifest.split_inclusive('\n') {
        if in_tests && line.starts_with("  - ") {
            continue;
        }
        in_tests = line.trim_end() == "tests:";
        out.push_str(line);
        if in_tests {
            out.push_str(&format!("  - {SCAFFOLD_TESTS}\n"));
        }
    }
    out
}

/// The files `brain init` writes: path relative to DIR, and content.
pub fn scaffold_files() -> Vec<(&'static str, String)> {
    let schema =
        |value: serde_json::Value| serde_json::to_string_pretty(&value).unwrap_or_default() + "\n";
    let manifest = |text: &str| format!("{CAPABILITY_SCHEMA_LINE}\n{}", with_scaffold_tests(text));
    vec![
        ("brain.yaml", BRAIN_YAML.to_string()),
        (".gitignore", GITIGNORE.to_string()),
        ("schemas/brain.schema.json", schema(config::config_schema())),
        (
            "schemas/capability.schema.json",
            schema(crate::capability::manifest_schema()),
        ),
        (
            "schemas/exemption.schema.json",
            schema(crate::capability::exemption_schema()),
        ),
        (
            "schemas/policy-test.schema.json",
            schema(crate::policy::testing::suite_schema()),
        ),
        (
            "policies/brain.cedarschema",
            include_str!("../../policies/brain.cedarschema").to_string(),
        ),
        (
            "policies/base.cedar",
            include_str!("../../policies/base.cedar").to_string(),
        ),
        (
            "policies/kill_switches.cedar",
            include_str!("../../policies/kill_switches.cedar").to_string(),
        ),
        (
            "capabilities/firestore.ops_note.append.yaml",
            manifest(include_str!(
                "../../capabilities/firestore.ops_note.append.yaml"
            )),
        ),
        (
            "capabilities/marketing.post.draft.yaml",
            manifest(include_str!("../../capabilities/marketing.post.draft.yaml")),
        ),
        (
            "capabilities/brain.kill_switch.set.yaml",
            manifest(include_str!(
                "../../capabilities/brain.kill_switch.set.yaml"
            )),
        ),
        // The read capabilities of every cloud source and device connector brain knows, so a
        // studio that configures one reads it (without its manifest every read is denied).
        (
            "capabilities/firestore.studio.read.yaml",
            manifest(include_str!(
                "../../capabilities/firestore.studio.read.yaml"
            )),
        ),
        (
            "capabilities/stripe.payments.read.yaml",
            manifest(include_str!("../../capabilities/stripe.payments.read.yaml")),
        ),
        (
            "capabilities/hubitat.devices.read.yaml",
            manifest(include_str!("../../capabilities/hubitat.devices.read.yaml")),
        ),
        (
            "capabilities/roborock.status.read.yaml",
            manifest(include_str!("../../capabilities/roborock.status.read.yaml")),
        ),
        (
            SCAFFOLD_TESTS,
            format!(
                "# yaml-language-server: $schema=../../schemas/policy-test.schema.json\n{POLICY_TESTS}"
            ),
        ),
        (
            "specs/firestore.ops_note.append.md",
            include_str!("../../specs/firestore.ops_note.append.md").to_string(),
        ),
    ]
}

pub fn run(cli: &Cli, args: &InitArgs) -> miette::Result<ExitCode> {
    let files = scaffold_files();
    let existing: Vec<&str> = files
        .iter()
        .map(|(path, _)| *path)
        .filter(|path| args.dir.join(path).exists())
        .collect();
    if !existing.is_empty() && !args.force {
        let error = miette::miette!(
            code = "init::exists",
            help = "run in an empty directory, or pass --force to overwrite these files",
            "refusing to overwrite {} in `{}`: {}",
            crate::diagnostic::plural(existing.len(), "existing file"),
            args.dir.display(),
            existing.join(", ")
        );
        if cli.format != Format::Human {
            output::print_json(&json!({ "created": [], "refused": existing }))?;
        }
        output::print_report(&error);
        return Ok(ExitCode::from(1));
    }
    let mut created = Vec::new();
    for (relative, content) in &files {
        let path = args.dir.join(relative);
        write_file(&path, content)?;
        created.push(*relative);
    }
    // The new studio's store, audit signing key and first admin. The Engine creates the key file
    // (mode 0600) under the data directory the first time it opens.
    let config_path = args.dir.join("brain.yaml");
    let runtime = super::runtime()?;
    let bootstrapped = runtime.block_on(async {
        let (engine, loaded) = open_engine_from(cli, Some(&config_path)).await?;
        let issued = engine.bootstrap_admin(&args.admin).await;
        engine.store().close().await;
        Ok::<_, ExitCode>((issued, loaded))
    });
    let (issued, loaded) = match bootstrapped {
        Ok(done) => done,
        Err(code) => return Ok(code),
    };
    let signing_key = keys::default_key_path(&loaded.data_dir);
    let admin = match issued {
        Ok(issued) => Some(issued),
        // A store that already has staff (re-running with --force) keeps its admins.
        Err(EngineError::Conflict { .. }) => None,
        Err(error) => return Ok(report_error(cli, &error)),
    };
    match cli.format {
        Format::Json | Format::Sarif | Format::Github | Format::Markdown => {
            output::print_json(&json!({
                "dir": args.dir.display().to_string(),
                "created": created,
                "signing_key": signing_key.display().to_string(),
                "admin": admin,
            }))?
        }
        Format::Human => {
            for path in &created {
                println!("created {path}");
            }
            println!("audit signing key {}", signing_key.display());
            match &admin {
                Some(issued) => {
                    println!("admin   {}", issued.actor.id);
                    println!("token   {}", issued.token);
                    output::warning(
                        "the token is shown only now: store it (for example in a file for --token-file)",
                    );
                }
                None => println!("the store already has a staff admin; none was created"),
            }
            output::success(&format!(
                "scaffolded a studio repository in `{}`; next: `brain --config {} config check`",
                args.dir.display(),
                config_path.display()
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_file(path: &Path, content: &str) -> miette::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|error| {
            miette::miette!(
                code = "init::io",
                "cannot create `{}`: {error}",
                parent.display()
            )
        })?;
    }
    std::fs::write(path, content).map_err(|error| {
        miette::miette!(
            code = "init::io",
            "cannot write `{}`: {error}",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::{SCAFFOLD_TESTS, scaffold_files};

    /// Every scaffolded manifest parses and lists the scaffold's policy test cases, which the
    /// scaffold writes.
    #[test]
    fn every_scaffolded_manifest_lists_the_scaffold_tests() {
        let files = scaffold_files();
        assert!(files.iter().any(|(path, _)| *path == SCAFFOLD_TESTS));
        let mut manifests = 0;
        for (path, text) in &files {
            if !path.starts_with("capabilities/") {
                continue;
            }
            let parsed = crate::capability::parse_manifest(crate::diagnostic::SourceFile::new(
                *path,
                text.clone(),
            ));
            let manifest = parsed.value.unwrap_or_else(|| panic!("{path}: {text}"));
            assert_eq!(manifest.tests, [SCAFFOLD_TESTS], "{path}");
            manifests += 1;
        }
        assert_eq!(manifests, 7);
    }

    /// A source or connector kind brain knows has its read capability in the scaffold.
    #[test]
    fn the_scaffold_has_the_read_capability_of_every_known_source_and_connector() {
        let files = scaffold_files();
        let wanted = [crate::cloud::FIRESTORE_READ, crate::cloud::STRIPE_READ]
            .into_iter()
            .chain(
                crate::connectors::registry::KINDS
                    .iter()
                    .map(|kind| kind.read_capability),
            );
        for capability in wanted {
            let path = format!("capabilities/{capability}.yaml");
            let text = files
                .iter()
                .find(|(name, _)| *name == path)
                .map(|(_, text)| text)
                .unwrap_or_else(|| panic!("the scaffold lacks {path}"));
            assert!(text.contains(&format!("id: {capability}\n")), "{text}");
            assert!(text.contains("mode: read\n"), "{text}");
        }
    }
}
