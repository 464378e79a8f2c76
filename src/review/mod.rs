//! What a change of the policy set does, for the governance reviewer's pull request:
//! `brain policy diff` (`diff.rs`: two policy sets asked the same questions) and
//! `brain policy replay` (`replay.rs`: the audit log's recorded decisions asked of a candidate),
//! rendered as a PR comment or annotations by `render.rs`. This file loads a policy set from a
//! directory or from a git revision of the repository.

pub mod diff;
pub mod render;
pub mod replay;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::config::{self, Environment, Fallback, LoadedConfig};
use crate::engine::PolicyBundle;

/// A policy set loaded for review.
pub struct Loaded {
    pub bundle: PolicyBundle,
    pub config: LoadedConfig,
    /// What the user named (`HEAD~1`, `../old`, `.`).
    pub label: String,
    /// The directory shown paths are relative to: the studio repository's root on this side.
    pub root: PathBuf,
    /// The checkout of a git revision, removed when this is dropped.
    _checkout: Option<Checkout>,
}

impl Loaded {
    pub fn side(&self) -> diff::Side<'_> {
        diff::Side {
            bundle: &self.bundle,
            label: self.label.clone(),
            root: self.root.clone(),
            capabilities_dir: self.config.capabilities_dir(),
        }
    }
}

/// Why a side could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The directory holds no policy set, or the revision does not exist; the text says which.
    NotFound {
        message: String,
        help: String,
    },
    Config(config::ConfigError),
    Workspace(crate::workspace::WorkspaceError),
}

/// A temporary directory holding a git revision's files.
struct Checkout(PathBuf);

impl Drop for Checkout {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Load the policy set of the studio repository at `dir`: its `config` (a path relative to
/// `dir`, such as `brain.yaml` or `examples/studio/brain.yaml`) when that file exists there, else
/// its `brain.yaml`, else the policy tree in `dir` with the default settings. Never the demo.
pub fn load_dir(dir: &Path, config: Option<&Path>, label: &str) -> Result<Loaded, LoadError> {
    load_at(dir, config, label, None)
}

fn load_at(
    dir: &Path,
    config_path: Option<&Path>,
    label: &str,
    checkout: Option<Checkout>,
) -> Result<Loaded, LoadError> {
    if !dir.is_dir() {
        return Err(LoadError::NotFound {
            message: format!("`{}` is not a directory", dir.display()),
            help: "name a studio repository (a directory with brain.yaml, or policies/ and capabilities/), or a git revision".into(),
        });
    }
    let environment = Environment {
        var: &|name| std::env::var(name).ok(),
        current_dir: dir.to_path_buf(),
    };
    let explicit = config_path
        .map(|path| dir.join(path))
        .filter(|path| path.is_file())
        .or_else(|| Some(dir.join("brain.yaml")).filter(|path| path.is_file()));
    let holds_tree = dir.join("policies").is_dir() || dir.join("capabilities").is_dir();
    if explicit.is_none() && !holds_tree {
        return Err(LoadError::NotFound {
            message: format!(
                "`{}` holds no policy set (no brain.yaml, no policies/ or capabilities/)",
                dir.display()
            ),
            help:
                "run from the studio repository, or name it with `--head DIR` / `--candidate DIR`"
                    .into(),
        });
    }
    let loaded = config::load_or(explicit.as_deref(), &environment, Fallback::PolicyTree)
        .map_err(LoadError::Config)?;
    let bundle = PolicyBundle::load(&loaded).map_err(LoadError::Workspace)?;
    Ok(Loaded {
        bundle,
        config: loaded,
        label: label.to_string(),
        root: dir.to_path_buf(),
        _checkout: checkout,
    })
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run git: {error}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
    }
}

/// Load the base side: `spec` is a directory when one exists at that path, else a git revision
/// of the repository holding `head_dir`, whose files are checked out into a temporary
/// directory (`git archive`; the working tree is not touched). The revision's policy set is read
/// from the same place inside the repository as `head_dir`'s, with the same `config` path.
pub fn load_base(spec: &str, head_dir: &Path, config: Option<&Path>) -> Result<Loaded, LoadError> {
    let as_dir = Path::new(spec);
    if as_dir.is_dir() {
        return load_dir(as_dir, config, spec);
    }
    let not_found = |why: String| {
        LoadError::NotFound {
        message: format!("`{spec}` is neither a directory nor a git revision: {why}"),
        help: "pass a directory holding the old policy set, or a revision such as `origin/main` or `HEAD~1` (in CI, fetch it first: `actions/checkout` with `fetch-depth: 0`)".into(),
    }
    };
    let top = git(head_dir, &["rev-parse", "--show-toplevel"]).map_err(not_found)?;
    let prefix = git(head_dir, &["rev-parse", "--show-prefix"]).map_err(not_found)?;
    git(
        Path::new(&top),
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{spec}^{{commit}}"),
        ],
    )
    .map_err(|_| not_found("no such revision in the repository".into()))?;
    let mut suffix = [0u8; 6];
    getrandom::fill(&mut suffix).map_err(|error| not_found(error.to_string()))?;
    let temporary = std::env::temp_dir().join(format!("brain-policy-{}", hex::encode(suffix)));
    std::fs::create_dir_all(&temporary)
        .map_err(|error| not_found(format!("cannot create a checkout directory: {error}")))?;
    let checkout = Checkout(temporary.clone());
    let mut archive = Command::new("git")
        .arg("-C")
        .arg(&top)
        .args(["archive", "--format=tar", spec])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| not_found(format!("cannot run git: {error}")))?;
    let Some(tar_input) = archive.stdout.take() else {
        return Err(not_found("git archive wrote nothing".into()));
    };
    let extracted = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(&temporary)
        .stdin(tar_input)
        .stderr(Stdio::piped())
        .output()
        .map_err(|error| not_found(format!("cannot run tar: {error}")))?;
    let archived = archive
        .wait()
        .map_err(|error| not_found(format!("git archive failed: {error}")))?;
    if !archived.success() || !extracted.status.success() {
        return Err(not_found(format!(
            "cannot check out the revision: {}",
            String::from_utf8_lossy(&extracted.stderr).trim()
        )));
    }
    let dir = temporary.join(prefix);
    load_at(&dir, config, spec, Some(checkout))
}
