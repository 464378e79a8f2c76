//! The swarm runtime: one run of one swarm, end to end, through the Engine.
//!
//! 1. The swarm's agent must exist and hold a live delegation from the swarm's owner covering
//!    its draft capability; otherwise the run is `denied` with the reason, and does nothing.
//! 2. It reads the configured sources record by record, each read authorized (and audited) as
//!    the agent under the collection's read capability, so a kill switch on a target stops it;
//!    records go to the swarm's rules one at a time and are not kept.
//! 3. Each kept finding is proposed as a draft under the swarm's draft capability, as the agent:
//!    decided by Cedar, quota-limited, audited, held back (suppressed) while a draft for the
//!    same rule and subject is open or within the rule's cooldown after a rejection. The first
//!    denial (a kill switch, a quota) stops proposing; the run is `denied` with its reasons.
//! 4. One audited run summary records per rule the hits, emitted, suppressed and refused
//!    findings, the records read and the time taken. A dry run proposes nothing and writes
//!    nothing but that record.
//!
//! [`Runner`] is what `brain serve` holds: per swarm a lock (runs of one swarm never overlap),
//! the last run's outcome for the cockpit and metrics, and the snapshot trigger.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Collector, Finding, RunContext, Seen, Swarm};
use crate::cloud::{Source, capability_for};
use crate::config::{LoadedConfig, SwarmSettings};
use crate::engine::swarms::SwarmProposal;
use crate::engine::{Caller, Engine, EngineError, ProposeRequest};
use crate::snapshot::ConnectorDevices;
use crate::store::SwarmRunRecord;

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Schedule,
    Snapshot,
    Manual,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Snapshot => "snapshot",
            Trigger::Manual => "manual",
        }
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub trigger: Trigger,
    /// Who asked: an actor id, or `system:scheduler`.
    pub requested_by: String,
    pub dry_run: bool,
}

/// One rule's counts in a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RuleTally {
    /// Records (or situations) the rule matched, kept or not.
    pub hits: u64,
    /// Findings proposed as drafts.
    pub emitted: u64,
    /// Findings held back (an open draft, a cooldown).
    pub suppressed: u64,
    /// Drafts refused before they were proposed (personal data).
    pub refused: u64,
}

/// A finding as the run reports it: proposed (with its proposal), suppressed, or not proposed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reported {
    #[serde(flatten)]
    pub finding: Finding,
    pub proposal_id: Option<String>,
    pub suppressed: bool,
    /// Why it was held back or not proposed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What `brain swarm run` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub swarm: String,
    pub run_id: String,
    pub agent: String,
    pub dry_run: bool,
    pub trigger: Trigger,
    /// `completed`, `denied` or `failed`.
    pub outcome: String,
    pub snapshot_id: Option<String>,
    pub snapshot_hash: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    pub seconds: f64,
    pub records_read: u64,
    pub rules: BTreeMap<String, RuleTally>,
    pub findings: Vec<Reported>,
    /// The findings by rule and severity (finance's weekly reconciliation summary).
    pub summary: BTreeMap<String, BTreeMap<String, u64>>,
    /// Records the compliance intake gate routed to review in this run (agent requests).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routed_to_review: Vec<String>,
    /// The reason codes of a denial.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// What stopped the run, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The swarms' files from the studio repository: the marketing templates and the trust &
/// safety term lists.
#[derive(Debug, Clone)]
pub struct SwarmFiles {
    pub templates: Vec<super::marketing::Template>,
    pub terms: super::trust_safety::Lists,
}

impl SwarmFiles {
    /// Load them for `config`; warnings (a built-in fallback) are returned to print.
    pub fn load(
        config: &LoadedConfig,
    ) -> Result<(Self, Vec<crate::diagnostic::Finding>), crate::workspace::WorkspaceError> {
        let (templates, template_warning) = crate::workspace::load_templates(config)?;
        let (terms, terms_warning) = crate::workspace::load_terms(config)?;
        Ok((
            Self { templates, terms },
            template_warning.into_iter().chain(terms_warning).collect(),
        ))
    }
}

