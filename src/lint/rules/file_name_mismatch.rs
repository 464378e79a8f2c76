//! A manifest whose file name is not `<id>.yaml`.

use crate::diagnostic::{Finding, Severity};
use crate::lint::context::at_value;
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "file-name-mismatch",
    category: Category::Manifest,
    severity: Severity::Error,
    summary: "a capability manifest's file name does not match its id",
    why: "Reviewers find a capability by its id; `capabilities/<id>.yaml` keeps one obvious place \
          for each and makes renames visible in review.",
    failing: &[(
        "capabilities/example.yaml",
        super::support::EXAMPLE_CAPABILITY,
    )],
    passing: &[(
        "capabilities/studio.example.note.yaml",
        super::support::EXAMPLE_CAPABILITY,
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    for (parsed, manifest) in context.valid_manifests() {
        let name = parsed
            .source
            .name
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or_default();
        let stem = name
            .strip_suffix(".yaml")
            .or_else(|| name.strip_suffix(".yml"))
            .unwrap_or(name);
        if stem != manifest.id {
            findings.push(
                at_value(
                    parsed,
                    Finding::error(
                        "",
                        format!("file `{name}` declares capability `{}`", manifest.id),
                    ),
                    "/id",
                    "id differs from the file name",
                )
                .with_help(format!("rename the file to `{}.yaml`", manifest.id)),
            );
        }
    }
}
