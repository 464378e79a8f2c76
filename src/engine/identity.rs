//! Identity: actors and their tokens, the bootstrap admin, and agents' delegations.
//!
//! Tokens are 32 random bytes shown once (`brn_<64 hex>`); the store keeps only their SHA-256.
//! A delegation lets an agent act for an owner on a set of capability scopes until it expires or
//! is revoked; [`resolve_delegation`] picks the delegation a decision is made under.
//!
//! Architecture Invariant: a token is never stored, logged or returned after creation; only
//! [`Issued`] carries it, once.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Caller, Engine, EngineError, new_id};
use crate::capability::ActorType;
use crate::policy::decide::{self, Action, Facts, Principal, Question, Resource, scope_covers};
use crate::store::{Actor, Delegation, WriteTx};

const TOKEN_PREFIX: &str = "brn_";

/// A new actor and its token, which is shown this once.
#[derive(Debug, Clone, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Issued {
    pub actor: Actor,
    pub token: String,
}

/// A new random token.
fn new_token() -> Result<String, EngineError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|error| EngineError::Conflict {
        message: format!("no randomness available to make a token: {error}"),
        help: None,
    })?;
    Ok(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)))
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> String {
    crate::audit::sha256_hex(token.trim().as_bytes())
}

/// Check an actor id (`staff:alice`) and split it.
pub fn parse_actor_id(id: &str) -> Result<(ActorType, String), EngineError> {
    let principal = Principal::parse(id).ok_or_else(|| {
        EngineError::invalid(
            format!("`{id}` is not an actor id"),
            "write `<type>:<name>` with type staff, human, agent or system, such as `staff:alice`",
        )
    })?;
    let valid_name = principal
        .name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '@'))
        && principal.name.len() <= 64;
    if !valid_name {
        return Err(EngineError::invalid(
            format!("`{}` is not a valid actor name", principal.name),
            "use up to 64 letters, digits, `.`, `_`, `-`, `:` or `@`",
        ));
    }
    Ok((principal.actor_type, principal.name))
}

/// Which delegation a decision about `capability` (for `owner`) is made under, and how it
/// looks to the policies. The best candidate wins: live, in scope and for the owner; then live
/// and in scope (the owner differs: `OWNER_MISMATCH`); then live (`DELEGATION_SCOPE`); then
/// expired; then revoked. `capability: None` asks for any live delegation (viewing).
pub fn resolve_delegation(
    delegations: &[Delegation],
    capability: Option<&str>,
    owner: Option<&str>,
    now: DateTime<Utc>,
) -> Option<(Delegation, decide::Delegation)> {
    let now_text = crate::clock::format_time(now);
    let rank = |delegation: &Delegation| -> u8 {
        let revoked = delegation.revoked_at.is_some();
        let expired = delegation.expires_at <= now_text;
        let in_scope = capability.is_none_or(|id| scope_covers(&delegation.scopes, id));
        let owner_matches = owner.is_none_or(|owner| owner == delegation.owner);
        match (revoked, expired, in_scope, owner_matches) {
            (false, false, true, true) => 0,
            (false, false, true, false) => 1,
            (false, false, false, _) => 2,
            (false, true, _, _) => 3,
            (true, _, _, _) => 4,
        }
    };
    let best = delegations
        .iter()
        .min_by_key(|delegation| (rank(delegation), std::cmp::Reverse(&delegation.created_at)))?;
    let resolved = decide::Delegation {
        owner: best.owner.clone(),
        scopes: best.scopes.clone(),
        expired: best.expires_at <= now_text,
        revoked: best.revoked_at.is_some(),
        in_scope: capability.is_none_or(|id| scope_covers(&best.scopes, id)),
    };
    Some((best.clone(), resolved))
}

