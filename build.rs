//! Embeds the built-in demo studio into the binary: every file under `examples/studio/` and under
//! the directories its brain.yaml reads with `../../` (`policies/`, `capabilities/`, `specs/`, and
//! `swarms/` once it exists), written to `$OUT_DIR/demo_files.rs` as a slice of
//! `(path, include_bytes!(...))` entries that `src/demo.rs` includes.
//!
//! The list is generated rather than written by hand so that a new fixture, manifest or policy is
//! embedded without editing code: cargo reruns this script whenever anything under those
//! directories changes (`rerun-if-changed` on a directory watches everything below it). A new
//! top-level directory the demo reads is added to `DEMO_ROOTS`.

use std::path::{Path, PathBuf};

/// The directories the demo studio reads, relative to the repository root.
const DEMO_ROOTS: &[&str] = &[
    "examples/studio",
    "policies",
    "capabilities",
    "specs",
    "swarms",
];

fn main() {
    let root = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=build.rs");
    let mut files = Vec::new();
    for relative in DEMO_ROOTS {
        let dir = root.join(relative);
        // A missing path would make cargo rerun the script on every build, so only existing
        // directories are watched: a root created later (`swarms/`) is embedded from the next
        // time this script runs (any change under the other roots, or to this file).
        if dir.is_dir() {
            println!("cargo:rerun-if-changed={relative}");
            collect(&dir, &mut files);
        }
    }
    files.sort();
    let mut code = String::from("&[\n");
    for path in &files {
        let relative = path
            .strip_prefix(&root)
            .expect("collected under the repository root")
            .components()
            .map(|component| component.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let absolute = path
            .to_str()
            .unwrap_or_else(|| panic!("`{}` is not valid UTF-8: rename it", path.display()));
        code.push_str(&format!(
            "    ({relative:?}, include_bytes!({absolute:?}) as &[u8]),\n"
        ));
    }
    code.push_str("]\n");
    let target = out_dir.join("demo_files.rs");
    // Rewriting an unchanged list would still recompile the crate.
    if std::fs::read_to_string(&target).ok().as_deref() != Some(code.as_str()) {
        std::fs::write(&target, code).expect("write demo_files.rs into OUT_DIR");
    }
}

/// Every file under `dir`, skipping hidden files and directories (editor and OS litter).
fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot read `{}`: {error}", dir.display()));
    for entry in entries {
        let entry =
            entry.unwrap_or_else(|error| panic!("cannot read `{}`: {error}", dir.display()));
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}
