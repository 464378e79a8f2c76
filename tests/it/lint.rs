//! `brain lint`, `brain test`, `brain eval` and `brain fmt` through the real binary.
//!
//! Every rule's failing example (from its docs) is laid over a copy of the repository's own
//! policy set and must make exactly that rule fire; its passing example must not.

use std::path::Path;

use crate::support::{brain, copy_dir, repo, run, temp_dir, transcript};

/// A studio repository in `dir`: a copy of this repository's policy set and a minimal config.
fn studio(dir: &Path, config_extra: &str) {
    for folder in ["policies", "capabilities", "specs"] {
        copy_dir(&repo().join(folder), &dir.join(folder));
    }
    test_file_stand_ins(dir);
    std::fs::write(
        dir.join("brain.yaml"),
        format!("studio:\n  name: Fixture\n{config_extra}"),
    )
    .unwrap();
}

/// A one-line stand-in for every test file the copied manifests list (they are this
/// repository's) and for `tests/it/example.rs`, which the rules' examples list, so the copy
/// lints as clean as the repository.
fn test_file_stand_ins(dir: &Path) {
    let mut listed = vec!["tests/it/example.rs".to_string()];
    for entry in std::fs::read_dir(dir.join("capabilities"))
        .unwrap()
        .flatten()
    {
        let path = entry.path();
        if path
            .extension()
            .is_some_and(|extension| extension == "yaml")
        {
            let source = brain::diagnostic::SourceFile::new(
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            );
            listed.extend(
                brain::capability::parse_manifest(source)
                    .value
                    .unwrap()
                    .tests,
            );
        }
    }
    for test in listed {
        let target = dir.join(test);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, "// stands in for the repository's test file\n").unwrap();
    }
}

fn overlay(dir: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let target = dir.join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, content).unwrap();
    }
}

fn lint_json(dir: &Path, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    let output = run(brain(dir).args(["--format", "json", "lint"]).args(extra));
    let value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("lint printed no JSON: {}", transcript(&output, dir)));
    (output.status.code(), value)
}

fn rules_in(value: &serde_json::Value) -> Vec<String> {
    value["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| finding["rule"].as_str().unwrap().to_string())
        .collect()
}

/// `brain lint` run in this repository (no brain.yaml: its policy tree) is clean, down to every
/// test file its manifests list; so is the built-in demo, which is that policy set.
#[test]
fn the_repository_policy_set_lints_clean() {
    let data = temp_dir();
    let output = run(brain(&repo())
        .env("BRAIN_DATA_DIR", data.path())
        .args(["lint", "--deny", "warnings"]));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, &repo())
    );
    let dir = temp_dir();
    let output = run(brain(dir.path()).args(["lint", "--deny", "warnings"]));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, dir.path())
    );
}

