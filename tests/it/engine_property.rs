//! A property test of the Engine: random sequences of operations by random actors (people and
//! agents, with and without delegations, kill switches and exemptions) never produce an
//! execution, approval or agent proposal that the rules forbid.
//!
//! The oracle here is written from the rules as the policy set states them, not from the
//! Engine's code: it tracks what it saw succeed and checks every success against it. Denials
//! are always safe, so it never needs to predict them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use brain::audit::checkpoint::AuditSigner;
use brain::capability::ActorType;
use brain::config::Environment;
use brain::engine::exemptions::ExemptionRequest;
use brain::engine::{Caller, Engine, EngineSettings, Executors, PolicyBundle, ProposeRequest};
use brain::policy::decide::Action;
use brain::store::{SqliteStore, Store};

use crate::engine::{Backend, Studio};

/// How many random cases run (each a short sequence of operations on one proposal, interleaved
/// with switches, exemptions and delegation changes). `BRAIN_PROPERTY_CASES` overrides it.
const CASES: usize = 10_000;
/// Cases share one store for this many cases, then start over (keeps the tables small).
const CASES_PER_WORLD: usize = 40;

/// xorshift64*: deterministic, dependency-free randomness.
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

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// The capabilities the cases use: (id, approvals required, needs fresh state, enabled).
const CAPABILITIES: &[(&str, usize, bool, bool)] = &[
    ("test.note.draft", 1, false, true),
    ("test.note.draft", 1, false, true),
    ("test.critical.draft", 2, false, true),
    ("test.critical.draft", 2, false, true),
    ("marketing.post.draft", 1, false, true),
    ("test.fresh.draft", 0, true, true),
    ("test.disabled.draft", 0, false, false),
];

fn input_for(capability: &str, n: usize) -> serde_json::Value {
    match capability {
        "test.note.draft" => serde_json::json!({ "text": format!("note {n}") }),
        "marketing.post.draft" => {
            serde_json::json!({ "channel": "website", "body": format!("post {n}") })
        }
        _ => serde_json::json!({ "n": n }),
    }
}

/// The oracle's model: only what it saw succeed.
#[derive(Default)]
struct Model {
    switches: BTreeSet<String>,
    /// Exemptions in force by id: (capability, owner).
    exemptions: BTreeMap<String, (String, Option<String>)>,
    /// Live delegations by id: (agent, owner, scopes).
    delegations: BTreeMap<String, (String, String, Vec<String>)>,
    /// Proposals by id: (capability, proposer, owner).
    proposals: BTreeMap<String, (String, String, String)>,
    /// Distinct approvers per proposal.
    approvers: BTreeMap<String, BTreeSet<String>>,
    executed: BTreeSet<String>,
}

impl Model {
    fn delegation_covers(&self, agent: &str, owner: &str, capability: &str) -> bool {
        self.delegations.values().any(|(who, whose, scopes)| {
            who == agent
                && whose == owner
                && scopes.iter().any(|scope| {
                    scope == "*"
                        || scope == capability
                        || scope
                            .strip_suffix(".*")
                            .is_some_and(|prefix| capability.starts_with(&format!("{prefix}.")))
                })
        })
    }

    fn exempted(&self, capability: &str, owner: &str) -> bool {
        self.exemptions.values().any(|(exempt, exempt_owner)| {
            exempt == capability && exempt_owner.as_deref().is_none_or(|only| only == owner)
        })
    }

    fn switched_off(&self, capability: &str) -> bool {
        self.switches.contains("global")
            || self.switches.contains("target:brain")
            || self.switches.contains(&format!("capability:{capability}"))
    }
}

fn caller(id: &str) -> Caller {
    let (kind, name) = id.split_once(':').unwrap();
    Caller {
        id: id.to_string(),
        actor_type: ActorType::parse(kind).unwrap(),
        name: name.to_string(),
    }
}

/// A directory on tmpfs when there is one: the property test commits tens of thousands of
/// transactions, and what it checks does not depend on fsync.
fn fast_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let mut builder = tempfile::Builder::new();
    builder.prefix("brain-property-");
    if shm.is_dir() {
        builder.tempdir_in(shm).unwrap()
    } else {
        builder.tempdir().unwrap()
    }
}

async fn world(studio: &Studio) -> (Engine, tempfile::TempDir) {
    let config_path = studio.path().join("brain.yaml");
    let loaded = brain::config::load(Some(&config_path), &Environment::process()).unwrap();
    let bundle = PolicyBundle::load(&loaded).unwrap();
    let dir = fast_dir();
    let store = SqliteStore::open(&dir.path().join("brain.db"))
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    store.migrate().await.unwrap();
    let engine = Engine::new(
        store,
        Arc::new(bundle),
        EngineSettings::default(),
        Arc::new(AuditSigner::generate().unwrap()),
        Executors::new(),
    );
    engine.bootstrap_admin("admin").await.unwrap();
    let admin = caller("staff:admin");
    for id in ["staff:s1", "staff:s2", "human:h1", "agent:a1", "agent:a2"] {
        engine.add_actor(&admin, id, None).await.unwrap();
    }
    (engine, dir)
}

