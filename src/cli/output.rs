//! How commands print: data on stdout, diagnostics and logs on stderr; colour only on a
//! terminal and never with `NO_COLOR`.

use std::io::{IsTerminal, Write};

use miette::{GraphicalReportHandler, GraphicalTheme, MietteHandlerOpts};
use serde::Serialize;

/// Output format of a command. `sarif` is for `brain lint` only, `github` for `brain lint` and
/// `brain policy diff`, `markdown` for `brain policy diff`, `brain policy replay` and
/// `brain scorecard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people: aligned text, colour on a terminal, diagnostics with source snippets.
    Human,
    /// For machines: one stable JSON document on stdout.
    Json,
    /// SARIF 2.1.0, for code scanning (`brain lint` only).
    Sarif,
    /// GitHub workflow annotations (`brain lint`, `brain policy diff`).
    Github,
    /// Markdown: a pull request comment (`brain policy diff`, `brain policy replay`) or the
    /// monthly review (`brain scorecard`).
    Markdown,
}

fn colour() -> bool {
    std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

/// Diagnostics render with colour on a terminal, and plainly (but still with their source
/// snippets) everywhere else, so output is stable for tests and CI logs.
pub fn install_miette_hook() {
    let colour = colour();
    let _ = miette::set_hook(Box::new(move |_| {
        let options = MietteHandlerOpts::new()
            .terminal_links(false)
            .width(100)
            .wrap_lines(true);
        if colour {
            Box::new(options.build())
        } else {
            Box::new(options.color(false).unicode(true).build())
        }
    }));
}

/// Print a report (error or findings) to stderr.
pub fn print_report(report: &miette::Report) {
    let _ = writeln!(std::io::stderr(), "{report:?}");
}

/// Print a diagnostic to stderr without wrapping it in a report.
pub fn print_diagnostic(diagnostic: &dyn miette::Diagnostic) {
    let theme = if colour() {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let mut rendered = String::new();
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false);
    if handler.render_report(&mut rendered, diagnostic).is_ok() {
        let _ = write!(std::io::stderr(), "{rendered}");
    }
}

/// Print a value as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> miette::Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|error| miette::miette!(code = "internal::json", "cannot render JSON: {error}"))?;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
    Ok(())
}

/// A status line on stderr for people (`✓ ...`), green on a terminal.
pub fn success(message: &str) {
    if colour() {
        let _ = writeln!(std::io::stderr(), "\x1b[32m✓\x1b[0m {message}");
    } else {
        let _ = writeln!(std::io::stderr(), "✓ {message}");
    }
}

/// A caution on stderr for people (`! ...`), yellow on a terminal.
pub fn warning(message: &str) {
    if colour() {
        let _ = writeln!(std::io::stderr(), "\x1b[33m!\x1b[0m {message}");
    } else {
        let _ = writeln!(std::io::stderr(), "! {message}");
    }
}
