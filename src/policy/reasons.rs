//! The reason-code catalogue: every code a denial or refusal can carry, what it means, and what
//! to do about it. Policies name codes in `@reason("...")`; lint rejects codes not listed here.

use serde::Serialize;

/// One reason code.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ReasonCode {
    pub code: &'static str,
    /// What it means, in words.
    pub meaning: &'static str,
    /// What to do about it.
    pub fix: &'static str,
}

const fn code(code: &'static str, meaning: &'static str, fix: &'static str) -> ReasonCode {
    ReasonCode { code, meaning, fix }
}

/// Every reason code, in the order they are documented.
pub const CATALOGUE: &[ReasonCode] = &[
    code(
        "KILL_SWITCH_ACTIVE",
        "a kill switch that covers this action is on",
        "wait until staff turn the switch off (`brain kill-switch status` shows which)",
    ),
    code(
        "APPROVAL_REQUIRED",
        "the capability needs more valid approvals before it can execute",
        "ask an allowed approver other than the proposer to approve it",
    ),
    code(
        "SELF_APPROVAL_FORBIDDEN",
        "nobody approves what they asked for (their own proposal or exemption)",
        "ask someone else to approve it",
    ),
    code(
        "APPROVER_NOT_ALLOWED",
        "this actor type may not approve this capability",
        "ask an actor of a type the manifest's `approval.approver_types` lists",
    ),
    code(
        "DELEGATION_MISSING",
        "the agent has no delegation",
        "have its owner delegate to it with `brain delegate`",
    ),
    code(
        "DELEGATION_EXPIRED",
        "the agent's delegation has expired",
        "have its owner renew the delegation",
    ),
    code(
        "DELEGATION_REVOKED",
        "the agent's delegation was revoked",
        "have its owner issue a new delegation if the agent should act again",
    ),
    code(
        "DELEGATION_SCOPE",
        "the capability is outside the agent's delegated scopes",
        "have its owner widen the delegation's scopes, or act as a person",
    ),
    code(
        "SWARM_DRAFT_ONLY",
        "a swarm only drafts: it never proposes, approves, executes or rolls back anything else",
        "a person proposes the action, taking the swarm's draft as a starting point",
    ),
    code(
        "SWARM_SUPPRESSED",
        "a draft for the same rule and subject is open, or was rejected within the rule's cooldown",
        "approve, reject or let the open draft expire; a rejected one stays quiet for its rule's cooldown",
    ),
    code(
        "INTAKE_REVIEW_REQUIRED",
        "the compliance intake gate routed it to mandatory human review and no override granted it",
        "a staff member other than the proposer reviews it: `brain intake override ID --grant|--deny --reason-code CODE --note TEXT`",
    ),
    code(
        "OWNER_MISMATCH",
        "the agent acts on a resource owned by someone other than its delegating owner",
        "act only within the delegating owner's resources",
    ),
    code(
        "QUOTA_EXCEEDED",
        "a quota of the capability is used up for now",
        "retry after the time given, or ask for an exemption",
    ),
    code(
        "SNAPSHOT_STALE",
        "the capability needs fresh StudioState and the latest snapshot is stale or partial",
        "run `brain snapshot run` (or wait for the schedule) and retry",
    ),
    code(
        "CAPABILITY_DISABLED",
        "the capability is disabled in its manifest",
        "enable it in its manifest if it should be used",
    ),
    code(
        "READ_ONLY_TARGET",
        "the target is read-only by construction (physical devices)",
        "physical connectors never write; do it on the device itself",
    ),
    code(
        "NO_PERMIT",
        "no policy permits this action (default deny)",
        "add a permit policy if the action should be allowed",
    ),
    code(
        "POLICY_ERROR",
        "a policy failed to evaluate, so brain denied to stay safe",
        "run `brain lint` and fix the policy",
    ),
    code(
        "UNKNOWN_CAPABILITY",
        "no capability manifest has this id",
        "check the id (`brain lint --list` does not list capabilities; see `capabilities/`)",
    ),
    code(
        "INPUT_INVALID",
        "the proposal input does not satisfy the capability's input schema",
        "fix the input; the message names the failing field",
    ),
    code(
        "INVALID_STATE",
        "the proposal is not in a state that allows this step",
        "check the proposal's state with `brain proposals show ID`",
    ),
    code(
        "APPROVAL_EXPIRED",
        "an approval is older than the capability's approval validity",
        "ask for a fresh approval",
    ),
    code(
        "UNAUTHENTICATED",
        "no valid token was given",
        "pass a token with BRAIN_TOKEN or --token-file",
    ),
    code(
        "ACTOR_REVOKED",
        "the actor's token was revoked",
        "ask staff for a new actor token",
    ),
    code(
        "STORE_UNAVAILABLE",
        "the store could not be reached, so brain denied to stay safe",
        "check the store (`/readyz`) and retry",
    ),
    code(
        "NOT_FOUND",
        "no proposal, actor, delegation, exemption or snapshot has this id",
        "check the id (`brain proposals`, `brain actor list`, `brain delegations list`, `brain exemptions list`, `brain snapshot history`)",
    ),
    code(
        "PROPOSAL_EXPIRED",
        "the proposal passed its expiry before it was approved and executed",
        "propose it again",
    ),
    code(
        "IDEMPOTENCY_CONFLICT",
        "the idempotency key was already used for this capability with a different input or proposer",
        "use a new idempotency key, or repeat the original request exactly",
    ),
    code(
        "TARGET_NOT_CONFIGURED",
        "no executor is configured for the capability's target",
        "configure the target's connector in brain.yaml",
    ),
    code(
        "SLO_BREACH",
        "a service-level objective went past its warning or critical threshold (audited by the daemon's evaluation)",
        "follow the objective's `on_call` notes in brain.yaml; `brain scorecard` shows its value and details",
    ),
    code(
        "SLO_RECOVERED",
        "a breached service-level objective is back within its objective",
        "nothing to do; the monthly review (`brain scorecard --format markdown`) lists the breach",
    ),
];

/// Look a code up.
pub fn lookup(code: &str) -> Option<&'static ReasonCode> {
    CATALOGUE.iter().find(|reason| reason.code == code)
}

/// The meaning of a code in words (the code itself when unknown).
pub fn describe(code: &str) -> String {
    lookup(code).map_or_else(|| code.to_string(), |reason| reason.meaning.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_shouting_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for reason in CATALOGUE {
            assert!(seen.insert(reason.code), "duplicate {}", reason.code);
            assert!(
                reason
                    .code
                    .bytes()
                    .all(|byte| byte.is_ascii_uppercase() || byte == b'_'),
                "{}",
                reason.code
            );
        }
    }

    #[test]
    fn every_reason_in_the_repository_policies_is_catalogued() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            if entry
                .path()
                .extension()
                .is_none_or(|extension| extension != "cedar")
            {
                continue;
            }
            let text = std::fs::read_to_string(entry.path()).unwrap();
            for part in text.split("@reason(\"").skip(1) {
                let code = part.split('"').next().unwrap();
                assert!(lookup(code).is_some(), "{code} is not catalogued");
            }
        }
    }
}
