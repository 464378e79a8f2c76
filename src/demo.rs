//! The built-in demo studio, carried inside the binary: `examples/studio/` and the repository's
//! policy set its brain.yaml points at (`../../policies`, `../../capabilities`, `../../specs`),
//! embedded by `build.rs`. [`materialise`] writes them, laid out as in the repository, into
//! `DATA_DIR/demo/<content hash>/` the first time a binary with those contents needs them, so the
//! demo runs from any directory and from a binary installed far from its source tree.
//!
//! Architecture Invariant: nothing at run time reads the source tree; the demo's files come only
//! from [`FILES`]. A tree is written under a staging name and renamed into place, so a reader
//! never sees half of one.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// Every file of the demo studio: its path in the repository and its bytes.
pub static FILES: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/demo_files.rs"));

/// The demo's config, relative to the tree's root.
pub const CONFIG_PATH: &str = "examples/studio/brain.yaml";

/// Written last into a complete tree.
const COMPLETE_MARKER: &str = ".complete";

/// The embedded file at `path` (as in the repository), as text.
pub fn text(path: &str) -> Option<&'static str> {
    FILES
        .iter()
        .find(|(name, _)| *name == path)
        .and_then(|(_, bytes)| std::str::from_utf8(bytes).ok())
}

/// The first 16 hex digits of SHA-256 over every path and content: a changed demo gets a new
/// directory instead of mixing with an older binary's files.
pub fn content_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let mut hasher = Sha256::new();
        for (path, bytes) in FILES {
            hasher.update((path.len() as u64).to_be_bytes());
            hasher.update(path.as_bytes());
            hasher.update((bytes.len() as u64).to_be_bytes());
            hasher.update(bytes);
        }
        hex::encode(hasher.finalize())[..16].to_string()
    })
}

/// Why the demo studio could not be written.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("cannot write the built-in demo studio to `{dir}`: {cause}")]
#[diagnostic(
    code(demo::unwritable),
    help("set BRAIN_DATA_DIR to a writable directory, or give your studio's config with --config")
)]
pub struct DemoError {
    pub dir: String,
    pub cause: String,
}

/// The demo studio's root under `data_dir`, written there first if it is not yet. The demo's
/// config is `root.join(CONFIG_PATH)`.
pub fn materialise(data_dir: &Path) -> Result<PathBuf, DemoError> {
    let parent = data_dir.join("demo");
    let root = parent.join(content_hash());
    if root.join(COMPLETE_MARKER).is_file() {
        return Ok(root);
    }
    let failed = |dir: &Path, error: std::io::Error| DemoError {
        dir: dir.display().to_string(),
        cause: error.to_string(),
    };
    let staging = parent.join(format!(
        ".staging-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos())
    ));
    let written = write_tree(&staging);
    if let Err(error) = written {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(failed(&parent, error));
    }
    // A tree left without its marker (a copy interrupted before the rename cannot be one, but a
    // hand-edited one can) is replaced.
    if root.is_dir() && !root.join(COMPLETE_MARKER).is_file() {
        let _ = std::fs::remove_dir_all(&root);
    }
    match std::fs::rename(&staging, &root) {
        Ok(()) => Ok(root),
        // Another process put the same tree in place first.
        Err(_) if root.join(COMPLETE_MARKER).is_file() => {
            let _ = std::fs::remove_dir_all(&staging);
            Ok(root)
        }
        Err(error) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(failed(&root, error))
        }
    }
}

fn write_tree(dir: &Path) -> std::io::Result<()> {
    for (path, bytes) in FILES {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, bytes)?;
    }
    std::fs::write(dir.join(COMPLETE_MARKER), content_hash())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_config_and_its_policy_set_are_embedded() {
        for path in [
            CONFIG_PATH,
            "policies/brain.cedarschema",
            "policies/base.cedar",
            "capabilities/firestore.studio.read.yaml",
            "specs/firestore.ops_note.append.md",
            "examples/studio/cloud/stripe/payouts.json",
        ] {
            assert!(text(path).is_some(), "{path} is not embedded");
        }
        assert_eq!(text(CONFIG_PATH), Some(crate::config::DEMO_CONFIG));
    }

    /// Every file on disk under the demo's directories is embedded: the list is generated.
    #[test]
    fn every_file_of_the_demo_directories_is_embedded() {
        let repository = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut on_disk = Vec::new();
        let mut pending: Vec<PathBuf> = ["examples/studio", "policies", "capabilities", "specs"]
            .iter()
            .map(|dir| repository.join(dir))
            .collect();
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                if entry.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                if entry.path().is_dir() {
                    pending.push(entry.path());
                } else {
                    let relative = entry.path().strip_prefix(repository).unwrap().to_path_buf();
                    on_disk.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        for path in &on_disk {
            let embedded = FILES.iter().find(|(name, _)| name == path);
            assert!(embedded.is_some(), "{path} is not embedded");
            assert_eq!(
                embedded.map(|(_, bytes)| *bytes),
                Some(std::fs::read(repository.join(path)).unwrap().as_slice()),
                "{path} differs"
            );
        }
    }

    #[test]
    fn materialising_twice_reuses_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        let root = materialise(dir.path()).unwrap();
        assert_eq!(root, dir.path().join("demo").join(content_hash()));
        assert!(root.join(CONFIG_PATH).is_file());
        let marker = std::fs::metadata(root.join(COMPLETE_MARKER)).unwrap();
        assert_eq!(materialise(dir.path()).unwrap(), root);
        let again = std::fs::metadata(root.join(COMPLETE_MARKER)).unwrap();
        assert_eq!(marker.modified().unwrap(), again.modified().unwrap());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("demo"))
            .unwrap()
            .flatten()
            .map(|entry| entry.file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    }
}
