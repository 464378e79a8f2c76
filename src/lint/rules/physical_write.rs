//! A capability that writes to a physical device.

use crate::capability::{Class, Mode};
use crate::diagnostic::{Finding, Severity};
use crate::lint::context::at_value;
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "physical-write",
    category: Category::Manifest,
    severity: Severity::Error,
    summary: "a capability on a physical target has mode `write`",
    why: "Physical connectors (Hubitat, Roborock) start read-only and stay so: a command sent to \
          a kiln-room device cannot be rolled back, and the connectors refuse writes before any \
          I/O anyway.",
    failing: &[(
        "capabilities/hubitat.example.switch.yaml",
        "id: hubitat.example.switch\ntitle: Switch a device\nowner: staff:facilities\nrisk_tier: low\nmode: write\ntarget: hubitat\nclass: physical\napproval:\n  required: 1\nlimits:\n  - per: actor\n    max: 5\n    window: 1d\nfailure_mode: The device keeps its state.\nrollback:\n  strategy: flip_back\n  how: Switch it back.\ntests: [tests/it/example.rs]\n",
    )],
    passing: &[(
        "capabilities/hubitat.example.switch.yaml",
        "id: hubitat.example.switch\ntitle: Read a device\nowner: staff:facilities\nrisk_tier: low\nmode: read\ntarget: hubitat\nclass: physical\nfailure_mode: The reading is stale.\nrollback:\n  strategy: none\n  how: Reads change nothing.\ntests: [tests/it/example.rs]\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    for (parsed, manifest) in context.valid_manifests() {
        if manifest.class == Class::Physical && manifest.mode == Mode::Write {
            findings.push(
                at_value(
                    parsed,
                    Finding::error(
                        "",
                        format!(
                            "capability `{}` writes to the physical target `{}`",
                            manifest.id, manifest.target
                        ),
                    ),
                    "/mode",
                    "physical targets are read-only",
                )
                .with_help("use `mode: read`; operate the device itself for anything else"),
            );
        }
    }
}
