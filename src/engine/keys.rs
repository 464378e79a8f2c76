//! The audit signing key: from `audit.signing_key` in brain.yaml, else the key file in the data
//! directory, created (mode 0600) the first time brain needs it.
//!
//! Architecture Invariant: the key's seed is only ever read from or written to its file; it is
//! never logged or printed.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::audit::checkpoint::AuditSigner;
use crate::config::LoadedConfig;

/// The default key file in a data directory.
pub fn default_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("audit-signing.key")
}

/// Why the key could not be loaded or created.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
pub enum KeyError {
    #[error("the audit signing key is unusable: {0}")]
    #[diagnostic(
        code(audit::signing_key),
        help("the key file holds 64 hex characters; `brain init` writes one")
    )]
    Invalid(String),
    #[error("cannot create the audit signing key `{path}`: {cause}")]
    #[diagnostic(
        code(audit::signing_key),
        help("check that the data directory is writable, or set `audit.signing_key`")
    )]
    Create { path: String, cause: String },
}

/// The signer for `config`, creating the default key file when there is none.
pub fn load_or_create(config: &LoadedConfig) -> Result<AuditSigner, KeyError> {
    if let Some(secret) = config
        .config
        .audit
        .signing_key
        .as_ref()
        .and_then(|key| key.value())
    {
        return AuditSigner::from_hex(secret.expose()).map_err(KeyError::Invalid);
    }
    load_or_create_at(&default_key_path(&config.data_dir))
}

/// The signer in `path`, creating the file with a new key when it does not exist.
pub fn load_or_create_at(path: &Path) -> Result<AuditSigner, KeyError> {
    match std::fs::read_to_string(path) {
        Ok(text) => AuditSigner::from_hex(&text)
            .map_err(|problem| KeyError::Invalid(format!("`{}`: {problem}", path.display()))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => create(path),
        Err(error) => Err(KeyError::Invalid(format!(
            "cannot read `{}`: {error}",
            path.display()
        ))),
    }
}

fn create(path: &Path) -> Result<AuditSigner, KeyError> {
    let failed = |cause: String| KeyError::Create {
        path: path.display().to_string(),
        cause,
    };
    let signer = AuditSigner::generate().map_err(failed)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|error| failed(error.to_string()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(format!("{}\n", signer.seed_hex()).as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|error| failed(error.to_string()))?;
            Ok(signer)
        }
        // Another process created it first: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => load_or_create_at(path),
        Err(error) => Err(failed(error.to_string())),
    }
}
