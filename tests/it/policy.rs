//! The decision core: the index decides exactly as the whole set does, and no input, however
//! malformed, makes parsing or lint panic.

use std::collections::BTreeSet;
use std::sync::Arc;

use brain::capability::{self, ActorType};
use brain::diagnostic::SourceFile;
use brain::policy::decide::{Action, Decider, Delegation, Facts, Principal, Question, Resource};
use brain::policy::{self, synthetic};

/// xorshift64*: deterministic, dependency-free randomness for property tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    fn flip(&mut self) -> bool {
        self.next() & 1 == 1
    }
}

fn random_principal(rng: &mut Rng) -> Principal {
    let actor_type = ActorType::ALL[rng.below(4)];
    let mut principal = Principal::new(actor_type, format!("p{}", rng.below(3)));
    if actor_type == ActorType::Agent && rng.below(4) > 0 {
        principal.delegation = Some(Delegation {
            owner: format!("staff:o{}", rng.below(2)),
            scopes: vec!["*".into()],
            expired: rng.below(5) == 0,
            revoked: rng.below(5) == 0,
            in_scope: rng.below(4) > 0,
        });
    }
    principal
}

fn random_facts(rng: &mut Rng, principal: &Principal) -> Facts {
    let switches = [
        "global",
        "physical",
        "target:firestore",
        "target:hubitat",
        "capability:synthetic.cap00003",
    ];
    Facts {
        now: 1_800_000_000,
        proposer: if rng.below(4) == 0 {
            principal.id()
        } else {
            "staff:someone".into()
        },
        resource_owner: format!("staff:o{}", rng.below(2)),
        kill_switches: switches
            .iter()
            .filter(|_| rng.below(6) == 0)
            .map(|name| name.to_string())
            .collect::<BTreeSet<_>>(),
        approvals: rng.below(4) as i64,
        approvers: BTreeSet::new(),
        exemption_in_force: rng.below(5) == 0,
        snapshot_stale: rng.below(5) == 0,
        snapshot_age_seconds: [60, 4000][rng.below(2)],
        quota_exceeded: rng.below(8) == 0,
        intake_review_required: rng.below(8) == 0,
    }
}

#[test]
fn the_index_decides_exactly_as_the_whole_set() {
    let (schema, files, manifests) = synthetic::policy_set(300);
    let (set, findings) = policy::load(&schema, &files);
    assert!(findings.is_empty(), "{findings:?}");
    let decider = Decider::new(Arc::new(set.unwrap()));
    let mut rng = Rng(0x5eed_cafe_f00d);
    let cases = 10_000;
    let mut allowed = 0;
    for _ in 0..cases {
        let principal = random_principal(&mut rng);
        let facts = random_facts(&mut rng, &principal);
        let action = Action::ALL[rng.below(Action::ALL.len())];
        let manifest = &manifests[rng.below(manifests.len())];
        let switch = "global";
        let question = Question {
            principal: &principal,
            action,
            resource: if action.on_kill_switch() {
                Resource::KillSwitch(switch)
            } else if let Some(area) = Resource::of_area(action) {
                area
            } else {
                Resource::Capability(manifest)
            },
            facts: &facts,
        };
        let indexed = decider.decide(&question);
        let whole = decider.decide_unindexed(&question);
        assert_eq!(indexed, whole, "{question:?}");
        assert!(
            decider.slice_len(&question) < 60,
            "the index keeps slices small"
        );
        allowed += usize::from(indexed.allowed);
    }
    // Both outcomes are exercised, so the comparison means something.
    assert!(
        allowed > cases / 20 && allowed < cases - cases / 20,
        "allowed {allowed} of {cases}"
    );
}

/// The index drops the policies whose scope names another principal type: a staff member's
/// question about a capability skips the agent-only forbids (delegation, owner) that an agent's
/// question about the same capability evaluates. (The test above shows the decisions stay
/// the same.)
#[test]
fn the_index_keeps_only_policies_for_the_principals_type() {
    let (schema, files) = synthetic::default_policy_files();
    let (set, findings) = policy::load(&schema, &files);
    assert!(findings.is_empty(), "{findings:?}");
    let decider = Decider::new(Arc::new(set.unwrap()));
    let manifest = synthetic::manifest(0);
    let facts = Facts::default();
    let slice_len = |actor_type: ActorType, action: Action| {
        let principal = Principal::new(actor_type, "someone");
        decider.slice_len(&Question {
            principal: &principal,
            action,
            resource: Resource::Capability(&manifest),
            facts: &facts,
        })
    };
    for action in [Action::Propose, Action::Approve, Action::Execute] {
        let staff = slice_len(ActorType::Staff, action);
        let agent = slice_len(ActorType::Agent, action);
        assert!(
            staff + 5 <= agent,
            "{action:?}: staff evaluates {staff} policies, an agent {agent}"
        );
    }
}

