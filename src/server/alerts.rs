//! SLO alerting inside `brain serve`: every `slos.evaluate_every` the objectives are computed
//! over the rolling `slos.alert_window`; a breach and its recovery are audited (`SLO_BREACH`,
//! `SLO_RECOVERED`) with the objective's alert state, and posted to the configured webhooks,
//! with retries and a dead-letter record when every attempt failed; a breach that stays open is
//! posted again after `slos.repeat_after`. Once per studio-local day the scorecard computation
//! itself is audited. The values and statuses are kept for `/metrics`.
//!
//! Architecture Invariant: a notification carries ids, values, thresholds, times and hashes,
//! never a record's content or personal data.

use std::time::Duration;

use serde_json::{Value, json};

use super::AppState;
use crate::audit::AuditEvent;
use crate::config::slos::WebhookConfig;
use crate::scorecard::alerts::{self, Transition};
use crate::scorecard::{Period, Scorecard, SloResult, Value64};

/// Evaluate on schedule until the daemon stops.
pub async fn evaluate_schedule(state: AppState) {
    let client = match reqwest::Client::builder().build() {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(error = %error, "SLO alerting is off: no HTTP client");
            return;
        }
    };
    let every = state.config.config.slos.evaluate_every.as_std();
    // The first evaluation fills `/metrics` at start; the daily computation is audited from
    // the next one on, so a daemon's start is not followed by an event of its own making at a
    // time that races with its first requests.
    let mut record_daily = false;
    loop {
        // Each evaluation runs to its end in its own task: when the schedule is aborted (the
        // daemon stops, or loses the leader lease) a write transaction in flight still commits
        // or rolls back, instead of being dropped while it holds the chain head's lock.
        let evaluation = {
            let state = state.clone();
            let client = client.clone();
            tokio::spawn(async move { evaluate_once(&state, &client, record_daily).await })
        };
        match evaluation.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(error = %error, "SLO evaluation failed"),
            Err(error) => tracing::warn!(error = %error, "SLO evaluation stopped"),
        }
        record_daily = true;
        tokio::time::sleep(every).await;
    }
}

/// One evaluation: compute, keep states and audit transitions, post notifications.
pub async fn evaluate_once(
    state: &AppState,
    client: &reqwest::Client,
    record_daily: bool,
) -> Result<(), crate::engine::EngineError> {
    let slos = &state.config.config.slos;
    let now = crate::clock::now();
    let zone = super::studio_zone(state);
    let window =
        chrono::Duration::seconds(i64::try_from(slos.alert_window.as_secs()).unwrap_or(86_400));
    let period = Period {
        label: format!("last {}", slos.alert_window),
        start: now - window,
        end: now,
        zone,
    };
    let objectives = slos.objectives();
    let settings = slos.settings(&state.config.config);
    let scorecard = state
        .engine
        .compute_scorecard(&objectives, &period, &settings, now)
        .await?;
    state.metrics.set_slos(&scorecard);
    let previous = state.engine.alert_states().await?;
    let repeat = i64::try_from(slos.repeat_after.as_secs()).unwrap_or(i64::MAX / 4);
    let mut notifications = Vec::new();
    for result in &scorecard.slos {
        let before = previous.get(&result.id);
        let (transition, kept) = alerts::transition(before, result, now, repeat);
        if transition.is_none() && before == Some(&kept) {
            continue;
        }
        let event = state
            .engine
            .record_slo_alert(result, transition, &kept, &scorecard.period)
            .await?;
        if let Some(transition) = transition {
            match transition {
                Transition::Breach => {
                    tracing::warn!(slo = %result.id, status = result.status.as_str(), "SLO breached")
                }
                Transition::Recovered => tracing::info!(slo = %result.id, "SLO recovered"),
                Transition::Reminder => {
                    tracing::warn!(slo = %result.id, status = result.status.as_str(), "SLO still breached")
                }
            }
            if !kept.posts(Some(transition)) {
                tracing::info!(slo = %result.id, transition = transition.as_str(), "not posted: the objective is flapping (a breach of it was posted within `slos.repeat_after`)");
                continue;
            }
            let was = before.map_or("no_data", |state| state.status.as_str());
            notifications.push(payload(
                state,
                &scorecard,
                result,
                transition,
                was,
                event.as_ref(),
            ));
        }
    }
    for webhook in &slos.webhooks {
        for notification in &notifications {
            tokio::spawn(deliver(
                state.clone(),
                client.clone(),
                webhook.clone(),
                notification.clone(),
            ));
        }
    }
    if !record_daily {
        return Ok(());
    }
    // The daily computation, audited once per studio-local day.
    let day = now.with_timezone(&zone).format("%Y-%m-%d").to_string();
    let daily_period = Period {
        label: "day".into(),
        start: now - chrono::Duration::days(1),
        end: now,
        zone,
    };
    let daily = if period.end - period.start == chrono::Duration::days(1) {
        scorecard.clone()
    } else {
        state
            .engine
            .compute_scorecard(&objectives, &daily_period, &settings, now)
            .await?
    };
    state.engine.record_daily_scorecard(&day, &daily).await?;
    Ok(())
}