/// A listed test file that is missing, empty or outside the repository is named; the paths are
/// relative to the directory of brain.yaml.
#[test]
fn listed_test_files_must_exist_and_not_be_empty() {
    let dir = temp_dir();
    studio(dir.path(), "");
    overlay(
        dir.path(),
        &[
            ("tests/it/empty.rs", ""),
            (
                "capabilities/studio.example.note.yaml",
                "id: studio.example.note\ntitle: Example\nowner: staff:a\nrisk_tier: low\nmode: draft\ntarget: brain\nclass: internal\nlimits:\n  - per: actor\n    max: 10\n    window: 1d\nfailure_mode: x\nrollback: { strategy: discard_draft, how: nothing }\ntests:\n  - tests/it/example.rs\n  - tests/it/absent.rs\n  - tests/it/empty.rs\n  - ../elsewhere.rs\n  - tests/it\n",
            ),
        ],
    );
    let (code, value) = lint_json(dir.path(), &[]);
    assert_eq!(code, Some(1), "{value:#}");
    let messages: Vec<&str> = value["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|finding| finding["rule"] == "missing-test-file")
        .map(|finding| finding["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            "test file `tests/it/absent.rs` of capability `studio.example.note` does not exist",
            "test file `tests/it/empty.rs` of capability `studio.example.note` is empty",
            "test file `../elsewhere.rs` of capability `studio.example.note` is not a relative path inside the repository",
        ],
        "{value:#}"
    );
}

#[test]
fn every_rule_fires_on_its_failing_example_and_not_on_its_passing_one() {
    for rule in brain::lint::RULES {
        let failing = temp_dir();
        studio(failing.path(), "");
        overlay(failing.path(), rule.failing);
        let (code, value) = lint_json(failing.path(), &[]);
        let fired = rules_in(&value);
        assert!(
            fired.iter().any(|id| id == rule.id),
            "{}: the failing example did not fire it: {value:#}",
            rule.id
        );
        let expected_code = if fired
            .iter()
            .any(|id| brain::lint::rule(id).unwrap().severity == brain::diagnostic::Severity::Error)
        {
            1
        } else {
            0
        };
        assert_eq!(code, Some(expected_code), "{}", rule.id);
        let human = run(brain(failing.path()).args(["lint"]));
        let text = transcript(&human, failing.path());
        assert!(!text.contains("panicked"), "{text}");
        insta::assert_snapshot!(format!("lint_rule_{}", rule.id), text);

        let passing = temp_dir();
        studio(passing.path(), "");
        overlay(passing.path(), rule.passing);
        let (_, value) = lint_json(passing.path(), &[]);
        let fired = rules_in(&value);
        assert!(
            !fired.iter().any(|id| id == rule.id),
            "{}: the passing example fired it: {value:#}",
            rule.id
        );
    }
}

/// A studio with one error (an unknown target) and one warning (an expired exemption).
fn studio_with_findings(dir: &Path, config_extra: &str) {
    studio(dir, config_extra);
    overlay(
        dir,
        &[
            (
                "capabilities/studio.example.note.yaml",
                "id: studio.example.note\ntitle: Example\nowner: staff:a\nrisk_tier: low\nmode: read\ntarget: kiln\nclass: cloud\nfailure_mode: x\nrollback: { strategy: none, how: nothing }\ntests: [tests/it/example.rs]\n",
            ),
            (
                "capabilities/exemptions/old.yaml",
                "capability: firestore.ops_note.append\nstarts: 2020-01-01\nexpires: 2020-01-02\njustification: An old one.\nrequested_by: staff:a\napproved_by: staff:b\n",
            ),
        ],
    );
}

#[test]
fn every_output_format_is_stable() {
    let dir = temp_dir();
    studio_with_findings(dir.path(), "");
    for format in ["human", "json", "sarif", "github"] {
        let output = run(brain(dir.path()).args(["--format", format, "lint"]));
        assert_eq!(output.status.code(), Some(1), "{format}");
        let text = transcript(&output, dir.path()).replace(env!("CARGO_PKG_VERSION"), "[VERSION]");
        insta::assert_snapshot!(format!("lint_format_{format}"), text);
    }
    let output = run(brain(dir.path()).args(["--format", "sarif", "lint"]));
    let sarif: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(
        sarif["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .len(),
        brain::lint::RULES.len()
    );
}

#[test]
fn warnings_fail_only_when_denied_and_severities_are_configurable() {
    let dir = temp_dir();
    studio(dir.path(), "");
    overlay(
        dir.path(),
        &[(
            "capabilities/exemptions/old.yaml",
            "capability: firestore.ops_note.append\nstarts: 2020-01-01\nexpires: 2020-01-02\njustification: An old one.\nrequested_by: staff:a\napproved_by: staff:b\n",
        )],
    );
    let (code, value) = lint_json(dir.path(), &[]);
    assert_eq!(code, Some(0));
    assert_eq!(rules_in(&value), vec!["expired-exemption"]);
    let (code, _) = lint_json(dir.path(), &["--deny", "warnings"]);
    assert_eq!(code, Some(1));

    std::fs::write(
        dir.path().join("brain.yaml"),
        "lint:\n  severities:\n    expired-exemption: error\n",
    )
    .unwrap();
    let (code, value) = lint_json(dir.path(), &[]);
    assert_eq!(code, Some(1));
    assert_eq!(value["findings"][0]["severity"], "error");

    std::fs::write(
        dir.path().join("brain.yaml"),
        "lint:\n  severities:\n    expired-exemption: off\n",
    )
    .unwrap();
    let (code, value) = lint_json(dir.path(), &[]);
    assert_eq!(code, Some(0));
    assert!(rules_in(&value).is_empty());
}

/// Without brain.yaml, lint, test and fmt judge the policy tree in the current directory, not the
/// built-in demo: a broken tree fails them, and stderr says which tree they judged.
#[test]
fn without_a_config_the_policy_tree_here_is_judged_not_the_demo() {
    let dir = temp_dir();
    studio_with_findings(dir.path(), "");
    std::fs::remove_file(dir.path().join("brain.yaml")).unwrap();
    let output = run(brain(dir.path()).args(["lint"]));
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!(transcript(&output, dir.path()));

    overlay(
        dir.path(),
        &[(
            "policies/tests/wrong.yaml",
            "tests:\n  - name: a wrong expectation\n    principal: staff:alice\n    action: propose\n    capability: firestore.ops_note.append\n    expect: deny\n",
        )],
    );
    let output = run(brain(dir.path()).args(["test"]));
    let text = transcript(&output, dir.path());
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("a wrong expectation"), "{text}");
    assert!(
        text.contains("using the policy tree in this directory"),
        "{text}"
    );

    overlay(
        dir.path(),
        &[(
            "policies/messy.cedar",
            "@id(\"messy\")   permit(principal is Staff,action==Action::\"reject\",resource);",
        )],
    );
    let output = run(brain(dir.path()).args(["fmt", "--check"]));
    let text = transcript(&output, dir.path());
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("messy.cedar"), "{text}");
}

