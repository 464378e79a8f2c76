//! `brain scorecard`: the service-level objectives over a period, computed from the local
//! store's records, or by a daemon with `--server` (`GET /api/v1/scorecard`). `--format json` prints `{period, computed_at, slos, details}`,
//! `--format markdown` the monthly review (trends against the previous period, breaches,
//! action items), `human` an aligned table.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::Cli;
use super::output::{self, Format};
use super::session::{Control, Paint, paint, with_control};
use crate::engine::EngineError;
use crate::scorecard::{Period, Scorecard, Status, markdown};

#[derive(Debug, Args)]
pub struct ScorecardArgs {
    /// The period: `day`, `week`, a length such as `7d`, `30d` or `24h` (ending now), or a
    /// calendar month in the studio's time zone such as `month:2026-11`.
    #[arg(long, default_value = "7d")]
    pub period: String,
}

pub fn run(cli: &Cli, args: &ScorecardArgs) -> miette::Result<ExitCode> {
    // The period's syntax is checked here, so a typo is a usage error on either side.
    if let Err(message) = Period::parse(&args.period, crate::clock::now(), chrono_tz::UTC) {
        output::print_report(&miette::miette!(
            code = "usage::period",
            help = "for example `--period 7d`, `--period 30d` or `--period month:2026-11`",
            "--period: {message}"
        ));
        return Ok(ExitCode::from(2));
    }
    with_control(cli, |control: Arc<dyn Control>| {
        Box::pin(async move {
            let scorecard = control.scorecard(&args.period, false).await?;
            match cli.format {
                Format::Json => {
                    output::print_json(&scorecard).map_err(|report| EngineError::Conflict {
                        message: report.to_string(),
                        help: None,
                    })?;
                }
                Format::Markdown => {
                    let previous = control.scorecard(&args.period, true).await?;
                    let text = markdown::render(&scorecard.studio, &scorecard, Some(&previous));
                    let _ = write!(std::io::stdout().lock(), "{text}");
                }
                _ => print_table(&scorecard),
            }
            Ok(ExitCode::SUCCESS)
        })
    })
}

fn print_table(scorecard: &Scorecard) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(
        stdout,
        "{} {} to {} (computed {})",
        paint(
            Paint::Bold,
            &format!("Scorecard, {}:", scorecard.period.label)
        ),
        scorecard.period.start,
        scorecard.period.end,
        scorecard.computed_at
    );
    let rows: Vec<[String; 6]> = scorecard
        .slos
        .iter()
        .map(|slo| {
            [
                slo.id.clone(),
                markdown::value_text(slo),
                markdown::unit_text(slo.target, &slo.unit),
                slo.status.as_str().to_string(),
                slo.owner.clone(),
                slo.last_breach_at.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let header = ["SLO", "VALUE", "TARGET", "STATUS", "OWNER", "LAST BREACH"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 6]| {
        cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let _ = writeln!(stdout, "{}", paint(Paint::Dim, &line(header)));
    for (row, slo) in rows.iter().zip(&scorecard.slos) {
        let text = line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]]);
        let painted = match slo.status {
            Status::Ok => text,
            Status::Warning => paint(Paint::Yellow, &text),
            Status::Critical => paint(Paint::Red, &text),
            Status::NoData => paint(Paint::Dim, &text),
        };
        let _ = writeln!(stdout, "{painted}");
    }
    for slo in &scorecard.slos {
        if slo.status != Status::Ok {
            let _ = writeln!(stdout, "  {}: {}", slo.id, slo.note);
        }
    }
}
