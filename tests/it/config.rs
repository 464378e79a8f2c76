//! The config contract through the real binary: good and bad `brain.yaml` files, the schema,
//! secret redaction, and `brain init`.

use std::path::Path;

use crate::support::{brain, normalise, repo, run, temp_dir, transcript};

/// The repository's own policy set, as a `policy` section.
fn policy_section() -> String {
    let repo = repo();
    format!(
        "policy:\n  policies: {}/policies\n  capabilities: {}/capabilities\n  specs: {}/specs\n",
        repo.display(),
        repo.display(),
        repo.display()
    )
}

fn check(dir: &Path, yaml: &str, envs: &[(&str, &str)]) -> std::process::Output {
    std::fs::write(dir.join("brain.yaml"), yaml).unwrap();
    let mut command = brain(dir);
    command.args(["config", "check"]);
    for (key, value) in envs {
        command.env(key, value);
    }
    run(&mut command)
}

#[test]
fn demo_config_is_valid_and_printed_for_machines() {
    let dir = temp_dir();
    let output = run(brain(dir.path()).args(["--format", "json", "config", "check"]));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, dir.path())
    );
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["valid"], true);
    assert_eq!(value["effective"]["server"]["listen"], "127.0.0.1:8787");
    assert!(
        value["kill_switches"]
            .as_array()
            .unwrap()
            .iter()
            .any(|name| name == "global")
    );
    insta::assert_snapshot!(transcript(&output, dir.path()));
}

#[test]
fn demo_config_is_printed_for_people() {
    let dir = temp_dir();
    let output = run(brain(dir.path()).args(["config", "check"]));
    assert_eq!(output.status.code(), Some(0));
    insta::assert_snapshot!(transcript(&output, dir.path()));
}

/// Each bad config: exit 2, one clear message naming the file, line and key.
#[test]
fn bad_configs_are_reported_with_file_line_and_fix() {
    let policy = policy_section();
    type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        (
            "syntax_error",
            format!("server:\n  listen: [127.0.0.1\n{policy}"),
            vec![],
        ),
        (
            "wrong_type",
            format!("server:\n  listen: 8787\n{policy}"),
            vec![],
        ),
        (
            "unknown_key",
            format!("servr:\n  listen: 127.0.0.1:8787\n{policy}"),
            vec![],
        ),
        (
            "bad_enum",
            format!("server:\n  auth:\n    mode: tokn\n{policy}"),
            vec![],
        ),
        (
            "bad_duration",
            format!("thresholds:\n  snapshot_stale_after: 30 minutes\n{policy}"),
            vec![],
        ),
        (
            "missing_secret_env",
            format!("store:\n  postgres:\n    url: {{ env: BRAIN_TEST_UNSET_VARIABLE }}\n{policy}"),
            vec![],
        ),
        (
            "unreadable_secret_file",
            format!("store:\n  postgres:\n    url: {{ file: secrets/missing.txt }}\n{policy}"),
            vec![],
        ),
        (
            "inline_secret",
            format!("store:\n  postgres:\n    url: postgres://brain:hunter2@db/brain\n{policy}"),
            vec![],
        ),
        (
            "inline_webhook_address",
            format!(
                "slos:\n  webhooks:\n    - id: chat\n      url: https://hooks.example.com/brain?token=hunter2\n{policy}"
            ),
            vec![],
        ),
        (
            "webhook_address_not_http",
            format!(
                "slos:\n  webhooks:\n    - id: chat\n      url: {{ env: BRAIN_TEST_WEBHOOK }}\n{policy}"
            ),
            vec![("BRAIN_TEST_WEBHOOK", "ftp://hooks.example.com/hunter2")],
        ),
        (
            "unsafe_bind",
            format!("server:\n  listen: 0.0.0.0:8787\n  auth:\n    mode: none\n{policy}"),
            vec![],
        ),
        (
            "physical_write_connector",
            format!(
                "connectors:\n  - id: hub\n    kind: hubitat\n    mode: write\n    base_url: http://hub.local\n    app_id: \"12\"\n    token: {{ env: HUB_TOKEN }}\n{policy}"
            ),
            vec![("HUB_TOKEN", "t0ken")],
        ),
        (
            "many_problems_at_once",
            format!(
                "servr: {{}}\nserver:\n  listen: nowhere\nstore:\n  postgres:\n    url: {{ env: BRAIN_TEST_UNSET_VARIABLE }}\nconnectors:\n  - id: hub\n    kind: hubitat\nschedules:\n  snapshot:\n    every: soon\n{policy}"
            ),
            vec![],
        ),
    ];
    for (name, yaml, envs) in cases {
        let dir = temp_dir();
        let output = check(dir.path(), &yaml, &envs);
        let text = transcript(&output, dir.path());
        assert_eq!(output.status.code(), Some(2), "{name}: {text}");
        assert!(!text.contains("panicked"), "{name}: {text}");
        assert!(
            text.contains("brain.yaml"),
            "{name} must name the file: {text}"
        );
        assert!(!text.contains("hunter2"), "{name} leaked a secret: {text}");
        insta::assert_snapshot!(format!("bad_config_{name}"), text);
    }
}

