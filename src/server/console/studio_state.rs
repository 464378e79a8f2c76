//! The console's StudioState pages: the newest snapshot at a glance (`/studio-state`: one card
//! per queue with its count, oldest item, change and trend; freshness, completeness and the
//! state model up top; provenance per source and drift) and the snapshots over time with their
//! diffs field by field (`/studio-state/history`).
//!
//! Every view says *derived from cloud*, and every state is explicit, never a blank page: no
//! snapshot yet, stale (and why), partial (the collections not read, whose cards say "not
//! read" instead of a number), and the store unreachable (the page renders and names it).
//!
//! Architecture Invariant: these pages show snapshots as they were recorded and decide
//! nothing; freshness is the Engine's own verdict (`Engine::freshness_of`).

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::{AppState, Viewer, degraded, esc, layout, refusal_html};
use crate::engine::{EngineError, ErrorBody};
use crate::server::charts::{LineChart, Point};
use crate::snapshot::{
    self, CollectionState, Drift, FieldChange, ModelRef, Provenance, SourceProvenance, StudioState,
};
use crate::store::SnapshotRecord;

/// Snapshots the overview reads: the newest and the trend behind it.
const TREND_SNAPSHOTS: i64 = 30;
/// Snapshots the history view shows unless asked for another number.
const HISTORY_SNAPSHOTS: i64 = 20;
const HISTORY_MAX: i64 = 200;

const TITLE: &str = "StudioState";
const ACTIVE: &str = "/studio-state";

/// One recorded snapshot, read into its parts. A part recorded in a shape this build cannot
/// read (an older schema) is `None` and the page says so instead of guessing.
struct Shown {
    record: SnapshotRecord,
    state: Option<StudioState>,
    provenance: Option<Provenance>,
    diff: Vec<FieldChange>,
    drift: Vec<Drift>,
}

impl Shown {
    fn new(record: SnapshotRecord) -> Self {
        Self {
            state: serde_json::from_value(record.state.clone()).ok(),
            provenance: serde_json::from_value(record.provenance.clone()).ok(),
            diff: serde_json::from_value(record.diff.clone()).unwrap_or_default(),
            drift: serde_json::from_value(record.drift.clone()).unwrap_or_default(),
            record,
        }
    }

    fn model(&self) -> Option<&ModelRef> {
        self.provenance.as_ref()?.model.as_ref()
    }

    fn sources(&self) -> &[SourceProvenance] {
        self.provenance
            .as_ref()
            .map_or(&[], |provenance| provenance.sources.as_slice())
    }

    /// Collections a source failed to read: (collection, source, problem).
    fn not_read(&self) -> Vec<(String, String, String)> {
        self.sources()
            .iter()
            .flat_map(|source| {
                source
                    .collections
                    .iter()
                    .filter(|read| !read.complete)
                    .map(|read| {
                        (
                            read.collection.clone(),
                            source.source.clone(),
                            read.problem.clone().unwrap_or_else(|| "not read".into()),
                        )
                    })
            })
            .collect()
    }

    /// The queue count of `collection` as recorded (`None`: not read then).
    fn queue_count(&self, collection: &str) -> Option<u64> {
        self.record.state["collections"][collection]["queue"]["count"].as_u64()
    }
}

/// The frame every StudioState view shares: the label, and links between the views.
fn frame(view: &str) -> String {
    let link = |href: &str, label: &str| {
        let current = if href == view {
            " aria-current=\"page\""
        } else {
            ""
        };
        format!("<a href=\"{href}\"{current}>{label}</a>")
    };
    format!(
        "<p class=\"derived-line\"><span class=\"derived\">derived from cloud</span> The cloud is the record of truth; this is brain's computed view of it.</p><nav class=\"subnav\" aria-label=\"StudioState views\">{}{}</nav>",
        link("/studio-state", "Now"),
        link("/studio-state/history", "History"),
    )
}

fn empty_state() -> String {
    "<section class=\"state-note state-empty\" id=\"no-snapshot\" role=\"status\"><h2>No snapshot yet</h2><p>brain has not computed StudioState from the cloud yet, so there is nothing to show, and capabilities that need fresh state are denied (fail closed).</p><p><code>brain snapshot run</code> computes one now; <code>brain serve</code> computes one at start and on its schedule when a cloud source is configured.</p></section>".to_string()
}

/// The page when snapshots cannot be read: the store down (503) or the viewer refused.
fn error_state(
    state_banner: &[String],
    viewer: &Viewer,
    view: &str,
    error: &EngineError,
) -> Response {
    let body = ErrorBody::from_error(error, false);
    let (status, note) = match error {
        EngineError::Store(cause) => {
            tracing::error!(cause = %cause, "store error on the StudioState page");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "<section class=\"state-note state-error\" id=\"state-error\" role=\"alert\"><h2>StudioState cannot be read</h2><p>{}.</p><p>brain keeps its snapshots in its store; until the store answers, no snapshot can be shown and capabilities that need fresh state are denied (fail closed). The cloud itself is not affected.</p></section>",
                    esc(&body.message)
                ),
            )
        }
        _ => (
            StatusCode::OK,
            format!(
                "<section class=\"state-note state-error\" id=\"state-error\"><h2>StudioState is not shown to you</h2>{}</section>",
                refusal_html(&body)
            ),
        ),
    };
    let html = format!("{}{note}", frame(view));
    (status, layout(state_banner, viewer, TITLE, ACTIVE, &html)).into_response()
}

