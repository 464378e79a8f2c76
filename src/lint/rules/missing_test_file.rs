//! A manifest's `tests:` names a file that is not in the studio repository, or is empty.

use crate::diagnostic::{Finding, Severity};
use crate::lint::context::{TestFile, at_value};
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "missing-test-file",
    category: Category::Manifest,
    severity: Severity::Error,
    summary: "a capability's `tests:` names a file that does not exist or is empty",
    why: "`tests:` is the capability's test coverage on record: reviewers approve a capability \
          because of it. A listed file that is missing or empty claims coverage nobody has. Paths \
          are relative to the studio repository's root (the directory of brain.yaml).",
    failing: &[(
        "capabilities/studio.example.note.yaml",
        "id: studio.example.note\ntitle: Example capability\nowner: staff:studio-manager\nrisk_tier: low\nmode: draft\ntarget: brain\nclass: internal\nlimits:\n  - per: actor\n    max: 10\n    window: 1d\nfailure_mode: Nothing is created.\nrollback:\n  strategy: discard_draft\n  how: Discard the draft.\ntests:\n  - tests/it/example_note.rs\n",
    )],
    passing: &[
        (
            "capabilities/studio.example.note.yaml",
            "id: studio.example.note\ntitle: Example capability\nowner: staff:studio-manager\nrisk_tier: low\nmode: draft\ntarget: brain\nclass: internal\nlimits:\n  - per: actor\n    max: 10\n    window: 1d\nfailure_mode: Nothing is created.\nrollback:\n  strategy: discard_draft\n  how: Discard the draft.\ntests:\n  - tests/it/example_note.rs\n",
        ),
        (
            "tests/it/example_note.rs",
            "#[test]\nfn an_example_note_is_drafted() {}\n",
        ),
    ],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    // Without the repository at hand (the built-in demo) there is nothing to look in.
    if context.workspace.repository_root.is_none() {
        return;
    }
    for (parsed, manifest) in context.valid_manifests() {
        for (index, path) in manifest.tests.iter().enumerate() {
            let problem = match context.workspace.test_file(path) {
                TestFile::Present => continue,
                TestFile::Missing => "does not exist",
                TestFile::Empty => "is empty",
                TestFile::Outside => "is not a relative path inside the repository",
            };
            findings.push(
                at_value(
                    parsed,
                    Finding::error(
                        "",
                        format!(
                            "test file `{path}` of capability `{}` {problem}",
                            manifest.id
                        ),
                    ),
                    &format!("/tests/{index}"),
                    "listed here",
                )
                .with_help(
                    "paths are relative to the studio repository's root (the directory of \
                     brain.yaml, or of the policy tree without one); write the test, or list the \
                     files that do test the capability",
                ),
            );
        }
    }
}