/// The JSON a webhook receives: ids, values, thresholds, the period, the audit event's
/// sequence number and hash, and links.
fn payload(
    state: &AppState,
    scorecard: &Scorecard,
    result: &SloResult,
    transition: Transition,
    previous_status: &str,
    event: Option<&AuditEvent>,
) -> Value {
    let base = state
        .config
        .config
        .slos
        .console_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", state.config.listen))
        .trim_end_matches('/')
        .to_string();
    json!({
        "kind": "brain.slo",
        "event": transition.as_str(),
        "slo": result.id,
        "indicator": result.indicator,
        "status": result.status,
        "previous_status": previous_status,
        "value": Value64(result.value.0),
        "unit": result.unit,
        "target": result.target,
        "warning": result.warning,
        "critical": result.critical,
        "period": scorecard.period,
        "computed_at": scorecard.computed_at,
        "audit": event.map(|event| json!({ "seq": event.seq, "hash": event.hash })),
        "links": {
            "cockpit": format!("{base}/console"),
            "metrics": format!("{base}/metrics"),
        },
    })
}

/// Post `payload` to `webhook`, retrying with backoff; after the last attempt, a dead-letter
/// record.
async fn deliver(state: AppState, client: reqwest::Client, webhook: WebhookConfig, payload: Value) {
    let attempts = webhook.attempts.clamp(1, 10);
    let mut problem = String::new();
    for attempt in 1..=attempts {
        let sent = client
            .post(webhook.url.value().map_or("", |url| url.expose()))
            .timeout(webhook.timeout.as_std())
            .header("content-type", "application/json")
            .header("user-agent", concat!("brain/", env!("CARGO_PKG_VERSION")))
            .json(&payload)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                state
                    .metrics
                    .record_alert_delivery(&webhook.id, "delivered");
                return;
            }
            // The receiver's answer, without its body (it may echo anything).
            Ok(response) => problem = format!("the sink answered {}", response.status()),
            // Without the URL: a webhook address may carry a token.
            Err(error) => {
                problem = if error.is_timeout() {
                    "the sink did not answer in time".to_string()
                } else if error.is_connect() {
                    "the sink could not be reached".to_string()
                } else {
                    "the request failed".to_string()
                }
            }
        }
        if attempt < attempts {
            let backoff = Duration::from_millis(500 * 2u64.pow(attempt - 1).min(32));
            tokio::time::sleep(backoff).await;
        }
    }
    tracing::warn!(sink = %webhook.id, slo = %payload["slo"], problem = %problem, "SLO notification undelivered: kept as a dead letter");
    state
        .metrics
        .record_alert_delivery(&webhook.id, "dead_letter");
    if let Err(error) = state
        .engine
        .record_dead_letter(&webhook.id, &payload, attempts, &problem)
        .await
    {
        tracing::error!(error = %error, "could not record the dead letter");
    }
}