#[test]
fn write_connector_needs_a_global_kill_switch() {
    let dir = temp_dir();
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::create_dir_all(dir.path().join("capabilities")).unwrap();
    for file in ["brain.cedarschema", "base.cedar"] {
        std::fs::copy(repo().join("policies").join(file), policies.join(file)).unwrap();
    }
    let yaml = "cloud:\n  firestore:\n    project_id: studio-demo\nconnectors:\n  - id: ops-notes\n    kind: firestore\n    mode: write\n";
    let emulator = [("FIRESTORE_EMULATOR_HOST", "127.0.0.1:8080")];
    let output = check(dir.path(), yaml, &emulator);
    assert_eq!(output.status.code(), Some(2));
    insta::assert_snapshot!(transcript(&output, dir.path()));

    // With the kill switch file in place the same config is accepted.
    std::fs::copy(
        repo().join("policies/kill_switches.cedar"),
        policies.join("kill_switches.cedar"),
    )
    .unwrap();
    let output = check(dir.path(), yaml, &emulator);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, dir.path())
    );
}

#[test]
fn secrets_are_redacted_in_every_output() {
    let dir = temp_dir();
    std::fs::write(
        dir.path().join("db-url"),
        "postgres://brain:s3cret-file-value@db/brain\n",
    )
    .unwrap();
    let yaml = format!(
        "store:\n  postgres:\n    url: {{ file: db-url }}\nconnectors:\n  - id: hub\n    kind: hubitat\n    base_url: http://hub.local\n    app_id: \"7\"\n    token: {{ env: HUB_TOKEN }}\n{}",
        policy_section()
    );
    for format in ["human", "json"] {
        std::fs::write(dir.path().join("brain.yaml"), &yaml).unwrap();
        let output = run(brain(dir.path())
            .args(["--format", format, "config", "check"])
            .env("HUB_TOKEN", "s3cret-env-value"));
        let text = transcript(&output, dir.path());
        assert_eq!(output.status.code(), Some(0), "{text}");
        assert!(
            !text.contains("s3cret"),
            "a secret leaked in {format} output: {text}"
        );
        assert!(text.contains("[redacted]"), "{text}");
    }
}

#[test]
fn unreadable_config_file_is_a_clear_error() {
    let dir = temp_dir();
    let output = run(brain(dir.path()).args(["--config", "nope.yaml", "config", "check"]));
    assert_eq!(output.status.code(), Some(2));
    insta::assert_snapshot!(transcript(&output, dir.path()));
}

#[test]
fn schema_describes_every_section_and_accepts_the_demo() {
    let dir = temp_dir();
    let output = run(brain(dir.path()).args(["schema", "config"]));
    assert_eq!(output.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let properties = schema["properties"].as_object().unwrap();
    for section in [
        "server",
        "store",
        "cloud",
        "connectors",
        "schedules",
        "thresholds",
        "lint",
    ] {
        assert!(properties.contains_key(section), "schema lacks `{section}`");
    }
    let demo = brain::yaml::parse(
        &std::fs::read_to_string(repo().join("examples/studio/brain.yaml")).unwrap(),
    )
    .unwrap()
    .value;
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&demo));
    assert!(!validator.is_valid(&serde_json::json!({"server": {"listen": 1}})));
}