const PEOPLE: &[&str] = &["staff:admin", "staff:s1", "staff:s2", "human:h1"];
const ACTORS: &[&str] = &[
    "staff:admin",
    "staff:s1",
    "staff:s2",
    "human:h1",
    "agent:a1",
    "agent:a2",
];
const SWITCHES: &[&str] = &[
    "global",
    "target:brain",
    "capability:test.note.draft",
    "physical",
];

#[test]
fn random_operations_never_produce_a_forbidden_execution() {
    let cases: usize = std::env::var("BRAIN_PROPERTY_CASES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(CASES);
    let studio = Studio::new(Backend::Sqlite, "");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut checked = Checked::default();
    runtime.block_on(async {
        let mut done = 0;
        while done < cases {
            let (engine, _dir) = world(&studio).await;
            let mut model = Model::default();
            for case in 0..CASES_PER_WORLD.min(cases - done) {
                run_case(&engine, &mut model, &mut rng, done + case, &mut checked).await;
            }
            done += CASES_PER_WORLD.min(cases - done);
            engine.store().close().await;
        }
    });
    eprintln!(
        "property: {cases} cases, {} executions, {} approvals, {} agent proposals checked; {} denials: {:?}",
        checked.executions,
        checked.approvals,
        checked.agent_proposals,
        checked.denials,
        checked.reasons
    );
    // The generator must reach the interesting outcomes, or the property proves little.
    assert!(
        checked.executions > cases / 20,
        "too few executions: {}",
        checked.executions
    );
    assert!(
        checked.approvals > cases / 20,
        "too few approvals: {}",
        checked.approvals
    );
    assert!(
        checked.agent_proposals > cases / 50,
        "too few agent proposals: {}",
        checked.agent_proposals
    );
    assert!(
        checked.denials > cases,
        "too few denials: {}",
        checked.denials
    );
}

#[derive(Default)]
struct Checked {
    executions: usize,
    approvals: usize,
    agent_proposals: usize,
    denials: usize,
    /// Denials by their first reason code, to show what the generator reaches.
    reasons: BTreeMap<String, usize>,
}

impl Checked {
    fn denied(&mut self, step: &str, error: &brain::engine::EngineError) {
        self.denials += 1;
        let reason = error.reason_codes().first().cloned().unwrap_or_default();
        *self.reasons.entry(format!("{step}:{reason}")).or_default() += 1;
    }
}

async fn run_case(
    engine: &Engine,
    model: &mut Model,
    rng: &mut Rng,
    n: usize,
    checked: &mut Checked,
) {
    let admin = caller("staff:admin");
    // The world around the case changes first.
    for _ in 0..rng.below(3) {
        match rng.below(7) {
            0 => {
                let name = rng.pick(SWITCHES);
                let on = rng.below(3) == 0;
                let by = caller(rng.pick(PEOPLE));
                if engine
                    .set_kill_switch(&by, name, on, "property")
                    .await
                    .is_ok()
                {
                    assert_eq!(by.actor_type, ActorType::Staff, "only staff flip switches");
                    if on {
                        model.switches.insert(name.to_string());
                    } else {
                        model.switches.remove(name);
                    }
                }
            }
            1 | 2 => {
                let capability = rng.pick(CAPABILITIES).0;
                let requested_by = rng.pick(PEOPLE);
                let by = caller(rng.pick(PEOPLE));
                let owner = (rng.below(2) == 0).then(|| rng.pick(PEOPLE).to_string());
                let request = ExemptionRequest {
                    capability: capability.into(),
                    owner: owner.clone(),
                    starts: None,
                    expires: brain::clock::now() + chrono::Duration::hours(1),
                    justification: "property test window".into(),
                    requested_by: requested_by.into(),
                };
                if let Ok(view) = engine.grant_exemption(&by, &request).await {
                    assert_ne!(
                        by.id, requested_by,
                        "an exemption is never granted by its requester"
                    );
                    assert_eq!(by.actor_type, ActorType::Staff);
                    model.exemptions.insert(view.id, (capability.into(), owner));
                }
            }
            3 => {
                if let Some(id) = model
                    .exemptions
                    .keys()
                    .nth(rng.below(model.exemptions.len().max(1)))
                    .cloned()
                    && engine
                        .revoke_exemption(&admin, &id, "property")
                        .await
                        .is_ok()
                {
                    model.exemptions.remove(&id);
                }
            }
            4 | 5 => {
                let agent = rng.pick(&["agent:a1", "agent:a2"]);
                let owner = rng.pick(&["staff:s1", "staff:s2", "human:h1"]);
                let scopes = rng.pick(&[
                    &["*"][..],
                    &["test.*"],
                    &["marketing.*"],
                    &["test.note.draft", "ops.*"],
                ]);
                let scopes: Vec<String> = scopes.iter().map(|scope| scope.to_string()).collect();
                let expires = brain::clock::now() + chrono::Duration::hours(1);
                if let Ok(delegation) = engine
                    .delegate(&admin, agent, owner, &scopes, expires)
                    .await
                {
                    model
                        .delegations
                        .insert(delegation.id, (agent.into(), owner.into(), scopes));
                }
            }
            _ => {
                if let Some(id) = model
                    .delegations
                    .keys()
                    .nth(rng.below(model.delegations.len().max(1)))
                    .cloned()
                    && engine.revoke_delegation(&admin, &id).await.is_ok()
                {
                    model.delegations.remove(&id);
                }
            }
        }
    }

    // One proposal, and a random run of steps on it by random actors.
    let (capability, required, fresh, enabled) = rng.pick(CAPABILITIES);
    let proposer = caller(rng.pick(ACTORS));
    let owner = (rng.below(4) == 0).then(|| rng.pick(PEOPLE).to_string());
    let request = ProposeRequest {
        capability: capability.into(),
        input: input_for(capability, n),
        rationale: "property".into(),
        owner: owner.clone(),
        ..ProposeRequest::default()
    };
    let view = match engine.propose(&proposer, &request).await {
        Ok(view) => view,
        Err(error) => {
            checked.denied("propose", &error);
            return;
        }
    };
    let id = view.proposal.id.clone();
    let resolved_owner = view.proposal.owner.clone();
    assert!(enabled, "a disabled capability was proposed");
    assert!(
        !fresh,
        "a capability needing fresh state was proposed on stale state"
    );
    assert!(
        !model.switched_off(capability),
        "proposed under an active kill switch"
    );
    if proposer.actor_type == ActorType::Agent {
        checked.agent_proposals += 1;
        assert!(
            model.delegation_covers(&proposer.id, &resolved_owner, capability),
            "agent {} proposed {capability} for {resolved_owner} without a live delegation covering it",
            proposer.id
        );
    }
    model.proposals.insert(
        id.clone(),
        (
            capability.into(),
            proposer.id.clone(),
            resolved_owner.clone(),
        ),
    );

    for _ in 0..1 + rng.below(6) {
        // People act more often than agents, as in a studio.
        let pool = [ACTORS, PEOPLE, &["staff:s1", "staff:s2"]][rng.below(3)];
        let actor = caller(rng.pick(pool));
        match rng.below(5) {
            0 | 1 => match engine.approve(&actor, &id, None).await {
                Ok(_) => {
                    checked.approvals += 1;
                    assert_ne!(
                        actor.id, proposer.id,
                        "the proposer approved their own proposal"
                    );
                    assert_ne!(actor.actor_type, ActorType::Agent, "an agent approved");
                    assert!(
                        !model.switched_off(capability),
                        "approved under an active kill switch"
                    );
                    model
                        .approvers
                        .entry(id.clone())
                        .or_default()
                        .insert(actor.id.clone());
                }
                Err(error) => checked.denied("approve", &error),
            },
            2 | 3 => match engine.execute(&actor, &id).await {
                Ok(view) => {
                    checked.executions += 1;
                    assert_eq!(view.proposal.state.as_str(), "succeeded");
                    assert!(
                        model.executed.insert(id.clone()),
                        "proposal {id} executed twice"
                    );
                    assert!(
                        !model.switched_off(capability),
                        "executed under an active kill switch"
                    );
                    let approvals = model.approvers.get(&id).map_or(0, |approvers| {
                        approvers.iter().filter(|a| **a != proposer.id).count()
                    });
                    assert!(
                        approvals >= required || model.exempted(capability, &resolved_owner),
                        "{capability} executed with {approvals} of {required} approvals and no exemption"
                    );
                    if actor.actor_type == ActorType::Agent {
                        assert!(
                            model.delegation_covers(&actor.id, &resolved_owner, capability),
                            "agent {} executed {capability} without a live delegation",
                            actor.id
                        );
                    }
                    assert_ne!(actor.actor_type, ActorType::Human, "a human executed");
                }
                Err(error) => checked.denied("execute", &error),
            },
            4 if rng.below(3) == 0 => {
                // A switch flipped between the steps of a proposal.
                let name = rng.pick(SWITCHES);
                let on = rng.below(2) == 0;
                if engine
                    .set_kill_switch(&actor, name, on, "property")
                    .await
                    .is_ok()
                {
                    assert_eq!(
                        actor.actor_type,
                        ActorType::Staff,
                        "only staff flip switches"
                    );
                    if on {
                        model.switches.insert(name.to_string());
                    } else {
                        model.switches.remove(name);
                    }
                }
            }
            _ => {
                let action = if rng.below(2) == 0 {
                    Action::Reject
                } else {
                    Action::Cancel
                };
                if let Err(error) = engine.close(&actor, &id, action, Some("property")).await {
                    checked.denied("close", &error);
                }
            }
        }
    }
}
