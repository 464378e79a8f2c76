//! What the benchmarks share: the bench capability laid over the repository's policy set, and
//! copying a directory tree.

use std::path::Path;

/// One draft capability that needs one approval and has no quota (a quota would cut a loop
/// short); `tests:` names the benchmark that uses it.
pub fn bench_capability(bench: &str) -> String {
    format!(
        "id: bench.note.draft
title: Draft a note (benchmark)
owner: staff:owner
risk_tier: low
mode: draft
target: brain
class: internal
approval: {{ required: 1, approver_types: [staff], valid_for: 1h }}
failure_mode: Nothing is recorded.
rollback: {{ strategy: discard_draft, how: Reject it. }}
tests: [benches/{bench}.rs]
input_schema: {{ type: object }}
enabled: true
"
    )
}

/// Copy the tree `from` into `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}