/// Build the swarm named in `settings` for one run.
pub fn build(
    config: &LoadedConfig,
    settings: &SwarmSettings<'_>,
    files: &SwarmFiles,
) -> Option<Box<dyn Swarm>> {
    let swarms = &config.config.swarms;
    match settings.info.name {
        "ops" => swarms
            .ops
            .as_ref()
            .map(|ops| Box::new(super::ops::Ops::new(ops.rules.clone())) as Box<dyn Swarm>),
        "marketing" => swarms.marketing.as_ref().map(|marketing| {
            Box::new(super::marketing::Marketing::new(
                marketing.rules.clone(),
                files.templates.clone(),
                zone(config),
            )) as Box<dyn Swarm>
        }),
        "finance" => swarms.finance.as_ref().map(|finance| {
            Box::new(super::finance::Finance::new(finance.rules.clone())) as Box<dyn Swarm>
        }),
        "trust-safety" => swarms.trust_safety.as_ref().map(|triage| {
            Box::new(super::trust_safety::TrustSafety::new(
                triage.rules.clone(),
                files.terms.clone(),
            )) as Box<dyn Swarm>
        }),
        _ => None,
    }
}

/// The studio's time zone (UTC when brain.yaml names none it knows; the config check refuses
/// an unknown one).
pub fn zone(config: &LoadedConfig) -> chrono_tz::Tz {
    config
        .config
        .studio
        .timezone
        .parse()
        .unwrap_or(chrono_tz::UTC)
}

/// Snapshots a run looks back over (the ops queue spike's history and then some).
const HISTORY: i64 = 30;

