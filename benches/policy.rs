//! Decision and lint benchmarks. Run with `cargo bench --bench policy`; BENCHMARKS.md explains
//! the figures. Every comparison has its baseline in the same run.

use std::sync::{Arc, OnceLock};

use brain::capability::{ActorType, Manifest};
use brain::policy::decide::{Action, Decider, Facts, Principal, Question, Resource, build_request};
use brain::policy::{self, synthetic};

fn main() {
    divan::main();
}

/// The default set plus 1,000 synthetic policies over 1,000 synthetic capabilities.
fn fixture() -> &'static (Decider, Vec<Manifest>) {
    static FIXTURE: OnceLock<(Decider, Vec<Manifest>)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let (schema, files, manifests) = synthetic::policy_set(1_000);
        let (set, findings) = policy::load(&schema, &files);
        assert!(findings.is_empty(), "{findings:?}");
        let set = set.expect("valid synthetic set");
        let (default_schema, default_files) = synthetic::default_policy_files();
        let defaults = policy::load(&default_schema, &default_files)
            .0
            .expect("valid default set")
            .policies
            .len();
        assert_eq!(set.policies.len(), 1_000 + defaults);
        (Decider::new(Arc::new(set)), manifests)
    })
}

fn question_parts() -> (Principal, Facts) {
    let principal = Principal::new(ActorType::Staff, "alice");
    let facts = Facts {
        now: 1_800_000_000,
        proposer: "staff:bob".into(),
        resource_owner: "staff:bob".into(),
        approvals: 2,
        snapshot_age_seconds: 60,
        ..Facts::default()
    };
    (principal, facts)
}

/// One execute decision on capability 500, end to end (request built each time).
#[divan::bench(args = ["indexed", "whole set (raw Cedar)"])]
fn decision(bencher: divan::Bencher, variant: &str) {
    let (decider, manifests) = fixture();
    let (principal, facts) = question_parts();
    let question = Question {
        principal: &principal,
        action: Action::Execute,
        resource: Resource::Capability(&manifests[500]),
        facts: &facts,
    };
    let _ = decider.decide(&question); // warm the slice cache
    bencher.bench(|| {
        if variant == "indexed" {
            divan::black_box(decider.decide(divan::black_box(&question)))
        } else {
            divan::black_box(decider.decide_unindexed(divan::black_box(&question)))
        }
    });
}

/// `Authorizer::is_authorized` alone, with the request prepared once: the slice the index picks
/// versus the whole set (1,000 synthetic policies plus the default ones).
#[divan::bench(args = ["slice", "whole set"])]
fn authorizer_only(bencher: divan::Bencher, variant: &str) {
    let (decider, manifests) = fixture();
    let (principal, facts) = question_parts();
    let question = Question {
        principal: &principal,
        action: Action::Execute,
        resource: Resource::Capability(&manifests[500]),
        facts: &facts,
    };
    let (request, entities) = build_request(&question).expect("request");
    let whole = decider.policies().cedar.clone();
    let slice = (*decider.slice_of(&question)).clone();
    assert!(slice.policies().count() < whole.policies().count() / 10);
    let authorizer = cedar_policy::Authorizer::new();
    let set = if variant == "slice" { slice } else { whole };
    bencher.bench(|| divan::black_box(authorizer.is_authorized(&request, &set, &entities)));
}

/// A generated studio repository for the lint benchmark: 1,000 capabilities, 1,000 policies
/// (plus the default set) and 100 specs, on disk.
fn lint_tree() -> &'static std::path::Path {
    static TREE: OnceLock<tempfile::TempDir> = OnceLock::new();
    TREE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        synthetic::write_tree(dir.path(), 1_000, 100).expect("write the tree");
        dir
    })
    .path()
}

/// `brain lint` on the generated tree, as the CLI runs it (read the files, run every rule,
/// including the invariant proofs), against the baseline of raw Cedar parsing and strictly
/// validating the same policy files and nothing else.
#[divan::bench(args = ["brain lint", "raw Cedar parse + validate"], sample_count = 10)]
fn lint_generated_tree(bencher: divan::Bencher, variant: &str) {
    let root = lint_tree();
    let environment = brain::config::Environment::process();
    let config = brain::config::load(Some(&root.join("brain.yaml")), &environment).expect("config");
    bencher.bench_local(|| {
        if variant == "brain lint" {
            let workspace = brain::workspace::lint_workspace(&config, &[]).expect("workspace");
            divan::black_box(brain::lint::run(&workspace, &config.config.lint.severities));
        } else {
            let (schema, files) =
                brain::workspace::read_policy_files(&root.join("policies")).expect("policies");
            let (schema, _warnings) =
                cedar_policy::Schema::from_cedarschema_str(schema.text()).expect("schema");
            let mut set = cedar_policy::PolicySet::new();
            for file in &files {
                let parsed: cedar_policy::PolicySet = file.text().parse().expect("policies");
                for policy in parsed.policies() {
                    let renamed = policy.new_id(cedar_policy::PolicyId::new(format!(
                        "{}#{}",
                        file.name,
                        policy.id()
                    )));
                    set.add(renamed).expect("unique");
                }
            }
            let validator = cedar_policy::Validator::new(schema);
            divan::black_box(validator.validate(&set, cedar_policy::ValidationMode::Strict));
        }
    });
}
