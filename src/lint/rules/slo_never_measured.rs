//! An objective brain.yaml declares that the policy set gives nothing to measure: a review
//! time for a risk tier no capability needing approval has, audit completeness without any
//! external write, a connector indicator for a connector without a read capability.

use crate::capability::Manifest;
use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};
use crate::scorecard::Indicator;

pub static RULE: Rule = Rule {
    id: "slo-never-measured",
    category: Category::Slo,
    severity: Severity::Warning,
    summary: "a service-level objective in brain.yaml that the policy set gives nothing to measure",
    why: "An objective nothing can measure reports `no_data` for ever: its tile on the cockpit \
          stays grey, it never breaches, and the monthly review lists it under \"without data\" \
          while everyone believes it is watched. A review time needs capabilities of its tier \
          that wait for approval; audit completeness needs an external write; a connector's \
          availability needs the read capability it is polled under.",
    failing: &[(
        "brain.yaml",
        "studio:\n  name: Fixture\nslos:\n  objectives:\n    - id: review-p90-critical\n      indicator: review_p90\n      risk_tier: critical\n      target: 24\n      critical: 48\n      owner: staff:studio-manager\n",
    )],
    passing: &[(
        "brain.yaml",
        "studio:\n  name: Fixture\nslos:\n  objectives:\n    - id: review-p90-medium\n      indicator: review_p90\n      risk_tier: medium\n      target: 24\n      critical: 48\n      owner: staff:studio-manager\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    let Some(declared) = &context.workspace.objectives else {
        return;
    };
    let manifests: Vec<&Manifest> = context
        .valid_manifests()
        .map(|(_, manifest)| manifest)
        .collect();
    for (index, objective) in declared.objectives.iter().enumerate() {
        let Some((problem, help, field)) = unmeasured(objective, &manifests) else {
            continue;
        };
        let pointer = format!("/slos/objectives/{index}/{field}");
        findings.push(
            Finding::warning(
                "",
                format!(
                    "objective `{}` can never have a value: {problem}",
                    objective.id
                ),
            )
            .at(
                &declared.source,
                declared.document.value_span(&pointer),
                "nothing to measure",
            )
            .with_help(help),
        );
    }
}

/// Why `objective` has nothing to measure under `manifests`, how to fix it, and the field to
/// point at; `None` when something can measure it.
fn unmeasured(
    objective: &crate::config::slos::SloConfig,
    manifests: &[&Manifest],
) -> Option<(String, String, &'static str)> {
    match objective.indicator {
        Indicator::ReviewMedian | Indicator::ReviewP90 => {
            let reviewed = manifests.iter().any(|manifest| {
                manifest.approval.required > 0
                    && objective
                        .risk_tier
                        .is_none_or(|tier| manifest.risk_tier == Some(tier))
            });
            if reviewed {
                return None;
            }
            Some(match objective.risk_tier {
                Some(tier) => (
                    format!(
                        "no capability of risk tier `{}` needs an approval, so none is ever reviewed",
                        tier.as_str()
                    ),
                    "measure a tier the capabilities have (or every tier, without `risk_tier`), or remove the objective".to_string(),
                    "risk_tier",
                ),
                None => (
                    "no capability needs an approval, so nothing is ever reviewed".to_string(),
                    "remove the objective, or give the capabilities that change things an `approval:`".to_string(),
                    "indicator",
                ),
            })
        }
        Indicator::AuditCompleteness => {
            let writes = manifests
                .iter()
                .any(|manifest| manifest.mode.as_str() == "write" && manifest.target != "brain");
            (!writes).then(|| {
                (
                    "no capability writes to an external system, so there is no write to audit"
                        .to_string(),
                    "remove the objective until a write capability exists".to_string(),
                    "indicator",
                )
            })
        }
        Indicator::ConnectorAvailability | Indicator::ConnectorMttr => {
            let connector = objective.connector.as_deref()?;
            let read = manifests
                .iter()
                .any(|manifest| manifest.target == connector && manifest.mode.as_str() == "read");
            (!read).then(|| {
                (
                    format!(
                        "connector `{connector}` has no read capability, so it is never polled"
                    ),
                    format!(
                        "add a manifest with `target: {connector}` and `mode: read`, or remove the objective"
                    ),
                    "connector",
                )
            })
        }
        _ => None,
    }
}
