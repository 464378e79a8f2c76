//! The Engine side of the scorecard: the evidence it reads from the store (audit events of the
//! period and a look-back before it, swarm drafts, the capabilities' tiers), and the records
//! the scorecard needs that nothing else writes: the daemon's runs (runtime entries with a
//! heartbeat) and connectors' health changes (audit events).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{Caller, Engine, EngineError, event};
use crate::audit::AuditEvent;
use crate::clock::parse_time;
use crate::policy::decide::Action;
use crate::scorecard::{
    self, CONNECTOR_HEALTH_ACTION, CapabilityFacts, DAEMON_RUN_KV_PREFIX, DaemonRun, Evidence,
    Objective, Period, Scorecard, Settings,
};
use crate::store::SwarmDraftFilter;

const PAGE: i64 = 2_000;
/// Records of other processes may be this far off in time; the scan reaches this far past the
/// period's edges.
const SKEW_MARGIN_SECONDS: i64 = 3_600;

/// The actions whose events the scorecard reads in full.
fn meaningful(action: &str) -> bool {
    matches!(
        action,
        "snapshot"
            | "propose"
            | "approve"
            | "reject"
            | "cancel"
            | "expire"
            | "execute"
            | "execution"
            | "rollback_result"
            | CONNECTOR_HEALTH_ACTION
            | scorecard::SLO_ACTION
    )
}

impl Engine {
    /// The scorecard for `caller` (anyone who may view the studio's records).
    pub async fn scorecard(
        &self,
        caller: &Caller,
        objectives: &[Objective],
        period: &Period,
        settings: &Settings,
    ) -> Result<Scorecard, EngineError> {
        self.authorize_area(caller, Action::View).await?;
        self.compute_scorecard(objectives, period, settings, crate::clock::now())
            .await
    }

    /// The scorecard of `config`'s objectives over `period` as written (`7d`, `month:2026-11`),
    /// or over the period just before it when `previous` (the monthly review's comparison):
    /// what `brain scorecard` and `GET /api/v1/scorecard` answer.
    pub async fn configured_scorecard(
        &self,
        caller: &Caller,
        config: &crate::config::Config,
        period: &str,
        previous: bool,
    ) -> Result<Scorecard, EngineError> {
        let zone = config.studio.timezone.parse().unwrap_or(chrono_tz::UTC);
        let mut period = Period::parse(period, crate::clock::now(), zone).map_err(|message| {
            EngineError::invalid(
                format!("period: {message}"),
                "for example `7d`, `30d` or `month:2026-11`",
            )
        })?;
        if previous {
            period = period.previous();
        }
        let mut scorecard = self
            .scorecard(
                caller,
                &config.slos.objectives(),
                &period,
                &config.slos.settings(config),
            )
            .await?;
        scorecard.studio = config.studio.name.clone();
        Ok(scorecard)
    }

