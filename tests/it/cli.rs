//! The command line as a newcomer meets it: a binary installed away from its source tree, which
//! studio a command works on when no brain.yaml is given, what `--help` says, completions and man
//! pages, and the progress indicator of long commands.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::support::{brain, repo, run, temp_dir, transcript};

/// Help text with its line wrapping undone, so phrases can be looked for.
fn unwrapped(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn serve_help_says_what_the_daemon_does() {
    let dir = temp_dir();
    let output = run(brain(dir.path()).args(["serve", "--help"]));
    assert_eq!(output.status.code(), Some(0));
    let help = unwrapped(&output);
    for duty in [
        "the staff console",
        "the JSON API",
        "polls the device connectors",
        "StudioState snapshots",
        "signs an audit checkpoint",
    ] {
        assert!(help.contains(duty), "`{duty}` is not in: {help}");
    }
    assert!(!help.contains("as they land"), "{help}");
}

/// The binary copied into a directory of its own and run from another, with a clean environment
/// whose home and data directories are fresh: what `cargo install` or a container image gives.
struct Installed {
    binary: std::path::PathBuf,
    work: tempfile::TempDir,
    home: tempfile::TempDir,
    _install: tempfile::TempDir,
}

impl Installed {
    fn new() -> Self {
        let install = temp_dir();
        let binary = install.path().join("brain");
        std::fs::copy(env!("CARGO_BIN_EXE_brain"), &binary).unwrap();
        Self {
            binary,
            work: temp_dir(),
            home: temp_dir(),
            _install: install,
        }
    }

    fn run(&self, token: Option<&str>, args: &[&str]) -> Output {
        let mut command = Command::new(&self.binary);
        command
            .current_dir(self.work.path())
            .env_clear()
            .env("HOME", self.home.path())
            .env("XDG_DATA_HOME", self.home.path().join("xdg"))
            .env("BRAIN_DATA_DIR", self.home.path().join("data"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .args(args);
        if let Some(token) = token {
            command.env("BRAIN_TOKEN", token);
        }
        let output = command.output().expect("run the installed brain");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            !text.contains(&repo().display().to_string()),
            "`brain {}` printed a path into the source tree:\n{text}",
            args.join(" ")
        );
        output
    }

    fn transcript(&self, output: &Output) -> String {
        transcript(output, self.home.path())
    }
}

#[test]
fn an_installed_binary_carries_the_demo_studio() {
    let installed = Installed::new();

    let output = installed.run(None, &["--format", "json", "config", "check"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        installed.transcript(&output)
    );
    let checked: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(checked["valid"], true);
    assert!(checked["policies"].as_u64().unwrap() > 0, "{checked:#}");

    let output = installed.run(None, &["--format", "json", "lint", "--deny", "warnings"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        installed.transcript(&output)
    );
    let linted: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        linted["summary"]["files"].as_u64().unwrap() > 10,
        "{linted:#}"
    );

    let output = installed.run(None, &["--format", "json", "actor", "bootstrap"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        installed.transcript(&output)
    );
    let issued: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let token = issued["token"].as_str().unwrap();
    let output = installed.run(Some(token), &["--format", "json", "snapshot", "run"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        installed.transcript(&output)
    );
    let snapshot: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(snapshot["complete"], true, "{snapshot:#}");
    let location = snapshot["provenance"]["sources"][0]["location"]
        .as_str()
        .unwrap();
    // The demo's fixtures were read from the copy under the data directory.
    assert!(
        Path::new(location).starts_with(installed.home.path().join("data/demo")),
        "{location}"
    );
    assert!(Path::new(location).join("batches").is_dir(), "{location}");
}

/// Every command that works on the built-in demo because no config was given or found says so,
/// once, on stderr; with a config nothing is said.
#[test]
fn every_command_that_falls_back_to_the_demo_says_so() {
    const NOTICE: &str =
        "no brain.yaml here or given with --config: using the built-in demo studio";
    let dir = temp_dir();
    let commands: &[&[&str]] = &[
        &["config", "check"],
        &["lint"],
        &["test"],
        &["fmt", "--check"],
        &[
            "eval",
            "--principal",
            "staff:alice",
            "--action",
            "propose",
            "--capability",
            "firestore.ops_note.append",
        ],
        &["migrate"],
        &["actor", "bootstrap"],
        &["connectors", "list"],
    ];
    for args in commands {
        let output = run(brain(dir.path()).args(*args));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            stderr.matches(NOTICE).count(),
            1,
            "`brain {}`: {}",
            args.join(" "),
            transcript(&output, dir.path())
        );
    }
    std::fs::write(
        dir.path().join("brain.yaml"),
        format!(
            "policy:\n  policies: {0}/policies\n  capabilities: {0}/capabilities\n  specs: {0}/specs\n",
            repo().display()
        ),
    )
    .unwrap();
    let output = run(brain(dir.path()).args(["config", "check"]));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, dir.path())
    );
    assert!(!String::from_utf8_lossy(&output.stderr).contains("no brain.yaml"));
}

/// Completion scripts are generated from the command definitions: every shell's names the
/// subcommands, nested ones included.
#[test]
fn completions_name_the_subcommands_for_every_shell() {
    let dir = temp_dir();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let output = run(brain(dir.path()).args(["completions", shell]));
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            transcript(&output, dir.path())
        );
        let script = String::from_utf8_lossy(&output.stdout);
        for subcommand in ["lint", "kill-switch", "snapshot", "completions", "man"] {
            assert!(
                script.contains(subcommand),
                "{shell}: `{subcommand}` is not completed"
            );
        }
        assert!(
            output.stderr.is_empty(),
            "{shell}: {}",
            transcript(&output, dir.path())
        );
    }
    let output = run(brain(dir.path()).args(["completions", "bash"]));
    let script = String::from_utf8_lossy(&output.stdout);
    assert!(script.contains("complete -F _brain"), "{script}");
    // A nested subcommand and a global option.
    assert!(
        script.contains("brain__subcmd__snapshot__subcmd__run"),
        "{script}"
    );
    assert!(script.contains("--config"), "{script}");

    let output = run(brain(dir.path()).args(["completions", "tcsh"]));
    assert_eq!(output.status.code(), Some(2));
}