/// Run `swarm` once. `Err` only when the store fails; denials and read failures are outcomes.
pub async fn run(
    engine: &Engine,
    settings: &SwarmSettings<'_>,
    mut swarm: Box<dyn Swarm>,
    sources: &[Arc<dyn Source>],
    options: &RunOptions,
) -> Result<RunReport, EngineError> {
    let started = crate::clock::now();
    let clock = std::time::Instant::now();
    let info = settings.info;
    let mut report = RunReport {
        swarm: info.name.to_string(),
        run_id: crate::engine::new_id("r")?,
        agent: settings.agent.to_string(),
        dry_run: options.dry_run,
        trigger: options.trigger,
        outcome: "completed".into(),
        snapshot_id: None,
        snapshot_hash: None,
        started_at: crate::clock::format_time(started),
        finished_at: String::new(),
        seconds: 0.0,
        records_read: 0,
        rules: info
            .rules
            .iter()
            .filter(|rule| {
                settings
                    .rules
                    .iter()
                    .any(|(each, enabled, _)| each.id == rule.id && *enabled)
            })
            .map(|rule| (rule.id.to_string(), RuleTally::default()))
            .collect(),
        findings: Vec::new(),
        summary: BTreeMap::new(),
        routed_to_review: Vec::new(),
        reasons: Vec::new(),
        problem: None,
    };
    if let Err((code, why)) = engine
        .swarm_delegation(settings.agent, settings.owner, info.draft_capability)
        .await
    {
        report.outcome = "denied".into();
        report.reasons = vec![code];
        report.problem = Some(format!(
            "{why}: swarm `{}` does not run without a live delegation from its owner (`brain swarm enroll {}`)",
            info.name, info.name
        ));
        return finish(engine, settings, report, options, started, clock).await;
    }
    let history = engine.store().snapshots(HISTORY).await?;
    if let Some(latest) = history.first() {
        report.snapshot_id = Some(latest.id.clone());
        report.snapshot_hash = Some(latest.content_hash.clone());
    }
    let devices = device_readings(engine).await?;
    let model = engine.policy().state_model.clone();
    let context = RunContext {
        now: started,
        model: &model,
        history: &history,
        devices: &devices,
        intake: &engine.policy().intake,
    };
    let mut collector =
        Collector::new(usize::try_from(settings.max_findings_per_rule).unwrap_or(20));
    for rule in report.rules.keys() {
        collector.rule(rule);
    }
    let wanted = swarm.collections();
    let agent = settings.agent;
    'sources: for source in sources {
        let mut allowed: BTreeMap<&'static str, bool> = BTreeMap::new();
        for collection in source.collections() {
            if !wanted.contains(&collection.as_str()) {
                continue;
            }
            let capability = capability_for(&collection);
            if !allowed.contains_key(capability) {
                let detail = serde_json::json!({
                    "swarm": info.name,
                    "run": report.run_id,
                    "source": source.name(),
                    "location": source.location(),
                });
                match engine.authorize_read(agent, capability, detail).await {
                    Ok(_) => {
                        allowed.insert(capability, true);
                    }
                    Err(EngineError::Denied(denial)) => {
                        report.outcome = "denied".into();
                        report.reasons = denial.reason_codes.clone();
                        report.problem = Some(format!(
                            "reading `{collection}` from {} is denied: {}",
                            source.name(),
                            denial.message
                        ));
                        break 'sources;
                    }
                    Err(other) => return Err(other),
                }
            }
            let name = source.name().to_string();
            let mut read = 0_u64;
            let mut each = |record: crate::snapshot::Record| {
                read += 1;
                let seen = Seen {
                    source: &name,
                    collection: &collection,
                    record: &record,
                };
                swarm.observe(&context, &seen, &mut collector);
            };
            let result = source.read(&collection, &mut each).await;
            report.records_read += read;
            if let Err(error) = result {
                // A partial view makes findings that are not true (an aging queue without its
                // oldest item): the run proposes nothing.
                report.outcome = "failed".into();
                report.problem = Some(format!(
                    "reading `{collection}` from {} failed: {error}",
                    source.name()
                ));
                break 'sources;
            }
        }
    }
    if report.outcome != "completed" {
        return finish(engine, settings, report, options, started, clock).await;
    }
    swarm.finish(&context, &mut collector);
    let routed = collector.take_routed();
    for (rule, hits) in collector.hits() {
        report.rules.entry(rule.clone()).or_default().hits = *hits;
    }
    for (rule, refused) in collector.refused() {
        report.rules.entry(rule.clone()).or_default().refused = *refused;
    }
    let caller = Caller {
        id: agent.to_string(),
        actor_type: crate::capability::ActorType::Agent,
        name: agent.trim_start_matches("agent:").to_string(),
    };
    let snapshot = serde_json::json!({
        "id": report.snapshot_id,
        "content_hash": report.snapshot_hash,
    });
    let mut stopped: Option<String> = None;
    for finding in collector.into_findings() {
        let cooldown = settings
            .rules
            .iter()
            .find(|(rule, _, _)| rule.id == finding.rule.id)
            .map_or(chrono::Duration::days(1), |(_, _, cooldown)| {
                super::chrono_of(*cooldown)
            });
        let tally = report.rules.entry(finding.rule.id.clone()).or_default();
        if let Some(reason) = &stopped {
            report.findings.push(Reported {
                finding,
                proposal_id: None,
                suppressed: false,
                note: Some(format!("not proposed: {reason}")),
            });
            continue;
        }
        if options.dry_run {
            let held = engine
                .swarm_throttle(info.name, &finding.rule.id, &finding.subject, cooldown)
                .await?;
            if held.is_some() {
                tally.suppressed += 1;
            }
            report.findings.push(Reported {
                suppressed: held.is_some(),
                note: Some(
                    held.map_or_else(|| "dry run: would be proposed".to_string(), |(_, why)| why),
                ),
                proposal_id: None,
                finding,
            });
            continue;
        }
        let mut input = serde_json::to_value(&finding).unwrap_or_default();
        if let Some(object) = input.as_object_mut() {
            object.insert("swarm".into(), serde_json::Value::from(info.name));
            object.insert(
                "run_id".into(),
                serde_json::Value::from(report.run_id.clone()),
            );
            object.insert("snapshot".into(), snapshot.clone());
        }
        let request = ProposeRequest {
            capability: info.draft_capability.to_string(),
            input,
            rationale: finding.rationale.clone(),
            idempotency_key: None,
            owner: Some(settings.owner.to_string()),
            draft: false,
            swarm: Some(SwarmProposal {
                swarm: info.name.to_string(),
                rule: finding.rule.id.clone(),
                rule_version: finding.rule.version,
                subject: finding.subject.clone(),
                severity: finding.severity.as_str().to_string(),
                confidence: finding.confidence,
                run_id: report.run_id.clone(),
                cooldown,
            }),
        };
        match engine.propose(&caller, &request).await {
            Ok(view) => {
                tally.emitted += 1;
                report.findings.push(Reported {
                    finding,
                    proposal_id: Some(view.proposal.id),
                    suppressed: false,
                    note: None,
                });
            }
            Err(EngineError::Suppressed { message, .. }) => {
                tally.suppressed += 1;
                report.findings.push(Reported {
                    finding,
                    proposal_id: None,
                    suppressed: true,
                    note: Some(message),
                });
            }
            Err(EngineError::Denied(denial)) => {
                report.outcome = "denied".into();
                report.reasons = denial.reason_codes.clone();
                report.problem = Some(denial.message.clone());
                stopped = Some(format!(
                    "proposing was denied ({})",
                    denial.reason_codes.join(", ")
                ));
                report.findings.push(Reported {
                    finding,
                    proposal_id: None,
                    suppressed: false,
                    note: Some(format!("denied: {}", denial.message)),
                });
            }
            Err(other) => return Err(other),
        }
    }
    if !options.dry_run && report.outcome == "completed" && !routed.is_empty() {
        engine.record_intakes(agent, &routed).await?;
    }
    report.routed_to_review = routed.iter().map(|record| record.subject.clone()).collect();
    finish(engine, settings, report, options, started, clock).await
}