#[test]
fn inline_suppressions_must_name_a_rule() {
    let dir = temp_dir();
    studio(dir.path(), "");
    let exemption = "capability: firestore.ops_note.append\nstarts: 2020-01-01\n# brain-lint: allow expired-exemption\nexpires: 2020-01-02\njustification: An old one.\nrequested_by: staff:a\napproved_by: staff:b\n";
    overlay(
        dir.path(),
        &[("capabilities/exemptions/old.yaml", exemption)],
    );
    let (_, value) = lint_json(dir.path(), &[]);
    assert!(rules_in(&value).is_empty(), "{value:#}");

    let blanket = exemption.replace("allow expired-exemption", "allow");
    overlay(
        dir.path(),
        &[("capabilities/exemptions/old.yaml", &blanket)],
    );
    let (code, value) = lint_json(dir.path(), &[]);
    assert_eq!(code, Some(1));
    let fired = rules_in(&value);
    assert!(
        fired.contains(&"invalid-suppression".to_string()),
        "{fired:?}"
    );
    assert!(
        fired.contains(&"expired-exemption".to_string()),
        "{fired:?}"
    );
}

#[test]
fn one_bad_file_never_hides_the_others() {
    let dir = temp_dir();
    studio(dir.path(), "");
    overlay(
        dir.path(),
        &[
            ("capabilities/broken.yaml", "id: [unclosed\n"),
            (
                "policies/broken.cedar",
                "permit (principal, action resource);\n",
            ),
            ("capabilities/exemptions/broken.yaml", "capability: 3\n"),
            (
                "capabilities/exemptions/self.yaml",
                "capability: firestore.ops_note.append\nstarts: 2026-01-01\nexpires: 2026-01-02\njustification: x\nrequested_by: staff:a\napproved_by: staff:a\n",
            ),
        ],
    );
    let (code, value) = lint_json(dir.path(), &[]);
    assert_eq!(code, Some(1));
    let fired = rules_in(&value);
    for rule in [
        "invalid-manifest",
        "cedar-syntax",
        "invalid-exemption",
        "self-approved-exemption",
    ] {
        assert!(
            fired.iter().any(|id| id == rule),
            "{rule} missing from {fired:?}"
        );
    }
    for finding in value["findings"].as_array().unwrap() {
        assert!(
            finding["file"].is_string(),
            "every finding names its file: {finding}"
        );
    }
}