/// Lint proves its invariants once per equivalence class of capabilities. Capabilities with
/// equal keys must decide alike for every question that does not name them, on the synthetic
/// set (each capability with a policy of its own) and on the repository's own set.
#[test]
fn capabilities_with_equal_equivalence_keys_decide_alike() {
    let (schema, files, mut manifests) = synthetic::policy_set(300);
    // Capabilities with no policy of their own, which share keys with their look-alikes.
    for index in 300..360 {
        manifests.push(synthetic::manifest(index));
    }
    let (set, findings) = policy::load(&schema, &files);
    assert!(findings.is_empty(), "{findings:?}");
    let decider = Decider::new(Arc::new(set.unwrap()));
    let mut classes: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    for (index, manifest) in manifests.iter().enumerate() {
        let key = decider
            .equivalence_key(manifest)
            .expect("the synthetic set has no `like` and no foreign ids");
        classes.entry(key.to_string()).or_default().push(index);
    }
    assert!(
        classes.len() < manifests.len() / 3,
        "look-alikes share a class: {} classes for {} capabilities",
        classes.len(),
        manifests.len()
    );
    assert!(classes.len() > 10, "different capabilities are told apart");
    let mut rng = Rng(0x0c1a_55e5);
    let mut compared = 0;
    for members in classes.values().filter(|members| members.len() > 1) {
        for _ in 0..40 {
            let principal = random_principal(&mut rng);
            let mut facts = random_facts(&mut rng, &principal);
            // The key speaks for questions that do not name a capability.
            facts
                .kill_switches
                .retain(|name| !name.starts_with("capability:"));
            let action = Action::ALL[rng.below(Action::ALL.len())];
            if action.on_kill_switch() || action.area().is_some() {
                continue;
            }
            let decide = |index: usize| {
                let mut principal = principal.clone();
                if let Some(delegation) = &mut principal.delegation {
                    // A delegation scoped to the capability itself names it consistently.
                    delegation.scopes = vec![manifests[index].id.clone()];
                }
                decider
                    .decide(&Question {
                        principal: &principal,
                        action,
                        resource: Resource::Capability(&manifests[index]),
                        facts: &facts,
                    })
                    .allowed
            };
            let first = decide(members[0]);
            for other in &members[1..] {
                assert_eq!(
                    decide(*other),
                    first,
                    "{} and {} share a class but decide {action:?} differently",
                    manifests[members[0]].id,
                    manifests[*other].id
                );
                compared += 1;
            }
        }
    }
    assert!(compared > 1_000, "only {compared} comparisons");
}

#[test]
fn a_pattern_or_a_foreign_mention_of_an_id_disables_equivalence() {
    let (schema, mut files, manifests) = synthetic::policy_set(4);
    files.push(brain::diagnostic::SourceFile::new(
        "policies/extra.cedar",
        "@id(\"pattern\")\npermit (principal is Staff, action == Action::\"propose\", resource)\nwhen { resource.id like \"synthetic.*\" };\n\n@id(\"mentions\")\nforbid (principal, action == Action::\"approve\", resource)\nwhen { resource.id == \"synthetic.cap00001\" };\n",
    ));
    let (set, findings) = policy::load(&schema, &files);
    assert!(findings.is_empty(), "{findings:?}");
    let decider = Decider::new(Arc::new(set.unwrap()));
    for manifest in &manifests {
        assert!(
            decider.equivalence_key(manifest).is_none(),
            "{} must be proved on its own",
            manifest.id
        );
    }
}