impl Engine {
    /// Who a token belongs to. Unknown and revoked tokens are refused.
    pub async fn authenticate(&self, token: &str) -> Result<Caller, EngineError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(EngineError::Unauthenticated("no token was given".into()));
        }
        if !token.starts_with(TOKEN_PREFIX) {
            return Err(EngineError::Unauthenticated(
                "that is not a brain token (they start with `brn_`)".into(),
            ));
        }
        let actor = self
            .store
            .actor_by_token_hash(&token_hash(token))
            .await?
            .ok_or_else(|| EngineError::Unauthenticated("the token is not known".into()))?;
        if actor.revoked_at.is_some() {
            let tx = self.store.begin().await?;
            let caller = Caller::from_actor(&actor)?;
            return Err(self
                .refuse(
                    tx,
                    super::event(&caller.id, "authenticate", "deny")
                        .reasons(&["ACTOR_REVOKED"])
                        .detail(serde_json::json!({ "revoked_at": actor.revoked_at })),
                    EngineError::refused(
                        "authenticate",
                        None,
                        "ACTOR_REVOKED",
                        format!("actor `{}` was revoked", actor.id),
                    ),
                )
                .await);
        }
        Caller::from_actor(&actor)
    }

    /// Create the first staff admin of an empty store and return its token. Refused once any
    /// staff actor exists: later actors are added by staff with [`Engine::add_actor`].
    pub async fn bootstrap_admin(&self, name: &str) -> Result<Issued, EngineError> {
        let id = format!("staff:{name}");
        let (_, name) = parse_actor_id(&id)?;
        let mut tx = self.store.begin().await?;
        if tx.count_live_actors("staff").await? > 0 {
            return Err(EngineError::Conflict {
                message: "the store already has a staff actor, so there is nothing to bootstrap"
                    .into(),
                help: Some(
                    "ask an existing staff member to run `brain actor add staff:NAME`".into(),
                ),
            });
        }
        let token = new_token()?;
        let actor = Actor {
            id: id.clone(),
            kind: "staff".into(),
            name,
            display_name: Some("bootstrap admin".into()),
            token_hash: Some(token_hash(&token)),
            created_at: crate::clock::format_time(crate::clock::now()),
            created_by: Some("system:bootstrap".into()),
            revoked_at: None,
            revoked_by: None,
        };
        if tx.actor(&id).await?.is_some() {
            return Err(EngineError::Conflict {
                message: format!("actor `{id}` exists but is revoked"),
                help: Some("bootstrap with another name: `--name NAME`".into()),
            });
        }
        tx.insert_actor(&actor).await?;
        self.append(
            &mut *tx,
            super::event("system:bootstrap", "manage_actors", "allow")
                .detail(serde_json::json!({ "operation": "bootstrap", "actor": id })),
        )
        .await?;
        tx.commit().await?;
        Ok(Issued { actor, token })
    }

    /// Decide an administrative action (`manage_actors`, `delegate`, `view`, `audit`) for
    /// `caller` when it only reads; denials are audited, allowed reads are not (they change
    /// nothing). Operations that change something decide inside their own transaction.
    pub async fn authorize_area(&self, caller: &Caller, action: Action) -> Result<(), EngineError> {
        let tx = self.store.begin().await?;
        // An allowed read changes nothing, so its transaction ends without an event.
        self.area_step(tx, caller, action, &serde_json::json!({}))
            .await
            .map(|_| ())
    }

    /// Decide an administrative `action` (on its area) inside `tx`. A denial is audited with
    /// `detail`, committed and returned as the error; otherwise the transaction comes back with
    /// the decision, for the step's own allow event.
    pub(crate) async fn area_step(
        &self,
        mut tx: Box<dyn WriteTx>,
        caller: &Caller,
        action: Action,
        detail: &serde_json::Value,
    ) -> Result<(Box<dyn WriteTx>, decide::Decision), EngineError> {
        let resource = Resource::of_area(action).ok_or_else(|| {
            EngineError::invalid(
                format!("`{}` is not an administrative action", action.as_str()),
                "use manage_actors, delegate, view or audit",
            )
        })?;
        let decision = self
            .decide_area_in(&mut *tx, caller, action, resource)
            .await?;
        if decision.allowed {
            return Ok((tx, decision));
        }
        let refusal = super::event(&caller.id, action.as_str(), "deny")
            .decision(&decision)
            .detail(detail.clone());
        Err(self
            .refuse(tx, refusal, super::denied(action, None, &decision))
            .await)
    }

    async fn decide_area_in(
        &self,
        tx: &mut dyn WriteTx,
        caller: &Caller,
        action: Action,
        resource: Resource<'_>,
    ) -> Result<decide::Decision, EngineError> {
        let now = crate::clock::now();
        let mut principal = caller.principal();
        let mut owner = caller.id.clone();
        if caller.actor_type == ActorType::Agent {
            let delegations = tx.delegations(Some(&caller.id)).await?;
            if let Some((_, resolved)) = resolve_delegation(&delegations, None, None, now) {
                owner = resolved.owner.clone();
                principal.delegation = Some(resolved);
            }
        }
        let facts = Facts {
            now: now.timestamp(),
            proposer: String::new(),
            resource_owner: owner,
            kill_switches: super::switches::active_in(tx).await?,
            ..Facts::default()
        };
        let decision = self.policy.decider.decide_recorded(
            &Question {
                principal: &principal,
                action,
                resource,
                facts: &facts,
            },
            false,
        );
        refuse_if_revoked(tx, caller, decision).await
    }

    /// Add an actor (staff, human or agent) as `caller` and return its token, shown once.
    pub async fn add_actor(
        &self,
        caller: &Caller,
        id: &str,
        display_name: Option<&str>,
    ) -> Result<Issued, EngineError> {
        let (kind, name) = parse_actor_id(id)?;
        if kind == ActorType::System {
            return Err(EngineError::invalid(
                "system actors are brain's own and have no tokens",
                "add a staff, human or agent actor",
            ));
        }
        let tx = self.store.begin().await?;
        let detail = serde_json::json!({ "operation": "add", "actor": id });
        let (mut tx, decision) = self
            .area_step(tx, caller, Action::ManageActors, &detail)
            .await?;
        if tx.actor(id).await?.is_some() {
            return Err(EngineError::Conflict {
                message: format!("actor `{id}` already exists"),
                help: Some("actor ids are never reused; pick another name".into()),
            });
        }
        let token = new_token()?;
        let actor = Actor {
            id: id.to_string(),
            kind: kind.as_str().to_string(),
            name,
            display_name: display_name.map(str::to_string),
            token_hash: Some(token_hash(&token)),
            created_at: crate::clock::format_time(crate::clock::now()),
            created_by: Some(caller.id.clone()),
            revoked_at: None,
            revoked_by: None,
        };
        tx.insert_actor(&actor).await?;
        self.append(
            &mut *tx,
            super::event(&caller.id, "manage_actors", "allow")
                .decision(&decision)
                .detail(detail),
        )
        .await?;
        tx.commit().await?;
        Ok(Issued { actor, token })
    }

    /// Every actor (tokens are never listed).
    pub async fn actors(&self, caller: &Caller) -> Result<Vec<Actor>, EngineError> {
        self.authorize_area(caller, Action::View).await?;
        Ok(self.store.actors().await?)
    }

    /// Revoke an actor: its token stops working at once.
    pub async fn revoke_actor(&self, caller: &Caller, id: &str) -> Result<Actor, EngineError> {
        let tx = self.store.begin().await?;
        let detail = serde_json::json!({ "operation": "revoke", "actor": id });
        let (mut tx, decision) = self
            .area_step(tx, caller, Action::ManageActors, &detail)
            .await?;
        if id == caller.id {
            return Err(EngineError::invalid(
                "an actor cannot revoke itself",
                "ask another staff member to revoke it",
            ));
        }
        let now = crate::clock::format_time(crate::clock::now());
        if !tx.revoke_actor(id, &now, &caller.id).await? {
            return match tx.actor(id).await? {
                Some(_) => Err(EngineError::Conflict {
                    message: format!("actor `{id}` is already revoked"),
                    help: None,
                }),
                None => Err(EngineError::NotFound {
                    what: "actor",
                    id: id.to_string(),
                }),
            };
        }
        self.append(
            &mut *tx,
            super::event(&caller.id, "manage_actors", "allow")
                .decision(&decision)
                .detail(detail),
        )
        .await?;
        let actor = tx.actor(id).await?.ok_or_else(|| EngineError::NotFound {
            what: "actor",
            id: id.to_string(),
        })?;
        tx.commit().await?;
        Ok(actor)
    }

    /// Delegate `scopes` of `owner`'s authority to `agent` until `expires_at`.
    pub async fn delegate(
        &self,
        caller: &Caller,
        agent: &str,
        owner: &str,
        scopes: &[String],
        expires_at: DateTime<Utc>,
    ) -> Result<Delegation, EngineError> {
        let (agent_kind, _) = parse_actor_id(agent)?;
        let (owner_kind, _) = parse_actor_id(owner)?;
        if agent_kind != ActorType::Agent {
            return Err(EngineError::invalid(
                format!("`{agent}` is not an agent"),
                "delegations are for agents: `--agent agent:NAME`",
            ));
        }
        if !matches!(owner_kind, ActorType::Staff | ActorType::Human) {
            return Err(EngineError::invalid(
                format!("`{owner}` cannot own a delegation"),
                "the owner is a person: `--owner staff:NAME` or `--owner human:NAME`",
            ));
        }
        let scopes: Vec<String> = scopes
            .iter()
            .map(|scope| scope.trim().to_string())
            .filter(|scope| !scope.is_empty())
            .collect();
        if scopes.is_empty() {
            return Err(EngineError::invalid(
                "a delegation needs at least one scope",
                "pass `--scopes marketing.*,ops.recommendation.draft` (capability ids or `prefix.*`)",
            ));
        }
        for scope in &scopes {
            let base = scope.strip_suffix(".*").unwrap_or(scope);
            let known = scope == "*"
                || self.policy.manifests.keys().any(|id| {
                    id == base || (scope.ends_with(".*") && id.starts_with(&format!("{base}.")))
                });
            if !known {
                return Err(EngineError::invalid(
                    format!("scope `{scope}` covers no capability"),
                    "name capability ids from `capabilities/`, or a prefix such as `marketing.*`",
                ));
            }
        }
        let now = crate::clock::now();
        if expires_at <= now {
            return Err(EngineError::invalid(
                "the delegation would expire before it starts",
                "pass a future expiry such as `--expires 7d`",
            ));
        }
        let tx = self.store.begin().await?;
        let delegation = Delegation {
            id: new_id("d")?,
            agent: agent.to_string(),
            owner: owner.to_string(),
            scopes,
            created_at: crate::clock::format_time(now),
            created_by: caller.id.clone(),
            expires_at: crate::clock::format_time(expires_at),
            revoked_at: None,
            revoked_by: None,
        };
        let detail = serde_json::json!({
            "operation": "delegate",
            "delegation": delegation.id,
            "agent": agent,
            "owner": owner,
            "scopes": delegation.scopes,
            "expires_at": delegation.expires_at,
        });
        let (mut tx, decision) = self
            .area_step(tx, caller, Action::Delegate, &detail)
            .await?;
        for (id, role) in [(agent, "agent"), (owner, "owner")] {
            match tx.actor(id).await? {
                None => {
                    return Err(EngineError::NotFound {
                        what: if role == "agent" { "agent" } else { "owner" },
                        id: id.to_string(),
                    });
                }
                Some(actor) if actor.revoked_at.is_some() => {
                    return Err(EngineError::invalid(
                        format!("{role} `{id}` is revoked"),
                        "delegate between live actors",
                    ));
                }
                Some(_) => {}
            }
        }
        tx.insert_delegation(&delegation).await?;
        self.append(
            &mut *tx,
            super::event(&caller.id, "delegate", "allow")
                .decision(&decision)
                .detail(detail),
        )
        .await?;
        tx.commit().await?;
        Ok(delegation)
    }

    /// Every delegation (of `agent`, when given).
    pub async fn delegations(
        &self,
        caller: &Caller,
        agent: Option<&str>,
    ) -> Result<Vec<Delegation>, EngineError> {
        self.authorize_area(caller, Action::View).await?;
        Ok(self.store.delegations(agent).await?)
    }

    /// Revoke a delegation: the agent loses it at its next decision.
    pub async fn revoke_delegation(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<Delegation, EngineError> {
        let tx = self.store.begin().await?;
        let detail = serde_json::json!({ "operation": "revoke", "delegation": id });
        let (mut tx, decision) = self
            .area_step(tx, caller, Action::Delegate, &detail)
            .await?;
        let now = crate::clock::format_time(crate::clock::now());
        if !tx.revoke_delegation(id, &now, &caller.id).await? {
            let exists = tx
                .delegations(None)
                .await?
                .into_iter()
                .any(|delegation| delegation.id == id);
            return if exists {
                Err(EngineError::Conflict {
                    message: format!("delegation `{id}` is already revoked"),
                    help: None,
                })
            } else {
                Err(EngineError::NotFound {
                    what: "delegation",
                    id: id.to_string(),
                })
            };
        }
        self.append(
            &mut *tx,
            super::event(&caller.id, "delegate", "allow")
                .decision(&decision)
                .detail(detail),
        )
        .await?;
        let delegation = tx
            .delegations(None)
            .await?
            .into_iter()
            .find(|delegation| delegation.id == id)
            .ok_or_else(|| EngineError::NotFound {
                what: "delegation",
                id: id.to_string(),
            })?;
        tx.commit().await?;
        Ok(delegation)
    }
}