// ---- Formatting --------------------------------------------------------------------------

/// Digits after the point in `currency`'s minor unit (Stripe's zero- and three-decimal lists).
fn currency_exponent(currency: &str) -> u32 {
    const ZERO: &[&str] = &[
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
        "xaf", "xof", "xpf",
    ];
    const THREE: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];
    let currency = currency.to_ascii_lowercase();
    if ZERO.contains(&currency.as_str()) {
        0
    } else if THREE.contains(&currency.as_str()) {
        3
    } else {
        2
    }
}

/// An amount in minor units as people read it: `4500`, `usd` → `45.00 USD`.
pub fn money(minor_units: i64, currency: &str) -> String {
    let exponent = currency_exponent(currency);
    let sign = if minor_units < 0 { "-" } else { "" };
    let magnitude = i128::from(minor_units).unsigned_abs();
    let scale = 10u128.pow(exponent);
    let code = currency.to_ascii_uppercase();
    if exponent == 0 {
        format!("{sign}{magnitude} {code}")
    } else {
        format!(
            "{sign}{}.{:0width$} {code}",
            magnitude / scale,
            magnitude % scale,
            width = exponent as usize
        )
    }
}

fn amounts(amounts: &BTreeMap<String, i64>) -> String {
    amounts
        .iter()
        .map(|(currency, amount)| money(*amount, currency))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `2026-12-03 14:05 UTC`, or the text as stored when it is not a time.
fn when(stored: &str) -> String {
    crate::clock::parse_time(stored).map_or_else(
        || stored.to_string(),
        |time| time.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// `3 Dec 14:05`, for chart labels.
fn short_when(stored: &str) -> String {
    crate::clock::parse_time(stored).map_or_else(
        || stored.to_string(),
        |time| time.format("%-d %b %H:%M").to_string(),
    )
}

/// A time element: the time in words, the stored value for machines.
pub(super) fn time_html(stored: &str) -> String {
    format!(
        "<time datetime=\"{}\">{}</time>",
        esc(stored),
        esc(&when(stored))
    )
}

pub(super) fn ago(stored: &str, now: DateTime<Utc>) -> String {
    crate::clock::parse_time(stored).map_or_else(String::new, |time| {
        format!(
            "{} ago",
            crate::clock::human_duration((now - time).num_seconds())
        )
    })
}

pub(super) fn plural(count: u64, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// An element id from a collection name (`stripe:payouts` → `stripe-payouts`).
fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn short_hash(hash: &str) -> &str {
    &hash[..12.min(hash.len())]
}

fn model_html(model: &ModelRef) -> String {
    format!(
        "<code>{}</code> v{} <small>(<code title=\"{}\">{}</code>)</small>",
        esc(&model.id),
        model.version,
        esc(&model.hash),
        esc(short_hash(&model.hash))
    )
}

/// Collections in the order staff think of them: the known ones as brain reads them, then the
/// rest by name.
fn ordered<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let names: BTreeSet<&str> = names.into_iter().collect();
    let known = snapshot::model::KNOWN_COLLECTIONS;
    let mut out: Vec<&str> = known
        .iter()
        .filter_map(|name| names.get(name).copied())
        .collect();
    out.extend(names.iter().filter(|name| !known.contains(name)).copied());
    out
}

// ---- The overview ------------------------------------------------------------------------

pub(super) async fn overview(state: &AppState, viewer: &Viewer) -> Response {
    let banner = degraded(state).await;
    let history = match state
        .engine
        .snapshots(&viewer.caller, TREND_SNAPSHOTS)
        .await
    {
        Ok(history) => history,
        Err(error) => return error_state(&banner, viewer, "/studio-state", &error),
    };
    let history: Vec<Shown> = history.into_iter().map(Shown::new).collect();
    let Some(latest) = history.first() else {
        let body = format!("{}{}", frame("/studio-state"), empty_state());
        return layout(&banner, viewer, TITLE, ACTIVE, &body).into_response();
    };
    let now = crate::clock::now();
    let freshness = state.engine.freshness_of(Some(&latest.record.meta()), now);
    let model = &state.engine.policy().state_model;
    let not_read = latest.not_read();

    let mut body = frame("/studio-state");
    // What state the page is in, first and in words.
    let computed = &latest.record.computed_at;
    if !not_read.is_empty() {
        let items: String = not_read
            .iter()
            .map(|(collection, source, problem)| {
                format!(
                    "<li><strong>{}</strong> (<code>{}</code>, {}): {}</li>",
                    esc(model.title(collection)),
                    esc(collection),
                    esc(source),
                    esc(problem)
                )
            })
            .collect();
        body.push_str(&format!(
            "<section class=\"state-note state-partial\" id=\"state-partial\" role=\"alert\"><h2>Partial: {} not read</h2><p>The newest snapshot (computed {}) could not read every collection. Their cards say <em>not read</em>: a read that failed is never counted as zero.</p><ul>{items}</ul><p>Capabilities that need fresh state are denied until a complete snapshot is recorded.</p></section>",
            plural(not_read.len() as u64, "collection", "collections"),
            esc(&ago(computed, now)),
        ));
    } else if freshness.stale {
        body.push_str(&format!(
            "<section class=\"state-note state-stale\" id=\"state-stale\" role=\"alert\"><h2>Stale: {}</h2><p>The newest snapshot was computed {} ({}). The numbers below may no longer match the cloud, and capabilities that need fresh state are denied until a fresh snapshot is recorded: <code>brain snapshot run</code>, or <code>brain serve</code>'s schedule.</p></section>",
            esc(freshness.reason.as_deref().unwrap_or("the newest snapshot is too old")),
            esc(&ago(computed, now)),
            time_html(computed),
        ));
    } else {
        body.push_str(&format!(
            "<p class=\"state-note state-fresh\" id=\"state-fresh\" role=\"status\"><strong>Fresh</strong>: computed {}, every source read completely.</p>",
            esc(&ago(computed, now)),
        ));
    }

    body.push_str(&summary(latest, &history, &freshness, model, now));
    body.push_str(&cards(latest, &history, &not_read, model, now));
    body.push_str(&sources_html(latest));
    body.push_str(&drift_html(latest));
    body.push_str(&format!(
        "<h2 id=\"latest-changes\">Changes since the previous snapshot</h2>{}<p><a href=\"/studio-state/history\">Every snapshot's changes</a></p>",
        diff_html(latest, &titles(&history, model))
    ));
    layout(&banner, viewer, TITLE, ACTIVE, &body).into_response()
}

/// The cockpit's StudioState panel: the newest snapshot's cards, each with its trend over the
/// recent snapshots, as on the StudioState page; its empty and failed states in words.
pub(super) async fn cockpit_panel(state: &AppState, viewer: &Viewer) -> String {
    let heading = "<h2>StudioState <span class=\"derived\">derived from cloud</span></h2>";
    let history = match state
        .engine
        .snapshots(&viewer.caller, TREND_SNAPSHOTS)
        .await
    {
        Ok(history) => history,
        Err(error) => {
            return super::cockpit::panel_error(
                "studio-state",
                heading,
                "The snapshots are",
                &error,
                "",
            );
        }
    };
    let history: Vec<Shown> = history.into_iter().map(Shown::new).collect();
    let Some(latest) = history.first() else {
        return format!(
            "<section id=\"studio-state\">{heading}<p class=\"state-note state-empty\" id=\"studio-state-empty\">No snapshot yet: <code>brain snapshot run</code> computes one, and <code>brain serve</code> does on its schedule when a cloud source is configured.</p></section>"
        );
    };
    let now = crate::clock::now();
    let not_read = latest.not_read();
    let note = if not_read.is_empty() {
        format!(
            "<p class=\"note\">Computed {}; <a href=\"/studio-state\">every fact, source and change</a>.</p>",
            esc(&ago(&latest.record.computed_at, now))
        )
    } else {
        format!(
            "<p class=\"state-note state-partial\" id=\"studio-state-partial\">Partial: {} not read in the newest snapshot (computed {}); their cards say so. <a href=\"/studio-state\">Details</a>.</p>",
            plural(not_read.len() as u64, "collection", "collections"),
            esc(&ago(&latest.record.computed_at, now))
        )
    };
    let cards = cards(
        latest,
        &history,
        &not_read,
        &state.engine.policy().state_model,
        now,
    );
    format!("<section id=\"studio-state\">{heading}{note}{cards}</section>")
}

/// Freshness, completeness, the state model and the rest of the snapshot's facts.
fn summary(
    latest: &Shown,
    history: &[Shown],
    freshness: &crate::engine::snapshots::Freshness,
    model: &snapshot::Model,
    now: DateTime<Utc>,
) -> String {
    let record = &latest.record;
    let freshness_html = if freshness.stale {
        format!(
            "<span class=\"bad\">stale</span>: {}",
            esc(freshness.reason.as_deref().unwrap_or(""))
        )
    } else {
        "<span class=\"ok\">fresh</span>".to_string()
    };
    let not_read = latest.not_read();
    let completeness = if not_read.is_empty() {
        "<span class=\"ok\">full</span>: every source read every collection".to_string()
    } else {
        format!(
            "<span class=\"bad\">partial</span>: not read {}",
            not_read
                .iter()
                .map(|(collection, _, _)| format!("<code>{}</code>", esc(collection)))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let current = model.reference();
    let model_row = match latest.model() {
        Some(used) if *used == current => model_html(used),
        Some(used) => format!(
            "{} <span class=\"warn\">brain now uses {}</span>: the next snapshot counts under it, and its diff will say so",
            model_html(used),
            model_html(&current)
        ),
        None => "not recorded (a snapshot made before state models)".to_string(),
    };
    let mut rows = vec![
        (
            "Snapshot",
            format!(
                "<code>{}</code>, computed {} ({}); {} in the history",
                esc(&record.id),
                time_html(&record.computed_at),
                esc(&ago(&record.computed_at, now)),
                plural(history.len() as u64, "snapshot", "snapshots"),
            ),
        ),
        (
            "Freshness",
            format!("<span id=\"state-freshness\">{freshness_html}</span>"),
        ),
        ("Completeness", completeness),
        ("State model", model_row),
    ];
    if let Some(state) = &latest.state {
        let unclassified = state.unclassified();
        if !unclassified.is_empty() {
            let items: Vec<String> = unclassified
                .iter()
                .map(|(name, count)| {
                    format!(
                        "<a href=\"#card-{}\">{}</a> in {}",
                        slug(name),
                        plural(*count, "record", "records"),
                        esc(&state.collections[*name].title)
                    )
                })
                .collect();
            rows.push((
                "Unclassified",
                format!(
                    "<span class=\"warn\">{}</span> with values the state model puts in no class",
                    items.join(", ")
                ),
            ));
        }
        if !state.devices.is_empty() {
            rows.push((
                "Devices",
                format!(
                    "readings of {} included (<a href=\"/devices\">Devices</a>)",
                    plural(state.devices.len() as u64, "connector", "connectors")
                ),
            ));
        }
    }
    rows.push((
        "Content hash",
        format!("<code>{}</code>", esc(&record.content_hash)),
    ));
    let rows: String = rows
        .into_iter()
        .map(|(name, value)| format!("<tr><th scope=\"row\">{name}</th><td>{value}</td></tr>"))
        .collect();
    format!(
        "<h2 id=\"freshness\">Freshness and completeness</h2><table class=\"facts\" id=\"snapshot-facts\">{rows}</table>"
    )
}

/// How a queue moved since the previous snapshot.
enum Change {
    /// There is no previous snapshot.
    First,
    /// The previous snapshot did not read the collection.
    NotReadBefore,
    Moved {
        from: u64,
        to: u64,
    },
}

fn change_of(latest: &Shown, history: &[Shown], name: &str, count: u64) -> Change {
    let Some(previous_id) = &latest.record.previous_id else {
        return Change::First;
    };
    // The previous snapshot's own state when it is at hand, else the diff recorded with it.
    let from = match history
        .get(1)
        .filter(|shown| &shown.record.id == previous_id)
    {
        Some(previous) => previous.queue_count(name),
        None => {
            let field = format!("collections.{name}.queue.count");
            match latest.diff.iter().find(|change| change.field == field) {
                Some(change) => change.from.as_u64(),
                None => Some(count),
            }
        }
    };
    match from {
        Some(from) => Change::Moved { from, to: count },
        None => Change::NotReadBefore,
    }
}

fn change_html(change: &Change, model_changed: bool) -> String {
    let rules = if model_changed {
        " <small>(the state model changed too)</small>"
    } else {
        ""
    };
    match change {
        Change::First => {
            "<p class=\"delta\">first snapshot: nothing to compare with</p>".to_string()
        }
        Change::NotReadBefore => {
            format!("<p class=\"delta\">not read in the previous snapshot{rules}</p>")
        }
        Change::Moved { from, to } if from == to => format!(
            "<p class=\"delta delta-none\">no change since the previous snapshot{rules}</p>"
        ),
        Change::Moved { from, to } => {
            let (class, sign, by) = if to > from {
                ("delta-up", "+", to - from)
            } else {
                ("delta-down", "\u{2212}", from - to)
            };
            format!(
                "<p class=\"delta {class}\"><strong>{sign}{by}</strong> since the previous snapshot (was {from}){rules}</p>"
            )
        }
    }
}

/// One card per collection: read, or named as not read.
fn cards(
    latest: &Shown,
    history: &[Shown],
    not_read: &[(String, String, String)],
    model: &snapshot::Model,
    now: DateTime<Utc>,
) -> String {
    let Some(state) = &latest.state else {
        return format!(
            "<h2 id=\"queues\">Queues</h2><section class=\"state-note state-error\" id=\"state-unreadable\" role=\"alert\"><p>This snapshot was recorded in StudioState schema {}, which this page cannot show as cards; <code>brain snapshot show {}</code> prints it.</p></section>",
            latest.record.schema_version,
            esc(&latest.record.id)
        );
    };
    let failed: BTreeMap<&str, &str> = not_read
        .iter()
        .map(|(collection, _, problem)| (collection.as_str(), problem.as_str()))
        .collect();
    let names = ordered(
        state
            .collections
            .keys()
            .map(String::as_str)
            .chain(failed.keys().copied()),
    );
    let model_changed = latest
        .diff
        .first()
        .is_some_and(|change| change.field == snapshot::MODEL_CHANGE);
    let cards: String = names
        .iter()
        .map(|name| match state.collections.get(*name) {
            Some(collection) => card(name, collection, latest, history, model_changed, now),
            None => not_read_card(name, model.title(name), failed.get(name).copied()),
        })
        .collect();
    format!("<h2 id=\"queues\">Queues</h2><div class=\"cards\">{cards}</div>")
}

fn card_head(name: &str, title: &str) -> String {
    format!(
        "<h3 id=\"card-{slug}-title\">{title} <code>{name}</code></h3>",
        slug = slug(name),
        title = esc(title),
        name = esc(name),
    )
}

fn not_read_card(name: &str, title: &str, problem: Option<&str>) -> String {
    format!(
        "<article class=\"card card-not-read\" id=\"card-{slug}\" data-collection=\"{name}\" aria-labelledby=\"card-{slug}-title\">{head}<p class=\"queue\"><span class=\"count not-read\">not read</span></p><p class=\"problem\">{problem}</p><p class=\"hint\">Left out of this snapshot rather than counted as zero.</p></article>",
        slug = slug(name),
        name = esc(name),
        head = card_head(name, title),
        problem = esc(problem.unwrap_or("this snapshot did not read it")),
    )
}

fn card(
    name: &str,
    collection: &CollectionState,
    latest: &Shown,
    history: &[Shown],
    model_changed: bool,
    now: DateTime<Utc>,
) -> String {
    let count = collection.queue.count;
    let oldest = match (&collection.queue.oldest_since, count) {
        (_, 0) => "<p class=\"oldest\">queue empty</p>".to_string(),
        (Some(since), _) => format!(
            "<p class=\"oldest\">oldest waiting <strong>{}</strong> <small>since <time datetime=\"{}\">{} UTC</time></small></p>",
            esc(&crate::clock::human_duration(
                collection.queue.oldest_age_seconds(now).unwrap_or(0)
            )),
            esc(since),
            esc(&short_when(since)),
        ),
        (None, _) => {
            "<p class=\"oldest\">oldest item's age unknown (no creation time)</p>".to_string()
        }
    };
    let change = change_html(&change_of(latest, history, name, count), model_changed);
    let trend = if history.len() >= 2 {
        let points: Vec<Point> = history
            .iter()
            .rev()
            .map(|shown| {
                Point::new(
                    short_when(&shown.record.computed_at),
                    shown.queue_count(name).map(|count| count as f64),
                )
            })
            .collect();
        let chart = LineChart {
            width: 240,
            height: 44,
            ..LineChart::sparkline(format!("{} in the queue", collection.title), "")
        }
        .of("snapshots");
        let values: Vec<u64> = history
            .iter()
            .filter_map(|shown| shown.queue_count(name))
            .collect();
        let range = match (values.iter().min(), values.iter().max()) {
            (Some(lowest), Some(highest)) if lowest != highest => {
                format!(", between {lowest} and {highest}")
            }
            (Some(only), _) => format!(", {only} throughout"),
            _ => String::new(),
        };
        // The chart's own words are its accessible name; the caption repeats them for the eye.
        format!(
            "<div class=\"trend\">{}<p class=\"trend-caption\" aria-hidden=\"true\">last {}{range}</p></div>",
            chart.render(&points),
            plural(history.len() as u64, "snapshot", "snapshots"),
        )
    } else {
        "<p class=\"trend trend-none\">The trend appears from the second snapshot.</p>".to_string()
    };
    let mut extras = Vec::new();
    if let Some(high) = collection.high_severity {
        let class = if high > 0 { " class=\"bad\"" } else { "" };
        extras.push(format!("<li{class}>{high} high severity</li>"));
    }
    if let Some(starting) = collection.starting_next_24h {
        extras.push(format!("<li>{starting} starting in the next 24h</li>"));
    }
    if !collection.queue_amount.is_empty() {
        extras.push(format!(
            "<li>{} in the queue</li>",
            esc(&amounts(&collection.queue_amount))
        ));
    }
    if let Some(recent) = &collection.recent {
        let amount = if recent.amount.is_empty() {
            String::new()
        } else {
            format!(", {}", esc(&amounts(&recent.amount)))
        };
        extras.push(format!(
            "<li>{} created in the last {}{amount}</li>",
            recent.count,
            esc(&recent.within)
        ));
    }
    let extras = if extras.is_empty() {
        String::new()
    } else {
        format!("<ul class=\"extras\">{}</ul>", extras.concat())
    };
    let classes = format!(
        "<p class=\"classes\">{} open · {} in progress · {} closed · {}</p>",
        collection.open,
        collection.in_progress,
        collection.closed,
        plural(collection.records, "record read", "records read"),
    );
    let unclassified = unclassified_html(name, collection);
    let attention = if collection.unclassified > 0 {
        " card-attention"
    } else {
        ""
    };
    format!(
        "<article class=\"card{attention}\" id=\"card-{slug}\" data-collection=\"{name_attr}\" aria-labelledby=\"card-{slug}-title\">{head}<p class=\"queue\"><span class=\"count\" data-count=\"{count}\">{count}</span> <span class=\"label\">in the queue</span></p>{change}{oldest}{trend}{extras}{classes}{unclassified}</article>",
        slug = slug(name),
        name_attr = esc(name),
        head = card_head(name, &collection.title),
    )
}

fn unclassified_html(name: &str, collection: &CollectionState) -> String {
    if collection.unclassified == 0 {
        return String::new();
    }
    let rows: String = collection
        .unclassified_values()
        .map(|(value, count)| {
            let shown = match value.as_str() {
                snapshot::NO_VALUE => "<em>no value</em>".to_string(),
                snapshot::OTHER_VALUES => "<em>other values</em>".to_string(),
                value => format!("<code>{}</code>", esc(value)),
            };
            format!(
                "<tr><td>{shown}</td><td>{}</td><td>{}</td></tr>",
                count.count,
                esc(&count.examples.join(", "))
            )
        })
        .collect();
    format!(
        "<div class=\"unclassified\" id=\"unclassified-{slug}\" role=\"note\"><p><strong>{records} unclassified</strong>: the state model puts these values in no class, so they count in no queue.</p><table><thead><tr><th scope=\"col\">Value</th><th scope=\"col\">Records</th><th scope=\"col\">For example</th></tr></thead><tbody>{rows}</tbody></table><p class=\"hint\">Check with <code>brain snapshot explain --collection {name}</code>, then add the value to a class in the state model.</p></div>",
        slug = slug(name),
        records = plural(collection.unclassified, "record", "records"),
        name = esc(name),
    )
}

/// Provenance per source, and each collection read.
fn sources_html(latest: &Shown) -> String {
    let sources = latest.sources();
    if sources.is_empty() {
        return "<h2 id=\"sources\">Sources</h2><p>No source is recorded for this snapshot.</p>"
            .to_string();
    }
    let rows: String = sources
        .iter()
        .map(|source| {
            let failed: String = source
                .collections
                .iter()
                .filter(|read| !read.complete)
                .map(|read| {
                    format!(
                        "<li><code>{}</code>: {}</li>",
                        esc(&read.collection),
                        esc(read.problem.as_deref().unwrap_or("not read"))
                    )
                })
                .collect();
            let completeness = if failed.is_empty() {
                format!("<span class=\"ok\">{}</span>", esc(&source.completeness))
            } else {
                format!(
                    "<span class=\"bad\">{}</span><ul class=\"failed\">{failed}</ul>",
                    esc(&source.completeness)
                )
            };
            format!(
                "<tr data-source=\"{name}\"><th scope=\"row\">{name}<br><code>{location}</code></th><td>{read}</td><td>{newest}</td><td>{documents}</td><td>{completeness}</td></tr>",
                name = esc(&source.source),
                location = esc(&source.location),
                read = time_html(&source.read_time),
                newest = source
                    .newest_update_time
                    .as_deref()
                    .map_or_else(|| "—".to_string(), time_html),
                documents = source.documents_read,
            )
        })
        .collect();
    let collections: String = sources
        .iter()
        .flat_map(|source| {
            source.collections.iter().map(move |read| {
                format!(
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&read.collection),
                    esc(&source.source),
                    read.documents_read,
                    read.newest_update_time
                        .as_deref()
                        .map_or_else(|| "—".to_string(), time_html),
                    if read.complete {
                        "<span class=\"ok\">read</span>".to_string()
                    } else {
                        format!(
                            "<span class=\"bad\">not read</span>: {}",
                            esc(read.problem.as_deref().unwrap_or(""))
                        )
                    }
                )
            })
        })
        .collect();
    format!(
        "<h2 id=\"sources\">Sources</h2><table class=\"list\" id=\"provenance\"><thead><tr><th scope=\"col\">Source</th><th scope=\"col\">Read</th><th scope=\"col\">Newest update</th><th scope=\"col\">Documents</th><th scope=\"col\">Completeness</th></tr></thead><tbody>{rows}</tbody></table><details class=\"reads\"><summary>Each collection read</summary><table class=\"list\"><thead><tr><th scope=\"col\">Collection</th><th scope=\"col\">Source</th><th scope=\"col\">Documents</th><th scope=\"col\">Newest update</th><th scope=\"col\">Read</th></tr></thead><tbody>{collections}</tbody></table></details>"
    )
}

fn drift_html(latest: &Shown) -> String {
    if latest.drift.is_empty() {
        return "<h2 id=\"drift-heading\">Drift</h2><p id=\"no-drift\">No drift: where a source counts its own documents, its count matches what brain read (within <code>thresholds.drift_tolerance</code>).</p>".to_string();
    }
    let rows: String = latest
        .drift
        .iter()
        .map(|drift| {
            format!(
                "<tr><th scope=\"row\"><code>{}</code></th><td>{}</td><td>{}</td><td class=\"bad\">{}</td></tr>",
                esc(&drift.collection),
                drift.local,
                drift.cloud,
                drift.difference
            )
        })
        .collect();
    format!(
        "<h2 id=\"drift-heading\">Drift</h2><div class=\"refused\" id=\"drift\" role=\"note\"><p><strong>Local counts disagree with the cloud's own</strong> beyond the tolerance: documents may have been missed or added while brain read.</p><table class=\"list\"><thead><tr><th scope=\"col\">Collection</th><th scope=\"col\">brain read</th><th scope=\"col\">The cloud counts</th><th scope=\"col\">Difference</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )
}

// ---- Diffs, field by field ---------------------------------------------------------------

/// Collection names → titles, from the snapshots shown, else the current model.
fn titles(history: &[Shown], model: &snapshot::Model) -> BTreeMap<String, String> {
    let mut titles: BTreeMap<String, String> = model
        .model
        .collections
        .keys()
        .map(|name| (name.clone(), model.title(name).to_string()))
        .collect();
    for shown in history.iter().rev() {
        if let Some(state) = &shown.state {
            for (name, collection) in &state.collections {
                titles.insert(name.clone(), collection.title.clone());
            }
        }
    }
    titles
}

/// What a changed field holds, for showing its values.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Holds {
    Plain,
    /// An amount in minor units of this currency.
    Money(String),
    /// A whole collection (read in one snapshot, not in the other).
    Collection,
}

/// What a changed field is, in words, and what it holds.
fn field_words(field: &str, titles: &BTreeMap<String, String>) -> (String, Holds) {
    if let Some(rest) = field.strip_prefix("collections.") {
        let (name, part) = rest.split_once('.').unwrap_or((rest, ""));
        let title = titles.get(name).map_or(name, String::as_str);
        let plain = |words: &str| (words.to_string(), Holds::Plain);
        let (words, holds) = match part {
            "records" => plain("records read"),
            "open" => plain("open"),
            "in_progress" => plain("in progress"),
            "closed" => plain("closed"),
            "unclassified" => plain("unclassified"),
            "queue.count" => plain("in the queue"),
            "queue.oldest_since" => plain("oldest queued item created"),
            "high_severity" => plain("high severity in the queue"),
            "starting_next_24h" => plain("starting in the next 24h"),
            "recent.count" => plain("created recently"),
            "recent.within" => plain("what counts as recent"),
            "title" => plain("title"),
            "" => ("read".to_string(), Holds::Collection),
            part => {
                if let Some(value) = part.strip_prefix("values.") {
                    plain(&format!("records with value “{value}”"))
                } else if let Some(currency) = part.strip_prefix("queue_amount.") {
                    (
                        format!("amount in the queue ({})", currency.to_uppercase()),
                        Holds::Money(currency.to_string()),
                    )
                } else if let Some(currency) = part.strip_prefix("recent.amount.") {
                    (
                        format!("amount created recently ({})", currency.to_uppercase()),
                        Holds::Money(currency.to_string()),
                    )
                } else {
                    plain(&part.replace(['.', '_'], " "))
                }
            }
        };
        return (format!("{title}: {words}"), holds);
    }
    if let Some(rest) = field.strip_prefix("devices.") {
        return (
            format!("Devices: {}", rest.replace('.', " · ")),
            Holds::Plain,
        );
    }
    if field == "schema_version" {
        return ("StudioState schema version".to_string(), Holds::Plain);
    }
    (field.to_string(), Holds::Plain)
}

fn value_html(value: &Value, holds: &Holds) -> String {
    match (value, holds) {
        (Value::Null, Holds::Collection) => "<span class=\"bad\">not read</span>".to_string(),
        (value, Holds::Collection) => match value["queue"]["count"].as_u64() {
            Some(count) => format!("read, {count} in the queue"),
            None => "read".to_string(),
        },
        (Value::Null, _) => "<span class=\"muted\">—</span>".to_string(),
        (Value::Number(number), Holds::Money(currency)) => match number.as_i64() {
            Some(amount) => esc(&money(amount, currency)),
            None => number.to_string(),
        },
        (Value::Number(number), _) => number.to_string(),
        (Value::String(text), _) if crate::clock::parse_time(text).is_some() => time_html(text),
        (Value::String(text), _) => esc(text),
        (Value::Object(entries), _) => format!(
            "<details><summary>{}</summary><code>{}</code></details>",
            plural(entries.len() as u64, "entry", "entries"),
            esc(&value.to_string())
        ),
        (other, _) => format!("<code>{}</code>", esc(&other.to_string())),
    }
}

fn difference_html(change: &FieldChange, holds: &Holds) -> String {
    if *holds == Holds::Collection {
        return String::new();
    }
    let number = |value: &Value| match value {
        Value::Null => Some(0),
        value => value.as_i64(),
    };
    match (number(&change.from), number(&change.to)) {
        (Some(from), Some(to)) if from != to => {
            let by = to.saturating_sub(from);
            let text = match holds {
                Holds::Money(currency) => money(by.saturating_abs(), currency),
                _ => by.saturating_abs().to_string(),
            };
            let (class, sign) = if by > 0 {
                ("delta-up", "+")
            } else {
                ("delta-down", "\u{2212}")
            };
            format!("<span class=\"{class}\">{sign}{}</span>", esc(&text))
        }
        _ => String::new(),
    }
}

/// A snapshot's recorded diff, readable: the model change as a note, then each field.
fn diff_html(shown: &Shown, titles: &BTreeMap<String, String>) -> String {
    if shown.record.previous_id.is_none() {
        return "<p class=\"muted\">The first snapshot: nothing to compare with.</p>".to_string();
    }
    if shown.diff.is_empty() {
        return "<p class=\"muted\">No change since the previous snapshot.</p>".to_string();
    }
    let mut out = String::new();
    let mut rows = String::new();
    for change in &shown.diff {
        if change.field == snapshot::MODEL_CHANGE {
            let describe = |value: &Value| {
                serde_json::from_value::<ModelRef>(value.clone()).map_or_else(
                    |_| "no recorded model".to_string(),
                    |model| model_html(&model),
                )
            };
            out.push_str(&format!(
                "<p class=\"note model-change\" role=\"note\"><strong>The state model changed</strong> from {} to {}: counts below changed partly because the rules did, not only the studio's records.</p>",
                describe(&change.from),
                describe(&change.to)
            ));
            continue;
        }
        let (words, holds) = field_words(&change.field, titles);
        rows.push_str(&format!(
            "<tr><th scope=\"row\">{}<br><code class=\"field\">{}</code></th><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&words),
            esc(&change.field),
            value_html(&change.from, &holds),
            value_html(&change.to, &holds),
            difference_html(change, &holds),
        ));
    }
    if !rows.is_empty() {
        out.push_str(&format!(
            "<table class=\"list diff\"><thead><tr><th scope=\"col\">What changed</th><th scope=\"col\">Before</th><th scope=\"col\">After</th><th scope=\"col\">Change</th></tr></thead><tbody>{rows}</tbody></table>"
        ));
    }
    out
}

// ---- The history view --------------------------------------------------------------------

#[derive(Deserialize)]
pub(super) struct HistoryQuery {
    limit: Option<String>,
}

pub(super) async fn history(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<HistoryQuery>,
) -> Response {
    let banner = degraded(&state).await;
    let limit = query
        .limit
        .and_then(|limit| limit.parse::<i64>().ok())
        .unwrap_or(HISTORY_SNAPSHOTS)
        .clamp(1, HISTORY_MAX);
    let history = match state.engine.snapshots(&viewer.caller, limit).await {
        Ok(history) => history,
        Err(error) => return error_state(&banner, &viewer, "/studio-state/history", &error),
    };
    let history: Vec<Shown> = history.into_iter().map(Shown::new).collect();
    let mut body = frame("/studio-state/history");
    if history.is_empty() {
        body.push_str(&empty_state());
        return layout(&banner, &viewer, TITLE, ACTIVE, &body).into_response();
    }
    let now = crate::clock::now();
    let titles = titles(&history, &state.engine.policy().state_model);
    body.push_str(&format!(
        "<p id=\"history-intro\">The {} newest first, each with what changed since the one before it, field by field.</p>",
        plural(history.len() as u64, "snapshot", "snapshots")
    ));
    for shown in &history {
        let record = &shown.record;
        let not_read = shown.not_read();
        let status = if not_read.is_empty() {
            "<span class=\"ok\">complete</span>".to_string()
        } else {
            format!(
                "<span class=\"bad\">partial</span>: not read {}",
                not_read
                    .iter()
                    .map(|(collection, _, _)| format!("<code>{}</code>", esc(collection)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let documents: u64 = shown
            .sources()
            .iter()
            .map(|source| source.documents_read)
            .sum();
        let model = shown
            .model()
            .map_or_else(|| "no recorded model".to_string(), model_html);
        let drift = if shown.drift.is_empty() {
            String::new()
        } else {
            format!(
                " · <span class=\"bad\">drift in {}</span>",
                plural(shown.drift.len() as u64, "collection", "collections")
            )
        };
        body.push_str(&format!(
            "<section class=\"snapshot-entry\" id=\"snapshot-{id}\" aria-labelledby=\"snapshot-{id}-title\"><h2 id=\"snapshot-{id}-title\">{when} <small><code>{id}</code>, {ago}</small></h2><p class=\"meta\">{status} · {documents} · model {model}{drift}</p>{diff}</section>",
            id = esc(&record.id),
            when = esc(&when(&record.computed_at)),
            ago = esc(&ago(&record.computed_at, now)),
            documents = plural(documents, "document read", "documents read"),
            diff = diff_html(shown, &titles),
        ));
    }
    if history.len() as i64 == limit && limit < HISTORY_MAX {
        body.push_str(&format!(
            "<p><a href=\"/studio-state/history?limit={}\" id=\"more\">Older snapshots</a></p>",
            (limit * 2).min(HISTORY_MAX)
        ));
    }
    layout(&banner, &viewer, TITLE, ACTIVE, &body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_in_their_currencys_units() {
        assert_eq!(money(4500, "usd"), "45.00 USD");
        assert_eq!(money(5, "eur"), "0.05 EUR");
        assert_eq!(money(-1250, "usd"), "-12.50 USD");
        assert_eq!(money(1200, "jpy"), "1200 JPY");
        assert_eq!(money(1234, "kwd"), "1.234 KWD");
        assert_eq!(money(i64::MIN, "usd"), "-92233720368547758.08 USD");
    }

    #[test]
    fn changed_fields_read_in_words() {
        let titles = BTreeMap::from([("batches".to_string(), "Batches".to_string())]);
        let check = |field: &str, expected: &str, holds: Holds| {
            assert_eq!(
                field_words(field, &titles),
                (expected.to_string(), holds),
                "{field}"
            );
        };
        check(
            "collections.batches.queue.count",
            "Batches: in the queue",
            Holds::Plain,
        );
        check(
            "collections.batches.values.CLOSED.ODD",
            "Batches: records with value “CLOSED.ODD”",
            Holds::Plain,
        );
        check(
            "collections.stripe:payment_intents.queue_amount.usd",
            "stripe:payment_intents: amount in the queue (USD)",
            Holds::Money("usd".into()),
        );
        check("collections.batches", "Batches: read", Holds::Collection);
        check(
            "devices.hub.devices.12.values.switch",
            "Devices: hub · devices · 12 · values · switch",
            Holds::Plain,
        );
        check("something.else", "something.else", Holds::Plain);
        let change = |from: Value, to: Value| FieldChange {
            field: String::new(),
            from,
            to,
        };
        assert!(
            difference_html(&change(Value::from(3), Value::from(1)), &Holds::Plain)
                .contains("\u{2212}2")
        );
        assert!(
            difference_html(
                &change(Value::Null, Value::from(4500)),
                &Holds::Money("usd".into())
            )
            .contains("+45.00 USD")
        );
        assert_eq!(
            difference_html(&change(Value::from(1), Value::from(1)), &Holds::Plain),
            ""
        );
    }

    #[test]
    fn known_collections_come_first_in_reading_order() {
        assert_eq!(
            ordered(["zeta", "stripe:payouts", "batches", "kilns"]),
            vec!["batches", "kilns", "stripe:payouts", "zeta"]
        );
        assert_eq!(slug("stripe:payment_intents"), "stripe-payment_intents");
    }
}