/// Mutate `text` at random: flip, insert, delete and duplicate bytes.
fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..=rng.below(8) {
        if bytes.is_empty() {
            bytes.push(b'x');
        }
        let at = rng.below(bytes.len());
        match rng.below(4) {
            0 => bytes[at] = b"{}[]():;,\"'@#\n -*&!|>%\\"[rng.below(22)],
            1 => bytes.insert(at, (rng.next() & 0xff) as u8),
            2 => {
                bytes.remove(at);
            }
            _ => {
                let end = (at + rng.below(16)).min(bytes.len());
                let chunk = bytes[at..end].to_vec();
                bytes.splice(at..at, chunk);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn malformed_yaml_and_cedar_never_panic() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest =
        std::fs::read_to_string(repo.join("capabilities/firestore.ops_note.append.yaml")).unwrap();
    let exemption = "capability: firestore.ops_note.append\nstarts: 2026-11-01\nexpires: 2026-11-08\njustification: x\nrequested_by: staff:a\napproved_by: staff:b\n";
    let (schema, policies) = synthetic::default_policy_files();
    let base = policies[0].text().to_string();
    let mut rng = Rng(42);
    for round in 0..1500 {
        let broken_manifest = if round % 5 == 0 {
            (0..rng.below(200))
                .map(|_| (rng.next() & 0xff) as u8 as char)
                .collect()
        } else {
            mutate(&mut rng, &manifest)
        };
        let _ = capability::parse_manifest(SourceFile::new("m.yaml", broken_manifest.clone()));
        let _ = capability::parse_exemption(SourceFile::new("e.yaml", mutate(&mut rng, exemption)));
        let broken_policy = mutate(&mut rng, &base);
        let broken_schema = if round % 3 == 0 {
            mutate(&mut rng, schema.text())
        } else {
            schema.text().to_string()
        };
        let _ = policy::load(
            &SourceFile::new("s.cedarschema", broken_schema.clone()),
            &[SourceFile::new("p.cedar", broken_policy.clone())],
        );
        if round % 10 == 0 {
            let workspace = brain::lint::Workspace {
                manifests: vec![SourceFile::new("capabilities/m.yaml", broken_manifest)],
                exemptions: vec![SourceFile::new(
                    "capabilities/exemptions/e.yaml",
                    mutate(&mut rng, exemption),
                )],
                schema: Some(SourceFile::new("policies/brain.cedarschema", broken_schema)),
                policies: vec![SourceFile::new("policies/p.cedar", broken_policy)],
                specs: vec![(
                    "s.md".into(),
                    SourceFile::new("specs/s.md", mutate(&mut rng, "---\na: b\n---\n## Owner\n")),
                )],
                state_model: Some(SourceFile::new(
                    "specs/studio-state.yaml",
                    mutate(&mut rng, brain::snapshot::model::BUILT_IN),
                )),
                templates: vec![SourceFile::new(
                    "swarms/marketing/t.yaml",
                    mutate(&mut rng, brain::swarms::marketing::BUILT_IN_TEMPLATES[0].1),
                )],
                intake: Some(SourceFile::new(
                    "specs/intake.yaml",
                    mutate(&mut rng, brain::intake::BUILT_IN),
                )),
                term_lists: vec![SourceFile::new(
                    "swarms/trust-safety/terms.yaml",
                    mutate(&mut rng, brain::swarms::trust_safety::BUILT_IN_TERMS),
                )],
                thresholds: Default::default(),
                known_targets: ["brain".to_string()].into_iter().collect(),
                now: brain::clock::now(),
                repository_root: None,
                test_files: Default::default(),
                objectives: None,
            };
            let _ = brain::lint::run(&workspace, &Default::default());
        }
        let _ = rng.flip();
    }
}

/// The decider caches each capability's Cedar entity by id, but reuses it only while the
/// manifest still has the fields it was built from: manifests changed under the same id (enabled,
/// tier, approvals) are decided exactly as raw Cedar decides them from scratch.
#[test]
fn a_manifest_changed_under_its_id_is_decided_by_its_new_fields() {
    let (schema, files, manifests) = synthetic::policy_set(20);
    let (set, findings) = policy::load(&schema, &files);
    assert!(findings.is_empty(), "{findings:?}");
    let set = Arc::new(set.unwrap());
    let decider = Decider::new(set.clone());
    let authorizer = cedar_policy::Authorizer::new();
    let tiers = [
        capability::RiskTier::Low,
        capability::RiskTier::Medium,
        capability::RiskTier::High,
        capability::RiskTier::Critical,
    ];
    let mut rng = Rng(0x00ca_ce0f_e17e);
    let (mut changed_outcomes, cases) = (0, 3_000);
    for _ in 0..cases {
        let principal = random_principal(&mut rng);
        let facts = random_facts(&mut rng, &principal);
        let action = [Action::Propose, Action::Approve, Action::Execute][rng.below(3)];
        let mut manifest = manifests[rng.below(manifests.len())].clone();
        let before = decider.decide(&Question {
            principal: &principal,
            action,
            resource: Resource::Capability(&manifest),
            facts: &facts,
        });
        manifest.enabled = rng.flip();
        manifest.risk_tier = Some(tiers[rng.below(tiers.len())]);
        manifest.approval.required = rng.below(3) as u32;
        let question = Question {
            principal: &principal,
            action,
            resource: Resource::Capability(&manifest),
            facts: &facts,
        };
        let decided = decider.decide(&question);
        let (request, entities) = brain::policy::decide::build_request(&question).unwrap();
        let raw = authorizer.is_authorized(&request, &set.cedar, &entities);
        let mut raw_ids: Vec<String> = raw
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect();
        raw_ids.sort();
        assert_eq!(
            decided.allowed,
            raw.decision() == cedar_policy::Decision::Allow,
            "{question:?}"
        );
        assert_eq!(decided.policy_ids, raw_ids, "{question:?}");
        changed_outcomes += usize::from(before.allowed != decided.allowed);
    }
    // The changes do move decisions, so a stale entity would have been caught.
    assert!(
        changed_outcomes > cases / 50,
        "changed {changed_outcomes} of {cases}"
    );
}
