//! The governance reviewer's pull request: `brain policy diff` on real changes of the
//! repository's policy set (a tightened approval rule, a removed permit, a forbid scoped to one
//! capability, an exemption added; from directories and from a git revision), and
//! `brain policy replay` of a studio's recorded decisions under candidates, on every backend and
//! through a daemon.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::engine::{Backend, Studio};
use crate::support::{brain, copy_dir, normalise, repo, run, temp_dir, transcript};

/// A copy of the repository's policy tree at `dir`.
fn policy_tree(dir: &Path) {
    for folder in ["policies", "capabilities", "specs"] {
        copy_dir(&repo().join(folder), &dir.join(folder));
    }
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no `{from}`", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

fn diff(dir: &Path, args: &[&str]) -> Output {
    run(brain(dir)
        .args(["policy", "diff", "--base", "base", "--head", "head"])
        .args(args))
}

fn diff_json(dir: &Path) -> Value {
    let output = diff(dir, &["--format", "json"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, dir)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The markdown report, with the policy sets' short hashes scrubbed.
fn markdown(dir: &Path) -> String {
    let output = diff(dir, &["--format", "markdown"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, dir)
    );
    let text = normalise(&String::from_utf8_lossy(&output.stdout), dir);
    regex::Regex::new(r"`[0-9a-f]{12}`")
        .unwrap()
        .replace_all(&text, "`[HASH]`")
        .into_owned()
}

/// A studio repository before (`base/`) and after (`head/`) `change`.
fn changed(change: impl FnOnce(&Path)) -> tempfile::TempDir {
    let dir = temp_dir();
    policy_tree(&dir.path().join("base"));
    policy_tree(&dir.path().join("head"));
    change(&dir.path().join("head"));
    dir
}

fn changes_of<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|change| change["change"] == kind)
        .collect()
}

#[test]
fn a_tightened_approval_rule_is_newly_denied_with_the_policy_that_now_decides() {
    let dir = changed(|head| {
        edit(
            &head.join("capabilities/firestore.ops_note.append.yaml"),
            "  required: 1",
            "  required: 2",
        )
    });
    let report = diff_json(dir.path());
    let denied = changes_of(&report, "newly_denied");
    assert_eq!(denied.len(), 1, "{report:#}");
    assert_eq!(denied[0]["capability"], "firestore.ops_note.append");
    assert_eq!(denied[0]["action"], "execute");
    assert_eq!(denied[0]["principal"], "staff");
    assert_eq!(denied[0]["example"]["approvals"], 1);
    assert_eq!(denied[0]["before"]["policies"][0], "staff.execute");
    assert_eq!(
        denied[0]["after"]["reasons"][0], "APPROVAL_REQUIRED",
        "{report:#}"
    );
    assert!(changes_of(&report, "newly_allowed").is_empty());
    let approvals = report["approvals"].as_array().unwrap();
    assert_eq!(approvals.len(), 1, "{report:#}");
    assert_eq!(
        (
            approvals[0]["before"].as_i64(),
            approvals[0]["after"].as_i64()
        ),
        (Some(1), Some(2))
    );
    assert_eq!(report["manifests"][0]["fields"][0]["field"], "approval");
    assert_eq!(
        report["summary"]["capabilities_reevaluated"], 1,
        "the other capabilities decide alike on both sides"
    );
    insta::assert_snapshot!("policy_diff_tightened_approval", markdown(dir.path()));

    // CI gates: nothing is newly allowed, but something changed.
    assert_eq!(
        diff(dir.path(), &["--fail-on", "newly-allowed"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        diff(dir.path(), &["--fail-on", "any"]).status.code(),
        Some(1)
    );

    // Annotations point at the policy that now denies, in the head's files.
    let output = diff(dir.path(), &["--format", "github"]);
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|line| line.starts_with("::warning "))
        .unwrap_or_else(|| panic!("no warning annotation in {text}"));
    assert!(
        line.starts_with("::warning file=policies/base.cedar,line="),
        "{line}"
    );
    assert!(line.contains("newly denied"), "{line}");
}

#[test]
fn a_removed_permit_is_newly_denied_for_every_capability_it_allowed() {
    let dir = changed(|head| {
        edit(
            &head.join("policies/base.cedar"),
            "@id(\"human.propose-low-risk\")\npermit (\n  principal is Human,\n  action == Action::\"propose\",\n  resource\n)\nwhen { resource.tier_rank == 0 };",
            "",
        )
    });
    let report = diff_json(dir.path());
    let denied = changes_of(&report, "newly_denied");
    assert!(!denied.is_empty(), "{report:#}");
    for change in &denied {
        assert_eq!(change["principal"], "human", "{change:#}");
        assert_eq!(change["action"], "propose", "{change:#}");
        assert_eq!(change["policies_before"][0], "human.propose-low-risk");
        assert_eq!(change["after"]["reasons"][0], "NO_PERMIT");
    }
    // Exactly the low-risk capabilities a human could propose before.
    let denied_ids: Vec<&str> = denied
        .iter()
        .map(|change| change["capability"].as_str().unwrap())
        .collect();
    assert!(
        denied_ids.contains(&"firestore.ops_note.append"),
        "{denied_ids:?}"
    );
    assert!(changes_of(&report, "newly_allowed").is_empty());
    insta::assert_snapshot!("policy_diff_removed_permit", markdown(dir.path()));
}

#[test]
fn a_forbid_scoped_to_one_capability_changes_that_capability_only() {
    let dir = changed(|head| {
        std::fs::write(
            head.join("policies/pause.cedar"),
            "// Marketing drafts are paused while the new brand guide is reviewed.\n@id(\"marketing.paused\")\n@reason(\"CAPABILITY_DISABLED\")\nforbid (\n  principal,\n  action == Action::\"propose\",\n  resource == Capability::\"marketing.post.draft\"\n);\n",
        )
        .unwrap();
    });
    let report = diff_json(dir.path());
    let decisions = report["decisions"].as_array().unwrap();
    assert!(!decisions.is_empty());
    for change in decisions {
        assert_eq!(change["capability"], "marketing.post.draft", "{change:#}");
        assert_eq!(change["action"], "propose", "{change:#}");
    }
    let denied = changes_of(&report, "newly_denied");
    assert!(
        denied.iter().any(|change| change["principal"] == "staff"
            && change["policies_after"] == serde_json::json!(["marketing.paused"])),
        "{report:#}"
    );
    assert_eq!(report["summary"]["capabilities_reevaluated"], 1);
    insta::assert_snapshot!("policy_diff_scoped_forbid", markdown(dir.path()));
}

#[test]
fn an_exemption_added_is_newly_allowed_and_fails_the_gate() {
    let dir = changed(|head| {
        std::fs::create_dir_all(head.join("capabilities/exemptions")).unwrap();
        std::fs::write(
            head.join("capabilities/exemptions/ops-notes-inventory.yaml"),
            "capability: firestore.ops_note.append\nstarts: 2020-01-01\nexpires: 2099-01-01\njustification: Inventory week; notes go out without a second look.\nrequested_by: staff:studio-manager\napproved_by: staff:owner\n",
        )
        .unwrap();
    });
    let report = diff_json(dir.path());
    let allowed = changes_of(&report, "newly_allowed");
    assert!(
        allowed
            .iter()
            .any(|change| change["capability"] == "firestore.ops_note.append"
                && change["action"] == "execute"
                && change["principal"] == "staff"
                && change["example"]["approvals"] == 0),
        "{report:#}"
    );
    assert_eq!(report["exemptions"][0]["kind"], "added");
    assert_eq!(report["exemptions"][0]["in_force_after"], true);
    let approvals = report["approvals"].as_array().unwrap();
    assert!(
        approvals
            .iter()
            .any(|change| change["principal"] == "staff" && change["after"] == 0),
        "{report:#}"
    );
    insta::assert_snapshot!("policy_diff_exemption_added", markdown(dir.path()));
    let gate = diff(dir.path(), &["--fail-on", "newly-allowed"]);
    assert_eq!(
        gate.status.code(),
        Some(1),
        "{}",
        transcript(&gate, dir.path())
    );
    let output = diff(dir.path(), &["--format", "github"]);
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .any(|line| line.starts_with("::error ") && line.contains("newly allowed")),
        "{}",
        transcript(&output, dir.path())
    );
}

#[test]
fn the_base_can_be_a_git_revision_and_bad_arguments_are_named() {
    let dir = temp_dir();
    let root = dir.path();
    policy_tree(root);
    let git = |args: &[&str]| {
        let output = std::process::Command::new("git")
            .current_dir(root)
            .args(args)
            .env("GIT_AUTHOR_NAME", "Studio")
            .env("GIT_AUTHOR_EMAIL", "studio@example.com")
            .env("GIT_COMMITTER_NAME", "Studio")
            .env("GIT_COMMITTER_EMAIL", "studio@example.com")
            .output()
            .expect("git");
        assert!(output.status.success(), "git {args:?}: {output:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "the studio's policy set"]);
    // Unchanged: nothing to say.
    let same = run(brain(root).args(["--format", "json", "policy", "diff", "--base", "HEAD"]));
    assert_eq!(same.status.code(), Some(0), "{}", transcript(&same, root));
    let report: Value = serde_json::from_slice(&same.stdout).unwrap();
    assert_eq!(report["decisions"], serde_json::json!([]));
    assert_eq!(report["summary"]["questions"], 0);
    // A working-tree change against the commit; the working tree is left as it is.
    edit(
        &root.join("capabilities/firestore.ops_note.append.yaml"),
        "  required: 1",
        "  required: 2",
    );
    let changed = run(brain(root).args(["--format", "json", "policy", "diff", "--base", "HEAD"]));
    assert_eq!(
        changed.status.code(),
        Some(0),
        "{}",
        transcript(&changed, root)
    );
    let report: Value = serde_json::from_slice(&changed.stdout).unwrap();
    assert_eq!(changes_of(&report, "newly_denied").len(), 1, "{report:#}");
    assert_eq!(report["base"]["label"], "HEAD");
    assert!(
        std::fs::read_to_string(root.join("capabilities/firestore.ops_note.append.yaml"))
            .unwrap()
            .contains("required: 2")
    );

    // Neither a directory nor a revision.
    let output = run(brain(root).args(["policy", "diff", "--base", "no-such-rev"]));
    assert_eq!(output.status.code(), Some(2));
    let text = transcript(&output, root);
    assert!(
        text.contains("`no-such-rev` is neither a directory nor a git revision"),
        "{text}"
    );
    // A head without a policy set is refused, never replaced by the demo.
    let empty = temp_dir();
    let output = run(brain(empty.path()).args(["policy", "diff", "--base", "."]));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        transcript(&output, empty.path()).contains("holds no policy set"),
        "{}",
        transcript(&output, empty.path())
    );
    // Formats that are not for this command.
    let output = run(brain(root).args(["--format", "sarif", "policy", "diff", "--base", "HEAD"]));
    assert_eq!(output.status.code(), Some(2));
    let output = run(brain(root).args(["--format", "markdown", "audit", "tail"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        transcript(&output, root).contains("`--format markdown` is only for"),
        "{}",
        transcript(&output, root)
    );
}

/// The candidate at `dir`: the studio's own policy tree, changed by `change`.
fn candidate(studio: &Studio, dir: &Path, change: impl FnOnce(&Path)) {
    for folder in ["policies", "capabilities", "specs"] {
        copy_dir(&studio.path().join(folder), &dir.join(folder));
    }
    change(dir);
}

fn replay(studio: &Studio, candidate: &Path, args: &[&str]) -> (i32, Value) {
    let candidate = candidate.display().to_string();
    studio.json(
        &studio.admin,
        &[
            &["policy", "replay", "--candidate", candidate.as_str()],
            args,
        ]
        .concat(),
    )
}

#[test]
fn recorded_decisions_are_replayed_under_a_candidate_on_every_backend() {
    let mut studios = Studio::all();
    let mut remote = Studio::new(Backend::Sqlite, "");
    remote.through_daemon();
    studios.push(remote);
    for studio in studios {
        let label = studio.label();
        let admin = studio.admin.clone();
        let (code, bob) = studio.json(&admin, &["actor", "add", "staff:bob"]);
        assert_eq!(code, 0, "{label}: {bob}");
        let bob = bob["token"].as_str().unwrap().to_string();
        let (code, human) = studio.json(&admin, &["actor", "add", "human:hana"]);
        assert_eq!(code, 0, "{label}: {human}");
        let human = human["token"].as_str().unwrap().to_string();
        // An approved, executed draft; a proposal the policy set denied.
        let (code, proposal) = studio.json(
            &admin,
            &[
                "propose",
                "test.note.draft",
                "--input",
                r#"{"text":"Glaze shelf restock"}"#,
                "--rationale",
                "shelf is low",
            ],
        );
        assert_eq!(code, 0, "{label}: {proposal}");
        let id = proposal["id"].as_str().unwrap().to_string();
        let (code, approved) = studio.json(&bob, &["approve", &id]);
        assert_eq!(code, 0, "{label}: {approved}");
        let (code, executed) = studio.json(&admin, &["execute", &id]);
        assert_eq!(code, 0, "{label}: {executed}");
        let (code, refused) = studio.run_json(
            Some(&human),
            &[
                "propose",
                "test.critical.draft",
                "--input",
                "{}",
                "--rationale",
                "move the bisque firing",
            ],
        );
        assert_eq!(code, 1, "{label}: {refused}");

        let dir = temp_dir();
        // The same policy set: nothing would change.
        let same = dir.path().join("same");
        candidate(&studio, &same, |_| {});
        let (code, report) = replay(&studio, &same, &[]);
        assert_eq!(code, 0, "{label}: {report:#}");
        assert!(
            report["summary"]["replayed"].as_u64().unwrap() >= 4,
            "{label}: {report:#}"
        );
        assert_eq!(
            report["changes"],
            serde_json::json!([]),
            "{label}: {report:#}"
        );
        assert_eq!(
            report["problems"],
            serde_json::json!([]),
            "{label}: {report:#}"
        );

        // A tightened approval rule: the recorded execution would be denied now.
        let tightened = dir.path().join("tightened");
        candidate(&studio, &tightened, |root| {
            edit(
                &root.join("capabilities/test.note.draft.yaml"),
                "required: 1,",
                "required: 2,",
            )
        });
        let (code, report) = replay(&studio, &tightened, &["--fail-on", "newly-allowed"]);
        assert_eq!(code, 0, "{label}: {report:#}");
        let changes = report["changes"].as_array().unwrap();
        assert_eq!(changes.len(), 1, "{label}: {report:#}");
        assert_eq!(changes[0]["action"], "execute");
        assert_eq!(changes[0]["change"], "newly_denied");
        assert_eq!(changes[0]["capability"], "test.note.draft");
        assert_eq!(changes[0]["after"]["reasons"][0], "APPROVAL_REQUIRED");
        let (code, _) = replay(&studio, &tightened, &["--fail-on", "any"]);
        assert_eq!(code, 1, "{label}");

        // A permit for humans on high-risk drafts: the recorded refusal would be allowed.
        let permissive = dir.path().join("permissive");
        candidate(&studio, &permissive, |root| {
            std::fs::write(
                root.join("policies/humans.cedar"),
                "@id(\"human.propose-any\")\npermit (\n  principal is Human,\n  action == Action::\"propose\",\n  resource\n);\n",
            )
            .unwrap()
        });
        let (code, report) = replay(&studio, &permissive, &["--fail-on", "newly-allowed"]);
        assert_eq!(code, 1, "{label}: {report:#}");
        let allowed: Vec<&Value> = report["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|change| change["change"] == "newly_allowed")
            .collect();
        assert_eq!(allowed.len(), 1, "{label}: {report:#}");
        assert_eq!(allowed[0]["actor"], "human:hana");
        assert_eq!(allowed[0]["capability"], "test.critical.draft");
        assert_eq!(allowed[0]["after"]["policies"][0], "human.propose-any");

        // The markdown report for a PR comment.
        let output = studio.run(
            Some(&admin),
            &[
                "--format",
                "markdown",
                "policy",
                "replay",
                "--candidate",
                &permissive.display().to_string(),
                "--since",
                "1d",
            ],
        );
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("**newly allowed**"), "{label}: {text}");
        assert!(text.contains("`human:hana`"), "{label}: {text}");

        // Recording requests keeps the chain verifiable.
        let (code, verified) = studio.json(&admin, &["audit", "verify"]);
        assert_eq!(code, 0, "{label}: {verified}");
        assert_eq!(verified["ok"], true, "{label}: {verified}");
    }
}

#[test]
fn replay_refuses_what_it_cannot_do_and_says_why() {
    let studio = Studio::new(Backend::Sqlite, "");
    let dir = temp_dir();
    let output = studio.run(
        Some(&studio.admin),
        &[
            "policy",
            "replay",
            "--candidate",
            &dir.path().display().to_string(),
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("holds no policy set"),
        "{}",
        studio.transcript(&output)
    );
    let output = studio.run(
        Some(&studio.admin),
        &["policy", "replay", "--candidate", ".", "--since", "soon"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--since"),
        "{}",
        studio.transcript(&output)
    );
    // Without a token the log is not read.
    let output = studio.run(None, &["policy", "replay", "--candidate", "."]);
    assert_ne!(output.status.code(), Some(0));
}