    /// Compute the scorecard at `now` (the daemon's evaluation, after its own checks).
    pub async fn compute_scorecard(
        &self,
        objectives: &[Objective],
        period: &Period,
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> Result<Scorecard, EngineError> {
        let evidence = self.scorecard_evidence(period).await?;
        Ok(scorecard::compute(
            objectives, period, now, &evidence, settings,
        ))
    }

    /// Each of `periods` (oldest first) computed from one read of the store, each from the
    /// same events its own `compute_scorecard` would read: the cockpit's charts.
    pub async fn scorecard_series(
        &self,
        objectives: &[Objective],
        periods: &[Period],
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> Result<Vec<Scorecard>, EngineError> {
        let (Some(first), Some(last)) = (
            periods.iter().map(|period| period.start).min(),
            periods.iter().map(|period| period.end).max(),
        ) else {
            return Ok(Vec::new());
        };
        let span = Period {
            label: "series".into(),
            start: first,
            end: last,
            zone: periods[0].zone,
        };
        let mut evidence = self.scorecard_evidence(&span).await?;
        let events = std::mem::take(&mut evidence.events);
        Ok(periods
            .iter()
            .map(|period| {
                let (from, to) = self.scan_window(period);
                evidence.events = events
                    .iter()
                    .filter(|event| parse_time(&event.at).is_some_and(|at| at >= from && at <= to))
                    .cloned()
                    .collect();
                scorecard::compute(objectives, period, now, &evidence, settings)
            })
            .collect())
    }

    /// The span of event times a period's scorecard reads: a look-back for proposals pending
    /// before it starts, and the clock-skew margin on both sides.
    fn scan_window(&self, period: &Period) -> (DateTime<Utc>, DateTime<Utc>) {
        let lookback = self.settings.proposal_expires_after + chrono::Duration::days(1);
        let margin = chrono::Duration::seconds(SKEW_MARGIN_SECONDS);
        (period.start - lookback - margin, period.end + margin)
    }

    async fn scorecard_evidence(&self, period: &Period) -> Result<Evidence, EngineError> {
        let margin = chrono::Duration::seconds(SKEW_MARGIN_SECONDS);
        let (scan_from, scan_to) = self.scan_window(period);
        let first = self.store.audit_events(0, 1).await?.into_iter().next();
        let first_event_at = first.as_ref().and_then(|event| parse_time(&event.at));
        let (head, _) = self.store.audit_head().await?;
        let start_after = match &first {
            Some(first) => self.seq_before(first.seq, head, scan_from).await?,
            None => 0,
        };
        let mut events: Vec<AuditEvent> = Vec::new();
        let mut after = start_after;
        'pages: loop {
            let page = self.store.audit_events(after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            let full = i64::try_from(page.len()).unwrap_or(0) == PAGE;
            for event in page {
                let Some(at) = parse_time(&event.at) else {
                    continue;
                };
                if at > scan_to + margin {
                    break 'pages;
                }
                if at < scan_from || at > scan_to {
                    continue;
                }
                if !meaningful(&event.action) {
                    continue;
                }
                events.push(event);
            }
            if !full {
                break;
            }
        }
        let drafts = self
            .store
            .swarm_drafts(&SwarmDraftFilter {
                limit: 100_000,
                ..SwarmDraftFilter::default()
            })
            .await?;
        let capabilities: BTreeMap<String, CapabilityFacts> = self
            .policy
            .manifests
            .iter()
            .map(|(id, manifest)| {
                (
                    id.clone(),
                    CapabilityFacts {
                        risk_tier: manifest.risk_tier,
                        external_write: manifest.mode.as_str() == "write"
                            && manifest.target != super::proposals::BRAIN_TARGET,
                        approvals_required: manifest.approval.required,
                    },
                )
            })
            .collect();
        let runs = self
            .store
            .kv_list(DAEMON_RUN_KV_PREFIX)
            .await?
            .into_iter()
            .filter_map(|entry| serde_json::from_str(&entry.value).ok())
            .collect();
        Ok(Evidence {
            events,
            runs,
            first_event_at,
            drafts,
            capabilities,
        })
    }

    /// The largest sequence number whose event is older than `time` (0 when none is), found
    /// by bisection: event times grow with the chain but for clock skew, which the margin
    /// around the period absorbs.
    async fn seq_before(
        &self,
        first_seq: i64,
        head: i64,
        time: DateTime<Utc>,
    ) -> Result<i64, EngineError> {
        let (mut low, mut high) = (first_seq, head);
        // Invariant: events below `low` are older than `time`; the answer is below `high + 1`.
        let at_or_after = |seq: i64| async move {
            let event = self
                .store
                .audit_events(seq - 1, 1)
                .await?
                .into_iter()
                .next();
            Ok::<Option<(i64, bool)>, EngineError>(event.map(|event| {
                let older = parse_time(&event.at).is_some_and(|at| at < time);
                (event.seq, older)
            }))
        };
        match at_or_after(low).await? {
            Some((_, true)) => {}
            _ => return Ok(first_seq - 1),
        }
        while low < high {
            let middle = low + (high - low + 1) / 2;
            match at_or_after(middle).await? {
                Some((seq, true)) => low = seq.max(middle),
                _ => high = middle - 1,
            }
        }
        Ok(low - 1)
    }

    /// Record the daemon's start (a runtime entry `daemon.run:<started_at>`, from which the
    /// scorecard reads brain's downtime); returns the run's key for its heartbeats.
    pub async fn daemon_started(&self) -> Result<String, EngineError> {
        let now = crate::clock::format_time(crate::clock::now());
        let key = format!("{DAEMON_RUN_KV_PREFIX}{now}");
        let run = DaemonRun {
            started_at: now.clone(),
            last_seen: now,
            stopped_at: None,
            version: env!("CARGO_PKG_VERSION").to_string(),
        };
        self.write_run(&key, &run).await?;
        Ok(key)
    }

    /// The daemon's heartbeat (and, with `stopped`, its clean stop) on its run `key`.
    pub async fn daemon_heartbeat(&self, key: &str, stopped: bool) -> Result<(), EngineError> {
        let now = crate::clock::format_time(crate::clock::now());
        let mut run = match self.store.kv_get(key).await? {
            Some(entry) => serde_json::from_str(&entry.value).unwrap_or(DaemonRun {
                started_at: now.clone(),
                last_seen: now.clone(),
                stopped_at: None,
                version: env!("CARGO_PKG_VERSION").to_string(),
            }),
            None => return Ok(()),
        };
        run.last_seen = now.clone();
        if stopped {
            run.stopped_at = Some(now);
        }
        self.write_run(key, &run).await
    }

    async fn write_run(&self, key: &str, run: &DaemonRun) -> Result<(), EngineError> {
        let mut tx = self.store.begin().await?;
        tx.kv_set(&crate::store::KvEntry {
            key: key.to_string(),
            value: serde_json::to_string(run).unwrap_or_default(),
            updated_at: run.last_seen.clone(),
            updated_by: "system:daemon".into(),
        })
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Record a connector's health change (`healthy`, `degraded`, `down`), from which the
    /// scorecard reads availability and time to recover.
    pub async fn record_connector_health(
        &self,
        connector: &str,
        health: &str,
        reason: Option<&str>,
    ) -> Result<(), EngineError> {
        let mut tx = self.store.begin().await?;
        self.append(
            &mut *tx,
            event(
                &crate::connectors::fleet::actor(connector),
                CONNECTOR_HEALTH_ACTION,
                health,
            )
            .detail(serde_json::json!({ "connector": connector, "reason": reason })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The runtime entries of the alert states, one per objective.
pub const ALERT_KV_PREFIX: &str = "slo.alert:";
/// The runtime entries of notifications no attempt could deliver.
pub const DEAD_LETTER_KV_PREFIX: &str = "slo.dead_letter:";
/// The runtime entry naming the studio-local day of the last audited daily computation.
pub const DAILY_KV_KEY: &str = "slo.daily";
/// The actor the daemon's evaluation records its events as.
pub const EVALUATOR: &str = "system:scorecard";

impl Engine {
    /// Each objective's alert state from the last evaluation.
    pub async fn alert_states(
        &self,
    ) -> Result<BTreeMap<String, scorecard::alerts::AlertState>, EngineError> {
        Ok(self
            .store
            .kv_list(ALERT_KV_PREFIX)
            .await?
            .into_iter()
            .filter_map(|entry| {
                let id = entry.key.strip_prefix(ALERT_KV_PREFIX)?.to_string();
                serde_json::from_str(&entry.value)
                    .ok()
                    .map(|state| (id, state))
            })
            .collect())
    }

    /// Keep an objective's alert state and, for a breach or a recovery, audit it (reason code
    /// `SLO_BREACH` / `SLO_RECOVERED`) in the same transaction. Returns the audit event.
    pub async fn record_slo_alert(
        &self,
        result: &scorecard::SloResult,
        transition: Option<scorecard::alerts::Transition>,
        state: &scorecard::alerts::AlertState,
        period: &scorecard::PeriodView,
    ) -> Result<Option<AuditEvent>, EngineError> {
        let now = crate::clock::format_time(crate::clock::now());
        let mut tx = self.store.begin().await?;
        tx.kv_set(&crate::store::KvEntry {
            key: format!("{ALERT_KV_PREFIX}{}", result.id),
            value: serde_json::to_string(state).unwrap_or_default(),
            updated_at: now,
            updated_by: EVALUATOR.into(),
        })
        .await?;
        let mut sealed = None;
        if let Some(transition) = transition
            && let Some(reason) = transition.reason_code()
        {
            sealed = Some(
                self.append(
                    &mut *tx,
                    event(EVALUATOR, scorecard::SLO_ACTION, transition.as_str())
                        .reasons(&[reason])
                        .detail(serde_json::json!({
                            "slo": result.id,
                            "indicator": result.indicator,
                            "status": result.status,
                            "value": result.value,
                            "target": result.target,
                            "warning": result.warning,
                            "critical": result.critical,
                            "unit": result.unit,
                            "period": period,
                            // Held while the objective flaps: audited, not posted.
                            "posted": !state.held,
                        })),
                )
                .await?,
            );
        }
        tx.commit().await?;
        Ok(sealed)
    }

    /// Audit the daily scorecard computation (each objective's status and value, and a hash of
    /// the whole scorecard) once per studio-local day; `day` is that day (`2026-11-24`).
    /// Returns false when the day was already recorded.
    pub async fn record_daily_scorecard(
        &self,
        day: &str,
        scorecard: &Scorecard,
    ) -> Result<bool, EngineError> {
        let mut tx = self.store.begin().await?;
        if tx
            .kv_get(DAILY_KV_KEY)
            .await?
            .is_some_and(|entry| entry.value == day)
        {
            return Ok(false);
        }
        let canonical = crate::audit::canonical_json(
            &serde_json::to_value(scorecard).unwrap_or(serde_json::Value::Null),
        );
        let statuses: serde_json::Map<String, serde_json::Value> = scorecard
            .slos
            .iter()
            .map(|slo| {
                (
                    slo.id.clone(),
                    serde_json::json!({ "status": slo.status, "value": slo.value }),
                )
            })
            .collect();
        tx.kv_set(&crate::store::KvEntry {
            key: DAILY_KV_KEY.into(),
            value: day.into(),
            updated_at: crate::clock::format_time(crate::clock::now()),
            updated_by: EVALUATOR.into(),
        })
        .await?;
        self.append(
            &mut *tx,
            event(EVALUATOR, scorecard::SLO_ACTION, "computed")
                .output_hash(Some(crate::audit::sha256_hex(canonical.as_bytes())))
                .detail(serde_json::json!({
                    "day": day,
                    "period": scorecard.period,
                    "slos": statuses,
                })),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Keep a notification no attempt delivered, audited with its hash.
    pub async fn record_dead_letter(
        &self,
        sink: &str,
        payload: &serde_json::Value,
        attempts: u32,
        problem: &str,
    ) -> Result<(), EngineError> {
        let now = crate::clock::format_time(crate::clock::now());
        let slo = payload["slo"].as_str().unwrap_or("unknown");
        let record = serde_json::json!({
            "sink": sink,
            "attempts": attempts,
            "problem": problem,
            "failed_at": now,
            "payload": payload,
        });
        let canonical = crate::audit::canonical_json(payload);
        let mut tx = self.store.begin().await?;
        tx.kv_set(&crate::store::KvEntry {
            key: format!("{DEAD_LETTER_KV_PREFIX}{now}:{sink}:{slo}"),
            value: record.to_string(),
            updated_at: now.clone(),
            updated_by: EVALUATOR.into(),
        })
        .await?;
        self.append(
            &mut *tx,
            event(EVALUATOR, scorecard::SLO_ACTION, "undelivered")
                .output_hash(Some(crate::audit::sha256_hex(canonical.as_bytes())))
                .detail(serde_json::json!({
                    "sink": sink,
                    "slo": slo,
                    "event": payload["event"],
                    "attempts": attempts,
                    "problem": problem,
                })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The dead-letter records, oldest first.
    pub async fn dead_letters(&self) -> Result<Vec<serde_json::Value>, EngineError> {
        Ok(self
            .store
            .kv_list(DEAD_LETTER_KV_PREFIX)
            .await?
            .into_iter()
            .filter_map(|entry| serde_json::from_str(&entry.value).ok())
            .collect())
    }
}
