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
        assert_eq!(set.policies.len(), 1_000 + 30);
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
/// versus the whole 1,030-policy set.
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
    let slice_ids: Vec<String> = {
        let _ = decider.decide(&question);
        whole
            .policies()
            .filter(|policy| {
                let id = policy.id().to_string();
                !id.starts_with("synthetic.") || id.starts_with("synthetic.500.")
            })
            .map(|policy| policy.id().to_string())
            .collect()
    };
    let slice = cedar_policy::PolicySet::from_policies(
        whole
            .policies()
            .filter(|policy| slice_ids.contains(&policy.id().to_string()))
            .cloned(),
    )
    .expect("slice");
    assert_eq!(slice.policies().count(), decider.slice_len(&question));
    let authorizer = cedar_policy::Authorizer::new();
    let set = if variant == "slice" { slice } else { whole };
    bencher.bench(|| divan::black_box(authorizer.is_authorized(&request, &set, &entities)));
}