/// Record the run's audited summary and complete the report.
async fn finish(
    engine: &Engine,
    settings: &SwarmSettings<'_>,
    mut report: RunReport,
    options: &RunOptions,
    started: DateTime<Utc>,
    clock: std::time::Instant,
) -> Result<RunReport, EngineError> {
    let finished = crate::clock::now();
    report.finished_at = crate::clock::format_time(finished);
    for reported in &report.findings {
        *report
            .summary
            .entry(reported.finding.rule.id.clone())
            .or_default()
            .entry(reported.finding.severity.as_str().to_string())
            .or_default() += 1;
    }
    report.seconds = clock.elapsed().as_secs_f64();
    let record = SwarmRunRecord {
        id: report.run_id.clone(),
        swarm: report.swarm.clone(),
        agent: settings.agent.to_string(),
        trigger: options.trigger.as_str().to_string(),
        requested_by: options.requested_by.clone(),
        dry_run: options.dry_run,
        started_at: crate::clock::format_time(started),
        finished_at: report.finished_at.clone(),
        outcome: report.outcome.clone(),
        snapshot_id: report.snapshot_id.clone(),
        records_read: i64::try_from(report.records_read).unwrap_or(i64::MAX),
        summary: serde_json::json!({
            "rules": report.rules,
            "reasons": report.reasons,
            "problem": report.problem,
            "seconds": report.seconds,
            "findings": report.findings.len(),
            "by_rule_and_severity": report.summary,
        }),
    };
    engine.record_swarm_run(&record).await?;
    Ok(report)
}

/// Each connector's latest readings, as the daemon's polling recorded them.
async fn device_readings(
    engine: &Engine,
) -> Result<BTreeMap<String, ConnectorDevices>, EngineError> {
    let mut devices = BTreeMap::new();
    for entry in engine
        .store()
        .kv_list(crate::snapshot::DEVICES_KV_PREFIX)
        .await?
    {
        let Some(id) = entry.key.strip_prefix(crate::snapshot::DEVICES_KV_PREFIX) else {
            continue;
        };
        if let Ok(readings) = serde_json::from_str::<ConnectorDevices>(&entry.value) {
            devices.insert(id.to_string(), readings);
        }
    }
    Ok(devices)
}

/// A swarm's standing, for `brain swarm list`, the cockpit and metrics.
#[derive(Debug, Clone, Serialize)]
pub struct SwarmStatus {
    pub name: String,
    pub title: String,
    pub agent: String,
    pub owner: String,
    /// The draft capability, then the read capabilities its rules need.
    pub capabilities: Vec<String>,
    pub enabled: bool,
    pub delegation_ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delegation: Option<crate::store::Delegation>,
    /// Why it cannot run, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    pub schedule: Option<crate::config::Schedule>,
    pub on_snapshot: bool,
    pub last_run: Option<SwarmRunRecord>,
}

