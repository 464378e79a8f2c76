//! The rule catalogue: one file per rule, listed once in [`RULES`].

mod agent_usable_without_limits;
mod approval_validity_too_long;
mod capability_never_permitted;
mod cedar_syntax;
mod cedar_validation;
mod cedar_validation_warning;
mod duplicate_capability_id;
mod duplicate_policy_id;
mod exemption_not_scoped;
mod exemption_too_long;
mod exemption_unknown_capability;
mod exemption_without_expiry;
mod exemption_without_justification;
mod expired_exemption;
mod file_name_mismatch;
mod forbid_without_reason;
mod high_risk_too_few_approvers;
mod high_risk_without_spec;
mod intake_terms_invalid;
mod invalid_exemption;
mod invalid_input_schema;
mod invalid_manifest;
mod invalid_suppression;
mod invariant_agent_needs_delegation;
mod invariant_approval_required;
mod invariant_fresh_state;
mod invariant_global_kill_switch;
mod invariant_no_self_approval;
mod invariant_swarm_draft_only;
mod missing_global_kill_switch;
mod missing_governance_metadata;
mod missing_test_file;
mod physical_write;
mod policy_missing_id;
mod self_approved_exemption;
mod slo_never_measured;
mod spec_missing_sections;
mod state_model_empty_class;
mod state_model_invalid;
mod state_model_malformed;
mod state_model_unknown_collection;
mod state_model_value_in_two_classes;
mod swarm_template_invalid;
mod swarm_terms_invalid;
mod unconstrained_permit;
mod unknown_capability_in_policy;
mod unknown_reason_code;
mod unknown_target;
mod write_without_approval;
mod write_without_rollback;

pub(crate) mod support;

/// The `##` sections every spec needs (the `spec-missing-sections` rule).
pub use spec_missing_sections::REQUIRED_SECTIONS as REQUIRED_SPEC_SECTIONS;

use super::Rule;

/// Every rule, in catalogue order.
pub static RULES: &[&Rule] = &[
    &invalid_manifest::RULE,
    &missing_governance_metadata::RULE,
    &missing_test_file::RULE,
    &duplicate_capability_id::RULE,
    &file_name_mismatch::RULE,
    &write_without_approval::RULE,
    &high_risk_too_few_approvers::RULE,
    &high_risk_without_spec::RULE,
    &physical_write::RULE,
    &unknown_target::RULE,
    &write_without_rollback::RULE,
    &agent_usable_without_limits::RULE,
    &invalid_input_schema::RULE,
    &approval_validity_too_long::RULE,
    &spec_missing_sections::RULE,
    &state_model_invalid::RULE,
    &state_model_unknown_collection::RULE,
    &state_model_value_in_two_classes::RULE,
    &state_model_empty_class::RULE,
    &state_model_malformed::RULE,
    &swarm_template_invalid::RULE,
    &swarm_terms_invalid::RULE,
    &intake_terms_invalid::RULE,
    &slo_never_measured::RULE,
    &cedar_syntax::RULE,
    &cedar_validation::RULE,
    &cedar_validation_warning::RULE,
    &policy_missing_id::RULE,
    &duplicate_policy_id::RULE,
    &forbid_without_reason::RULE,
    &unknown_reason_code::RULE,
    &unknown_capability_in_policy::RULE,
    &capability_never_permitted::RULE,
    &unconstrained_permit::RULE,
    &missing_global_kill_switch::RULE,
    &invalid_exemption::RULE,
    &exemption_without_expiry::RULE,
    &exemption_too_long::RULE,
    &expired_exemption::RULE,
    &self_approved_exemption::RULE,
    &exemption_without_justification::RULE,
    &exemption_not_scoped::RULE,
    &exemption_unknown_capability::RULE,
    &invariant_global_kill_switch::RULE,
    &invariant_approval_required::RULE,
    &invariant_no_self_approval::RULE,
    &invariant_agent_needs_delegation::RULE,
    &invariant_fresh_state::RULE,
    &invariant_swarm_draft_only::RULE,
    &invalid_suppression::RULE,
];

#[cfg(test)]
mod tests {
    use super::RULES;

    /// Every rule file is registered, once, under the id its file name spells.
    #[test]
    fn every_rule_file_is_registered_and_documented() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lint/rules");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|entry| {
                entry
                    .file_name()
                    .to_string_lossy()
                    .trim_end_matches(".rs")
                    .to_string()
            })
            .filter(|name| name != "mod" && name != "support")
            .collect();
        files.sort();
        let mut ids: Vec<String> = RULES.iter().map(|rule| rule.id.replace('-', "_")).collect();
        ids.sort();
        assert_eq!(files, ids, "rule files and the registry differ");
        for rule in RULES {
            assert!(
                !rule.summary.is_empty() && !rule.why.is_empty(),
                "{} lacks docs",
                rule.id
            );
            assert!(
                !rule.failing.is_empty(),
                "{} has no failing example",
                rule.id
            );
            assert!(
                !rule.passing.is_empty(),
                "{} has no passing example",
                rule.id
            );
            let explained = rule.explain();
            assert!(
                explained.contains("## Failing example")
                    && explained.contains("## Passing example")
            );
        }
    }
}
