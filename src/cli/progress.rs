//! A progress indicator on stderr for long commands (`snapshot run`, `audit verify`, `rebuild`):
//! a spinner saying what is being done, or a bar once the total is known. It is drawn only when
//! stderr is a terminal and the output is for people (`--format human`); everywhere else (pipes,
//! CI logs, `--format json`, tests) every call does nothing and the command prints exactly what it
//! printed without one.
//!
//! Must not: write to stdout, or say anything the command's own lines do not also say (it is
//! cleared when the work is done). Lines printed while it runs go through [`Progress::println`],
//! so they land above it instead of tearing it.

use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Cli;
use super::output::Format;

/// How often a spinner moves while nothing reports.
const TICK: Duration = Duration::from_millis(120);

/// One indicator; cleared when dropped.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Whether an indicator is drawn for `cli`: people reading a terminal.
    pub fn wanted(cli: &Cli) -> bool {
        cli.format == Format::Human && std::io::stderr().is_terminal()
    }

    /// A spinner saying `message`, with the time elapsed.
    pub fn spinner(cli: &Cli, message: impl Into<Cow<'static, str>>) -> Self {
        let bar = Self::wanted(cli).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(message);
            bar.enable_steady_tick(TICK);
            bar
        });
        Self { bar }
    }

    /// Say what is being done now.
    pub fn set_message(&self, message: impl Into<Cow<'static, str>>) {
        if let Some(bar) = &self.bar {
            bar.set_message(message);
        }
    }

    /// `done` of `total` steps: the spinner becomes a bar.
    pub fn set_progress(&self, done: u64, total: u64) {
        let Some(bar) = &self.bar else {
            return;
        };
        if bar.length() != Some(total) {
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {pos}/{len} ({elapsed}, {eta} left)",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_length(total);
        }
        bar.set_position(done.min(total));
    }

    /// Print `line` on stderr, above the indicator when there is one.
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => {
                let _ = writeln!(std::io::stderr(), "{line}");
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
