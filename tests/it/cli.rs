//! The command line as a newcomer meets it: what `--help` says.

use std::process::Output;

use crate::support::{brain, run, temp_dir};

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