/// The capabilities a swarm's delegation must cover: its draft capability and the read
/// capabilities of the collections it reads.
pub fn capabilities(settings: &SwarmSettings<'_>, swarm: &dyn Swarm) -> Vec<String> {
    let mut all = vec![settings.info.draft_capability.to_string()];
    for collection in swarm.collections() {
        let read = capability_for(collection).to_string();
        if !all.contains(&read) {
            all.push(read);
        }
    }
    all
}

/// The standing of every configured swarm.
pub async fn statuses(
    engine: &Engine,
    config: &LoadedConfig,
    files: &SwarmFiles,
) -> Result<Vec<SwarmStatus>, EngineError> {
    let mut all = Vec::new();
    for settings in config.config.swarms.each() {
        let Some(swarm) = build(config, &settings, files) else {
            continue;
        };
        let delegation = engine
            .swarm_delegation(
                settings.agent,
                settings.owner,
                settings.info.draft_capability,
            )
            .await;
        let last_run = engine
            .store()
            .swarm_runs(Some(settings.info.name), 1)
            .await?
            .into_iter()
            .next();
        let problem = match (&delegation, settings.enabled) {
            (_, false) => Some("disabled in brain.yaml (`enabled: false`)".to_string()),
            (Err((code, why)), true) => Some(format!(
                "{why} ({code}): it does not run until its owner delegates to it (`brain swarm enroll {}`)",
                settings.info.name
            )),
            (Ok(_), true) => None,
        };
        all.push(SwarmStatus {
            name: settings.info.name.to_string(),
            title: settings.info.title.to_string(),
            agent: settings.agent.to_string(),
            owner: settings.owner.to_string(),
            capabilities: capabilities(&settings, swarm.as_ref()),
            enabled: settings.enabled,
            delegation_ok: delegation.is_ok(),
            delegation: delegation.ok(),
            problem,
            schedule: settings.schedule.cloned(),
            on_snapshot: settings.on_snapshot,
            last_run,
        });
    }
    Ok(all)
}

/// What `brain serve` holds: one lock per swarm, so runs of one swarm never overlap; the
/// sources and templates runs read; the snapshot trigger; and counters for `/metrics`.
pub struct Runner {
    pub config: Arc<LoadedConfig>,
    pub sources: Vec<Arc<dyn Source>>,
    pub files: SwarmFiles,
    locks: BTreeMap<&'static str, tokio::sync::Mutex<()>>,
    /// Bumped after each snapshot the daemon records; swarms with `on_snapshot` wait on it.
    snapshots: tokio::sync::watch::Sender<u64>,
    /// Runs by swarm and outcome since start.
    runs: std::sync::Mutex<BTreeMap<(String, String), u64>>,
    /// Findings by swarm, rule and what became of them (emitted, suppressed, refused).
    findings: std::sync::Mutex<BTreeMap<(String, String, &'static str), u64>>,
}

impl Runner {
    pub fn new(
        config: Arc<LoadedConfig>,
        sources: Vec<Arc<dyn Source>>,
        files: SwarmFiles,
    ) -> Self {
        let locks = config
            .config
            .swarms
            .each()
            .iter()
            .map(|settings| (settings.info.name, tokio::sync::Mutex::new(())))
            .collect();
        Self {
            config,
            sources,
            files,
            locks,
            snapshots: tokio::sync::watch::channel(0).0,
            runs: std::sync::Mutex::default(),
            findings: std::sync::Mutex::default(),
        }
    }

    /// A snapshot was recorded: wake the swarms that run on each new snapshot.
    pub fn snapshot_recorded(&self) {
        self.snapshots.send_modify(|count| *count += 1);
    }

    /// Wait on new snapshots.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.snapshots.subscribe()
    }

