//! What a drill creates outside its own memory (a sandbox directory under the temporary
//! directory, a scratch database on a PostgreSQL server) is named with the time it was created,
//! so that what a drill killed with `kill -9` left behind (no clean-up runs then) is removed by
//! a later drill once it is older than any drill runs. The daemons a daemon drill starts stop
//! by themselves when the drill dies (`brain serve --stop-when-stdin-closes`).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::engine::EngineError;
use crate::store::scratch;

use super::problem;

/// How old a drill's directory or database must be before a later drill removes it: a drill
/// runs for minutes at most.
const LEFT_BEHIND_AFTER_SECONDS: u64 = 3600;

/// What a name is for: a directory (`brain-drill-…`) or a database (`brain_drill_…`, a plain
/// SQL identifier).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Directory,
    Database,
}

impl Kind {
    fn separator(self) -> char {
        match self {
            Kind::Directory => '-',
            Kind::Database => '_',
        }
    }

    fn prefix(self) -> String {
        let separator = self.separator();
        format!("brain{separator}drill{separator}")
    }
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// A new name: `brain-drill-SECONDS-HEX` (or with `_`), SECONDS the Unix time now.
pub fn new_name(kind: Kind) -> Result<String, EngineError> {
    let mut suffix = [0u8; 6];
    getrandom::fill(&mut suffix).map_err(|error| problem(error.to_string()))?;
    Ok(format!(
        "{}{}{}{}",
        kind.prefix(),
        now_seconds(),
        kind.separator(),
        hex::encode(suffix)
    ))
}

/// Whether `name` is one [`new_name`] made for `kind` more than an hour before `now` (Unix
/// seconds). Names of any other shape are never left behind: they are not ours to remove.
pub fn left_behind(kind: Kind, name: &str, now: u64) -> bool {
    let Some(rest) = name.strip_prefix(&kind.prefix()) else {
        return false;
    };
    let Some((seconds, suffix)) = rest.split_once(kind.separator()) else {
        return false;
    };
    let shaped = suffix.len() == 12 && suffix.bytes().all(|byte| byte.is_ascii_hexdigit());
    match seconds.parse::<u64>() {
        Ok(created) if shaped => now.saturating_sub(created) > LEFT_BEHIND_AFTER_SECONDS,
        _ => false,
    }
}

/// The path of a new sandbox directory in the temporary directory (not created yet), once the
/// ones killed drills left there are removed.
pub fn new_directory() -> Result<std::path::PathBuf, EngineError> {
    sweep_directories();
    Ok(std::env::temp_dir().join(new_name(Kind::Directory)?))
}

/// Remove the sandbox directories killed drills left in the temporary directory.
fn sweep_directories() {
    let root = std::env::temp_dir();
    let Ok(entries) = std::fs::read_dir(&root) else {
        return;
    };
    let now = now_seconds();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if left_behind(Kind::Directory, name, now) && entry.path().is_dir() {
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => {
                    tracing::info!(directory = %entry.path().display(), "removed a sandbox directory an interrupted drill left behind")
                }
                Err(error) => {
                    tracing::warn!(directory = %entry.path().display(), error = %error, "could not remove a sandbox directory an interrupted drill left behind")
                }
            }
        }
    }
}

/// Drop the scratch databases killed drills left on the server of `admin_url`. A failure to
/// list or drop is logged: it never stops the drill that found them.
pub async fn sweep_databases(admin_url: &str) {
    let names = match scratch::names(admin_url, &Kind::Database.prefix()).await {
        Ok(names) => names,
        Err(error) => {
            tracing::warn!(error = %error, "could not list the databases of earlier drills");
            return;
        }
    };
    let now = now_seconds();
    for name in names
        .iter()
        .filter(|name| left_behind(Kind::Database, name, now))
    {
        match scratch::drop(admin_url, name).await {
            Ok(()) => {
                tracing::info!(database = %name, "dropped a database an interrupted drill left behind")
            }
            Err(error) => {
                tracing::warn!(database = %name, error = %error, "could not drop a database an interrupted drill left behind")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_name_is_left_behind_only_after_an_hour_and_only_for_its_kind() {
        let name = new_name(Kind::Database).unwrap();
        assert!(name.starts_with("brain_drill_"), "{name}");
        assert!(
            name.bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_'),
            "a plain identifier: {name}"
        );
        let now = now_seconds();
        assert!(!left_behind(Kind::Database, &name, now));
        assert!(!left_behind(Kind::Database, &name, now + 3600));
        assert!(left_behind(Kind::Database, &name, now + 3602));
        assert!(!left_behind(Kind::Directory, &name, now + 3602));
        let directory = new_name(Kind::Directory).unwrap();
        assert!(directory.starts_with("brain-drill-"), "{directory}");
        assert!(left_behind(Kind::Directory, &directory, now + 7200));
    }

    #[test]
    fn names_of_another_shape_are_never_left_behind() {
        let later = now_seconds() + 86_400;
        for name in [
            "brain_drill_0a1b2c3d4e5f",
            "brain_drill_17000_0a1b2c3d4e5",
            "brain_drill_17000_0a1b2c3d4e5g",
            "brain_drill__0a1b2c3d4e5f",
            "brain_drill_x17000_0a1b2c3d4e5f",
            "studio",
            "brain_drill_17000_0a1b2c3d4e5f_extra",
        ] {
            assert!(!left_behind(Kind::Database, name, later), "{name}");
        }
        assert!(left_behind(
            Kind::Database,
            "brain_drill_17000_0a1b2c3d4e5f",
            later
        ));
    }
}