/// The actor record a decision for `caller` re-reads (with the decision's facts) to refuse a
/// revoked caller; brain's own `system:` actors have none.
pub(crate) fn actor_record_of(caller: &Caller) -> Option<&str> {
    (caller.actor_type != ActorType::System).then_some(caller.id.as_str())
}

/// `decision`, unless `caller` was revoked by the time this transaction reads it: then a denial
/// `ACTOR_REVOKED`. A request that authenticated a moment before a revocation committed is
/// refused like every later one; brain's own `system:` actors have no record.
pub(crate) async fn refuse_if_revoked(
    tx: &mut dyn WriteTx,
    caller: &Caller,
    decision: decide::Decision,
) -> Result<decide::Decision, EngineError> {
    let Some(id) = actor_record_of(caller) else {
        return Ok(decision);
    };
    // Actors are revoked, never deleted; a caller with no record is one brain made up for a
    // page (the wall display of `server.auth.mode: none`), decided by the policies as it is.
    let revoked = tx
        .actor(id)
        .await?
        .is_some_and(|actor| actor.revoked_at.is_some());
    Ok(refused_if_revoked(revoked, caller, decision))
}

/// `decision`, or the `ACTOR_REVOKED` denial when `revoked` (read in the deciding
/// transaction): see [`refuse_if_revoked`].
pub(crate) fn refused_if_revoked(
    revoked: bool,
    caller: &Caller,
    decision: decide::Decision,
) -> decide::Decision {
    if !revoked {
        return decision;
    }
    let mut denied = decide::Decision::deny(
        "ACTOR_REVOKED",
        format!("actor `{}` was revoked", caller.id),
    );
    denied.request = decision.request;
    denied
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delegation(
        id: &str,
        owner: &str,
        scopes: &[&str],
        expires: &str,
        revoked: bool,
    ) -> Delegation {
        Delegation {
            id: id.into(),
            agent: "agent:bot".into(),
            owner: owner.into(),
            scopes: scopes.iter().map(|scope| scope.to_string()).collect(),
            created_at: "2026-01-01T00:00:00.000000Z".into(),
            created_by: "staff:alice".into(),
            expires_at: expires.into(),
            revoked_at: revoked.then(|| "2026-01-02T00:00:00.000000Z".into()),
            revoked_by: None,
        }
    }

    #[test]
    fn the_best_delegation_is_resolved() {
        let now = crate::clock::parse_time("2026-06-01T00:00:00.000000Z").unwrap();
        let future = "2027-01-01T00:00:00.000000Z";
        let past = "2026-02-01T00:00:00.000000Z";
        let all = vec![
            delegation("revoked", "staff:bob", &["marketing.*"], future, true),
            delegation("expired", "staff:bob", &["marketing.*"], past, false),
            delegation("other-scope", "staff:bob", &["finance.*"], future, false),
            delegation("live", "staff:bob", &["marketing.*"], future, false),
        ];
        let (best, resolved) =
            resolve_delegation(&all, Some("marketing.post.draft"), Some("staff:bob"), now).unwrap();
        assert_eq!(best.id, "live");
        assert!(resolved.in_scope && !resolved.expired && !resolved.revoked);

        let (best, _) =
            resolve_delegation(&all[..3], Some("marketing.post.draft"), None, now).unwrap();
        assert_eq!(best.id, "other-scope");
        let (best, resolved) =
            resolve_delegation(&all[..2], Some("marketing.post.draft"), None, now).unwrap();
        assert_eq!(best.id, "expired");
        assert!(resolved.expired);
        let (_, resolved) =
            resolve_delegation(&all[..1], Some("marketing.post.draft"), None, now).unwrap();
        assert!(resolved.revoked);
        assert!(resolve_delegation(&[], Some("x.y"), None, now).is_none());
    }

    #[test]
    fn actor_ids_are_checked() {
        assert!(parse_actor_id("staff:alice").is_ok());
        assert!(parse_actor_id("robot:x").is_err());
        assert!(parse_actor_id("staff:a b").is_err());
        assert!(token_hash("brn_x") != token_hash("brn_y"));
    }
}