/// `brain man` prints a roff page with the name section; `--dir` writes one page per
/// subcommand.
#[test]
fn man_prints_the_page_and_writes_one_per_subcommand() {
    let dir = temp_dir();
    let output = run(brain(dir.path()).args(["man"]));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, dir.path())
    );
    let page = String::from_utf8_lossy(&output.stdout);
    assert!(page.contains(".TH brain 1"), "{page}");
    assert!(page.contains(".SH NAME\nbrain \\- "), "{page}");
    assert!(page.contains(".SH SUBCOMMANDS"), "{page}");
    assert!(page.contains("kill\\-switch"), "{page}");

    let output = run(brain(dir.path()).args(["--format", "json", "man", "--dir", "man1"]));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, dir.path())
    );
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let written = listed["written"].as_array().unwrap();
    for name in ["brain.1", "brain-snapshot-run.1", "brain-lint.1"] {
        assert!(
            written
                .iter()
                .any(|path| path.as_str().unwrap().ends_with(name)),
            "{listed:#}"
        );
        let page = std::fs::read_to_string(dir.path().join("man1").join(name)).unwrap();
        assert!(page.contains(".SH NAME"), "{name}: {page}");
    }
}

/// A studio with the demo's fixture documents as its cloud.
fn studio_with_fixtures() -> crate::engine::Studio {
    crate::engine::Studio::new(
        crate::engine::Backend::Sqlite,
        &format!(
            "cloud:\n  fixtures:\n    dir: {}\n",
            repo().join("examples/studio/cloud").display()
        ),
    )
}

/// Off a terminal (pipes, CI logs, these tests) the progress indicator draws nothing: stderr
/// holds only the commands' own lines, with no carriage returns or escape sequences.
#[test]
fn long_commands_draw_no_progress_off_a_terminal() {
    let studio = studio_with_fixtures();
    for args in [
        &["snapshot", "run"][..],
        &["audit", "verify"],
        &["policy", "replay", "--candidate", "."],
    ] {
        let output = studio.run(Some(&studio.admin), args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            studio.transcript(&output)
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains('\r'), "{stderr:?}");
        assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
        assert!(!stderr.contains("computing StudioState"), "{stderr}");
        assert!(!stderr.contains("verifying the audit log"), "{stderr}");
        assert!(!stderr.contains("reading the audit log"), "{stderr}");
    }
    let output = studio.run(Some(&studio.admin), &["snapshot", "run"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("  read batches: 8 documents\n"), "{stderr}");
}

/// On a terminal the indicator shows, and is cleared when the work is done; with
/// `--format json` it never shows. The terminal is `script`'s pseudo-terminal.
#[test]
fn long_commands_show_progress_on_a_terminal_for_people_only() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("note: `script` (util-linux) is not installed; the terminal case is skipped");
        return;
    }
    let studio = studio_with_fixtures();
    let on_terminal = |args: &str| {
        let line = format!(
            "{} --config {} {args}",
            env!("CARGO_BIN_EXE_brain"),
            studio.path().join("brain.yaml").display()
        );
        let output = Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .env("BRAIN_TOKEN", &studio.admin)
            .env("NO_COLOR", "1")
            .env_remove("BRAIN_CONFIG")
            .env_remove("BRAIN_SERVER")
            .stdin(Stdio::null())
            .output()
            .expect("run script");
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let shown = on_terminal("snapshot run");
    assert!(shown.contains("computing StudioState"), "{shown:?}");
    assert!(shown.contains("read batches: 8 documents"), "{shown:?}");
    let shown = on_terminal("audit verify");
    assert!(shown.contains("verifying the audit log"), "{shown:?}");
    let candidate = studio.path().display().to_string();
    let shown = on_terminal(&format!("policy replay --candidate {candidate}"));
    assert!(shown.contains("the audit log"), "{shown:?}");
    assert!(shown.contains("decisions replayed"), "{shown:?}");
    let silent = on_terminal("--format json snapshot run");
    assert!(!silent.contains("computing StudioState"), "{silent:?}");
}
