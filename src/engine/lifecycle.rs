//! The proposal lifecycle as a pure state machine:
//!
//! ```text
//! draft → pending_approval → approved | rejected | expired | cancelled
//!                 approved → executing → succeeded | failed
//!                                         succeeded → rolled_back
//! ```
//!
//! Architecture Invariant: every state change of a proposal goes through [`next`]; a step that
//! the table below does not allow is refused with the current state named.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a proposal stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ProposalState {
    Draft,
    PendingApproval,
    Approved,
    Rejected,
    Expired,
    Cancelled,
    Executing,
    Succeeded,
    Failed,
    RolledBack,
}

impl ProposalState {
    pub const ALL: [ProposalState; 10] = [
        ProposalState::Draft,
        ProposalState::PendingApproval,
        ProposalState::Approved,
        ProposalState::Rejected,
        ProposalState::Expired,
        ProposalState::Cancelled,
        ProposalState::Executing,
        ProposalState::Succeeded,
        ProposalState::Failed,
        ProposalState::RolledBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProposalState::Draft => "draft",
            ProposalState::PendingApproval => "pending_approval",
            ProposalState::Approved => "approved",
            ProposalState::Rejected => "rejected",
            ProposalState::Expired => "expired",
            ProposalState::Cancelled => "cancelled",
            ProposalState::Executing => "executing",
            ProposalState::Succeeded => "succeeded",
            ProposalState::Failed => "failed",
            ProposalState::RolledBack => "rolled_back",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        ProposalState::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
    }

    /// Still waiting for a person (or the clock): it can be approved, rejected, cancelled or
    /// expire.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            ProposalState::Draft | ProposalState::PendingApproval | ProposalState::Approved
        )
    }

    /// The state as the end of a sentence: "it is pending approval", "it has succeeded".
    pub fn described(self) -> &'static str {
        match self {
            ProposalState::Draft => "it is a draft",
            ProposalState::PendingApproval => "it is pending approval",
            ProposalState::Approved => "it is approved",
            ProposalState::Rejected => "it was rejected",
            ProposalState::Expired => "it has expired",
            ProposalState::Cancelled => "it was cancelled",
            ProposalState::Executing => "it is executing",
            ProposalState::Succeeded => "it has succeeded",
            ProposalState::Failed => "it has failed",
            ProposalState::RolledBack => "it was rolled back",
        }
    }

    /// Nothing more can happen to it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ProposalState::Rejected
                | ProposalState::Expired
                | ProposalState::Cancelled
                | ProposalState::Failed
                | ProposalState::RolledBack
        )
    }
}

impl fmt::Display for ProposalState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One step of the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A draft goes to the approval queue (or straight to approved when none is needed).
    Submit {
        approvals_needed: bool,
    },
    /// An approval was recorded; `enough` when the valid approvals now meet the requirement.
    Approve {
        enough: bool,
    },
    Reject,
    Cancel,
    Expire,
    StartExecution,
    Succeed,
    Fail,
    Rollback,
}

impl Step {
    pub fn verb(self) -> &'static str {
        match self {
            Step::Submit { .. } => "submit",
            Step::Approve { .. } => "approve",
            Step::Reject => "reject",
            Step::Cancel => "cancel",
            Step::Expire => "expire",
            Step::StartExecution => "execute",
            Step::Succeed | Step::Fail => "finish",
            Step::Rollback => "roll back",
        }
    }
}

/// A step the current state does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IllegalTransition {
    pub from: ProposalState,
    pub step: Step,
}

impl IllegalTransition {
    /// What to tell a person.
    pub fn message(&self, proposal_id: &str) -> String {
        format!(
            "cannot {} proposal `{proposal_id}`: {}",
            self.step.verb(),
            self.from.described()
        )
    }

    /// What they can do instead.
    pub fn help(&self) -> String {
        match (self.from, self.step) {
            (ProposalState::PendingApproval, Step::StartExecution) => {
                "it needs its approvals first (`brain approve ID`)".into()
            }
            (ProposalState::Draft, Step::StartExecution | Step::Approve { .. }) => {
                "submit the draft first (`brain proposals submit ID`)".into()
            }
            (ProposalState::Executing, _) => {
                "it is executing (or was interrupted: `brain proposals show ID` says which)".into()
            }
            (ProposalState::Succeeded, Step::StartExecution) => {
                "it already executed; propose again to do it twice".into()
            }
            (state, _) if state.is_final() => {
                "it is closed; propose again if it is still needed".into()
            }
            _ => "`brain proposals show ID` shows its state and history".into(),
        }
    }
}

/// The state after `step`, or why the step is not allowed.
pub fn next(from: ProposalState, step: Step) -> Result<ProposalState, IllegalTransition> {
    use ProposalState as S;
    let to = match (from, step) {
        (S::Draft, Step::Submit { approvals_needed }) => {
            if approvals_needed {
                S::PendingApproval
            } else {
                S::Approved
            }
        }
        (S::PendingApproval, Step::Approve { enough }) => {
            if enough {
                S::Approved
            } else {
                S::PendingApproval
            }
        }
        (S::Draft | S::PendingApproval | S::Approved, Step::Reject) => S::Rejected,
        (S::Draft | S::PendingApproval | S::Approved, Step::Cancel) => S::Cancelled,
        (S::Draft | S::PendingApproval | S::Approved, Step::Expire) => S::Expired,
        (S::Approved, Step::StartExecution) => S::Executing,
        (S::Executing, Step::Succeed) => S::Succeeded,
        (S::Executing, Step::Fail) => S::Failed,
        (S::Succeeded, Step::Rollback) => S::RolledBack,
        _ => return Err(IllegalTransition { from, step }),
    };
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_happy_path_is_allowed() {
        let mut state = ProposalState::Draft;
        for step in [
            Step::Submit {
                approvals_needed: true,
            },
            Step::Approve { enough: false },
            Step::Approve { enough: true },
            Step::StartExecution,
            Step::Succeed,
            Step::Rollback,
        ] {
            state = next(state, step).unwrap();
        }
        assert_eq!(state, ProposalState::RolledBack);
    }

    #[test]
    fn closed_and_running_proposals_refuse_every_step_but_their_own() {
        let steps = [
            Step::Submit {
                approvals_needed: true,
            },
            Step::Approve { enough: true },
            Step::Reject,
            Step::Cancel,
            Step::Expire,
            Step::StartExecution,
            Step::Succeed,
            Step::Fail,
            Step::Rollback,
        ];
        for state in ProposalState::ALL {
            for step in steps {
                let result = next(state, step);
                if state.is_final() {
                    assert!(result.is_err(), "{state:?} allowed {step:?}");
                }
                if state == ProposalState::Executing {
                    assert_eq!(
                        result.is_ok(),
                        matches!(step, Step::Succeed | Step::Fail),
                        "{step:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn execution_needs_an_approved_proposal() {
        for state in ProposalState::ALL {
            assert_eq!(
                next(state, Step::StartExecution).is_ok(),
                state == ProposalState::Approved
            );
        }
        let error = next(ProposalState::PendingApproval, Step::StartExecution).unwrap_err();
        assert_eq!(
            error.message("p_1"),
            "cannot execute proposal `p_1`: it is pending approval"
        );
    }

    #[test]
    fn states_round_trip_through_text() {
        for state in ProposalState::ALL {
            assert_eq!(ProposalState::parse(state.as_str()), Some(state));
        }
        assert_eq!(ProposalState::parse("done"), None);
    }
}