#[test]
fn list_and_explain_document_every_rule() {
    let dir = temp_dir();
    let output = run(brain(dir.path()).args(["lint", "--list"]));
    assert_eq!(output.status.code(), Some(0));
    let listed = String::from_utf8_lossy(&output.stdout);
    for rule in brain::lint::RULES {
        assert!(listed.contains(rule.id), "--list lacks {}", rule.id);
    }
    let output = run(brain(dir.path()).args(["lint", "--explain", "forbid-without-reason"]));
    assert_eq!(output.status.code(), Some(0));
    insta::assert_snapshot!(transcript(&output, dir.path()));
    let output = run(brain(dir.path()).args(["lint", "--explain", "forbid-without-reasons"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("did you mean `forbid-without-reason`")
    );
}

#[test]
fn policy_tests_pass_and_failures_show_the_actual_decision() {
    let dir = temp_dir();
    let output = run(brain(dir.path()).args(["test"]));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, dir.path())
    );
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .trim_end()
            .ends_with("0 failed")
    );

    std::fs::write(
        dir.path().join("wrong.yaml"),
        "tests:\n  - name: expects the kill switch to allow (it does not)\n    principal: staff:bob\n    action: execute\n    capability: firestore.ops_note.append\n    context: { approvals: 1, kill_switches: [global] }\n    expect: allow\n  - name: right\n    principal: staff:alice\n    action: propose\n    capability: firestore.ops_note.append\n    expect: allow\n    policies: [staff.propose]\n",
    )
    .unwrap();
    let output = run(brain(dir.path()).args(["test", "wrong.yaml"]));
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!(transcript(&output, dir.path()));

    std::fs::write(
        dir.path().join("bad.yaml"),
        "tests:\n  - name: x\n    principal: staff:a\n",
    )
    .unwrap();
    let output = run(brain(dir.path()).args(["test", "bad.yaml"]));
    assert_eq!(output.status.code(), Some(2));
    insta::assert_snapshot!("policy_test_bad_file", transcript(&output, dir.path()));
}

#[test]
fn eval_prints_the_decision_and_exits_by_it() {
    let dir = temp_dir();
    let allow = run(brain(dir.path()).args([
        "eval",
        "--principal",
        "staff:alice",
        "--action",
        "propose",
        "--capability",
        "firestore.ops_note.append",
    ]));
    assert_eq!(allow.status.code(), Some(0));
    let deny = run(brain(dir.path()).args([
        "eval",
        "--principal",
        "agent:drafter",
        "--action",
        "propose",
        "--capability",
        "marketing.post.draft",
        "--delegation",
        r#"{"owner": "staff:lead", "scopes": ["marketing.*"], "expired": true}"#,
    ]));
    assert_eq!(deny.status.code(), Some(1));
    let json = run(brain(dir.path()).args([
        "--format",
        "json",
        "eval",
        "--principal",
        "staff:bob",
        "--action",
        "execute",
        "--capability",
        "firestore.ops_note.append",
        "--context",
        r#"{"approvals": 1, "kill_switches": ["global"]}"#,
    ]));
    assert_eq!(json.status.code(), Some(1));
    let bad = run(brain(dir.path()).args([
        "eval",
        "--principal",
        "robot:x",
        "--action",
        "fly",
        "--capability",
        "y",
    ]));
    assert_eq!(bad.status.code(), Some(2));
    insta::assert_snapshot!(
        [&allow, &deny, &json, &bad]
            .iter()
            .map(|output| transcript(output, dir.path()))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn fmt_checks_and_rewrites_cedar_files() {
    let dir = temp_dir();
    let output = run(brain(dir.path()).args(["fmt", "--check"]));
    assert_eq!(
        output.status.code(),
        Some(0),
        "the repository's policies are formatted: {}",
        transcript(&output, dir.path())
    );

    let file = dir.path().join("messy.cedar");
    std::fs::write(
        &file,
        "// keep me\n@id(\"x\")   permit(principal is Staff,action==Action::\"reject\",resource);",
    )
    .unwrap();
    let output = run(brain(dir.path()).args(["fmt", "--check", "messy.cedar"]));
    assert_eq!(output.status.code(), Some(1));
    let output = run(brain(dir.path()).args(["fmt", "messy.cedar"]));
    assert_eq!(output.status.code(), Some(0));
    let formatted = std::fs::read_to_string(&file).unwrap();
    assert!(
        formatted.contains("// keep me"),
        "comments survive: {formatted}"
    );
    insta::assert_snapshot!(formatted);
    let output = run(brain(dir.path()).args(["fmt", "--check", "messy.cedar"]));
    assert_eq!(output.status.code(), Some(0));

    std::fs::write(&file, "permit (principal action);").unwrap();
    let output = run(brain(dir.path()).args(["fmt", "messy.cedar"]));
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn schemas_are_printed_for_every_file_kind() {
    let dir = temp_dir();
    for kind in ["config", "capability", "exemption", "policy-test"] {
        let output = run(brain(dir.path()).args(["schema", kind]));
        assert_eq!(output.status.code(), Some(0), "{kind}");
        let schema: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert!(
            jsonschema::validator_for(&schema).is_ok(),
            "{kind} is a valid schema"
        );
    }
}