    /// Run swarm `name` unless a run of it is under way (then `None`: the runs never overlap).
    pub async fn run(
        &self,
        engine: &Engine,
        name: &str,
        options: &RunOptions,
    ) -> Option<Result<RunReport, EngineError>> {
        let lock = self.locks.get(name)?;
        let Ok(_running) = lock.try_lock() else {
            tracing::info!(
                swarm = name,
                "a run of this swarm is under way: this one is skipped"
            );
            return None;
        };
        let settings = self.config.config.swarms.get(name)?;
        if !settings.enabled {
            return None;
        }
        let swarm = build(&self.config, &settings, &self.files)?;
        let result = run(engine, &settings, swarm, &self.sources, options).await;
        if let Ok(report) = &result {
            self.count(report);
        }
        Some(result)
    }

    fn count(&self, report: &RunReport) {
        if let Ok(mut runs) = self.runs.lock() {
            *runs
                .entry((report.swarm.clone(), report.outcome.clone()))
                .or_default() += 1;
        }
        if let Ok(mut findings) = self.findings.lock() {
            for (rule, tally) in &report.rules {
                for (result, count) in [
                    ("emitted", tally.emitted),
                    ("suppressed", tally.suppressed),
                    ("refused", tally.refused),
                ] {
                    *findings
                        .entry((report.swarm.clone(), rule.clone(), result))
                        .or_default() += count;
                }
            }
        }
    }

    /// The swarms' metrics in Prometheus text: runs and findings since start, and, read now,
    /// whether each swarm's delegation is live and each rule's acceptance rate.
    pub async fn render_metrics(&self, engine: &Engine, text: &mut String) {
        use std::fmt::Write as _;
        if self.locks.is_empty() {
            return;
        }
        let _ = writeln!(
            text,
            "# HELP brain_swarm_runs_total Swarm runs since start, by outcome."
        );
        let _ = writeln!(text, "# TYPE brain_swarm_runs_total counter");
        if let Ok(runs) = self.runs.lock() {
            for ((swarm, outcome), count) in runs.iter() {
                let _ = writeln!(
                    text,
                    "brain_swarm_runs_total{{swarm=\"{swarm}\",outcome=\"{outcome}\"}} {count}"
                );
            }
        }
        let _ = writeln!(
            text,
            "# HELP brain_swarm_findings_total Swarm findings since start, by rule and what became of them."
        );
        let _ = writeln!(text, "# TYPE brain_swarm_findings_total counter");
        if let Ok(findings) = self.findings.lock() {
            for ((swarm, rule, result), count) in findings.iter() {
                let _ = writeln!(
                    text,
                    "brain_swarm_findings_total{{swarm=\"{swarm}\",rule=\"{rule}\",result=\"{result}\"}} {count}"
                );
            }
        }
        let _ = writeln!(
            text,
            "# HELP brain_swarm_delegation_ok 1 when the swarm holds a live delegation from its owner and may run."
        );
        let _ = writeln!(text, "# TYPE brain_swarm_delegation_ok gauge");
        for settings in self.config.config.swarms.each() {
            let ok = settings.enabled
                && engine
                    .swarm_delegation(
                        settings.agent,
                        settings.owner,
                        settings.info.draft_capability,
                    )
                    .await
                    .is_ok();
            let _ = writeln!(
                text,
                "brain_swarm_delegation_ok{{swarm=\"{}\"}} {}",
                settings.info.name,
                u8::from(ok)
            );
        }
        let drafts = engine
            .store()
            .swarm_drafts(&crate::store::SwarmDraftFilter {
                limit: 2_000,
                ..Default::default()
            })
            .await
            .unwrap_or_default();
        let _ = writeln!(
            text,
            "# HELP brain_swarm_acceptance_ratio Accepted drafts over decided ones (accepted, rejected, expired), per rule, over the last 2,000 drafts."
        );
        let _ = writeln!(text, "# TYPE brain_swarm_acceptance_ratio gauge");
        for disposition in crate::engine::swarms::dispositions(&drafts) {
            if let Some(rate) = disposition.acceptance_rate {
                let _ = writeln!(
                    text,
                    "brain_swarm_acceptance_ratio{{swarm=\"{}\",rule=\"{}\"}} {rate}",
                    disposition.swarm, disposition.rule
                );
            }
        }
    }
}