#[test]
fn init_scaffolds_a_repository_that_checks_clean() {
    let dir = temp_dir();
    let output = run(brain(dir.path()).args(["init", "studio"]));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, dir.path())
    );
    insta::assert_snapshot!(crate::support::scrub(&transcript(&output, dir.path())));
    // The bootstrap admin's token, printed once, works against the new studio's store.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let token = stdout
        .lines()
        .find_map(|line| line.strip_prefix("token   "))
        .expect("init prints the admin token")
        .to_string();
    let listed = run(brain(dir.path()).env("BRAIN_TOKEN", &token).args([
        "--config",
        "studio/brain.yaml",
        "actor",
        "list",
    ]));
    assert_eq!(
        listed.status.code(),
        Some(0),
        "{}",
        transcript(&listed, dir.path())
    );
    assert!(String::from_utf8_lossy(&listed.stdout).contains("staff:admin"));
    assert!(dir.path().join("studio/.brain/audit-signing.key").is_file());
    for path in [
        "brain.yaml",
        "policies/brain.cedarschema",
        "policies/kill_switches.cedar",
        "capabilities/firestore.ops_note.append.yaml",
        "specs/firestore.ops_note.append.md",
        "schemas/brain.schema.json",
    ] {
        assert!(
            dir.path().join("studio").join(path).is_file(),
            "missing {path}"
        );
    }
    let output = run(brain(dir.path()).args(["--config", "studio/brain.yaml", "config", "check"]));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, dir.path())
    );
    let text = normalise(&String::from_utf8_lossy(&output.stdout), dir.path());
    assert!(
        text.contains("path: [TMP]/studio/.brain/brain.db"),
        "{text}"
    );
    // The scaffold lints clean, test files included, and its policy tests pass.
    for args in [&["lint", "--deny", "warnings"][..], &["test"]] {
        let output = run(brain(dir.path())
            .args(["--config", "studio/brain.yaml"])
            .args(args));
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            transcript(&output, dir.path())
        );
    }

    // A second init refuses to overwrite; --force does.
    let output = run(brain(dir.path()).args(["init", "studio"]));
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!("init_refuses_to_overwrite", transcript(&output, dir.path()));
    let output = run(brain(dir.path()).args(["--format", "json", "init", "studio", "--force"]));
    assert_eq!(output.status.code(), Some(0));
    let again: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        again["admin"].is_null(),
        "a store with an admin gets no second one: {again}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = temp_dir();
    let output = run(brain(dir.path()).args(["config", "chek"]));
    assert_eq!(output.status.code(), Some(2));
    let output = run(brain(dir.path()).args(["--format", "yaml", "config", "check"]));
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn an_unknown_time_zone_is_refused_with_its_place_in_the_file() {
    let dir = temp_dir();
    let output = check(
        dir.path(),
        "studio:\n  name: Mars studio\n  timezone: Mars/Olympus_Mons\n",
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    let text = transcript(&output, dir.path());
    assert!(
        text.contains("`Mars/Olympus_Mons` is not an IANA time zone"),
        "{text}"
    );
    assert!(text.contains("brain.yaml:3"), "{text}");
    let output = check(
        dir.path(),
        &format!("studio:\n  timezone: Europe/Paris\n{}", policy_section()),
        &[],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, dir.path())
    );
}

/// A studio scaffolded by `brain init` reads every source and device it configures: with Firestore
/// and a Hubitat hub configured, `config check` is clean; with a read capability's manifest gone,
/// it warns (exit 0), naming the manifest and pointing at the config key.
#[test]
fn a_configured_source_without_its_read_capability_is_warned_about() {
    let dir = temp_dir();
    let output = run(brain(dir.path()).args(["init", "studio"]));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, dir.path())
    );
    let config = dir.path().join("studio/brain.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(
        "cloud:\n  firestore:\n    project_id: my-studio\nconnectors:\n  - id: hubitat\n    kind: hubitat\n    base_url: sim://hubitat\n",
    );
    std::fs::write(&config, text).unwrap();
    // Credentials are not the point here: the emulator's address stands in for them.
    let check = |format: &str| {
        run(brain(dir.path())
            .env("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9")
            .args([
                "--format",
                format,
                "--config",
                "studio/brain.yaml",
                "config",
                "check",
            ]))
    };
    let output = check("human");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, dir.path())
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("read capability"), "{stderr}");

    for capability in ["firestore.studio.read", "hubitat.devices.read"] {
        std::fs::remove_file(
            dir.path()
                .join(format!("studio/capabilities/{capability}.yaml")),
        )
        .unwrap();
    }
    let output = check("human");
    assert_eq!(output.status.code(), Some(0));
    let stderr = normalise(&String::from_utf8_lossy(&output.stderr), dir.path());
    insta::assert_snapshot!(stderr);

    let output = check("json");
    assert_eq!(output.status.code(), Some(0));
    let checked: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let warnings: Vec<&str> = checked["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|warning| warning["code"] == "config::no_read_capability")
        .map(|warning| warning["message"].as_str().unwrap())
        .collect();
    assert_eq!(warnings.len(), 2, "{checked:#}");
    assert!(
        warnings[0].contains("`firestore.studio.read`"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].contains("`hubitat.devices.read`"),
        "{warnings:?}"
    );
}
