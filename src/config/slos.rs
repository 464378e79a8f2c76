//! `slos:` in brain.yaml: the studio's service-level objectives (what the scorecard measures,
//! its thresholds, who owns each and how to reach them), and their checks.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Check, Config, Duration, SecretRef};
use crate::capability::RiskTier;
use crate::diagnostic::Finding;
use crate::scorecard::{Indicator, Objective};

/// The service-level objectives `brain scorecard` reports and `brain serve` alerts on.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlosConfig {
    /// The objectives. Left out, brain uses its defaults (`brain config check` prints them).
    #[serde(default = "default_objectives")]
    pub objectives: Vec<SloConfig>,
    /// brain's daemon counts as down when its heartbeat (written every minute) is older than
    /// this and it did not start again. Defaults to 5 minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_gap: Option<Duration>,
    /// How often `brain serve` evaluates the objectives and alerts on changes.
    #[serde(default = "default_evaluate_every")]
    pub evaluate_every: Duration,
    /// The rolling window `brain serve` evaluates over (ending at each evaluation).
    #[serde(default = "default_alert_window")]
    pub alert_window: Duration,
    /// A breach that stays open is notified again after this long (repeats are throttled).
    #[serde(default = "default_repeat_after")]
    pub repeat_after: Duration,
    /// Where links in notifications point: the console's address as people reach it.
    /// Defaults to `http://` and the `server.listen` address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_url: Option<String>,
    /// Generic JSON webhooks each breach, recovery and reminder is posted to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookConfig>,
}

impl Default for SlosConfig {
    fn default() -> Self {
        Self {
            objectives: default_objectives(),
            heartbeat_gap: None,
            evaluate_every: default_evaluate_every(),
            alert_window: default_alert_window(),
            repeat_after: default_repeat_after(),
            console_url: None,
            webhooks: Vec::new(),
        }
    }
}

fn default_evaluate_every() -> Duration {
    Duration::from_secs(5 * 60)
}

fn default_alert_window() -> Duration {
    Duration::from_secs(86_400)
}

fn default_repeat_after() -> Duration {
    Duration::from_secs(6 * 3600)
}

/// A webhook: brain POSTs one JSON document per notification (ids, values and hashes only,
/// never personal data), retries, and keeps a dead-letter record when every attempt failed.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Names the sink in metrics and dead-letter records.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9-]{0,62}$"))]
    pub id: String,
    /// `http://` or `https://` address to POST to, read like any secret (`{ env: NAME }` or
    /// `{ file: PATH }`): a webhook address often carries its token.
    pub url: SecretRef,
    /// How long one attempt may take.
    #[serde(default = "default_webhook_timeout")]
    pub timeout: Duration,
    /// Attempts before the notification goes to the dead-letter records (1 to 10).
    #[serde(default = "default_webhook_attempts")]
    #[schemars(range(min = 1, max = 10))]
    pub attempts: u32,
}

fn default_webhook_timeout() -> Duration {
    Duration::from_secs(5)
}

fn default_webhook_attempts() -> u32 {
    3
}

/// One objective.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SloConfig {
    /// A stable id (lowercase letters, digits and `-`), used in alerts, metrics and the
    /// audit log.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9-]{0,62}$"))]
    pub id: String,
    /// What it measures; the indicator fixes the unit (percent, hours, minutes, count) and
    /// whether higher is better.
    pub indicator: Indicator,
    /// How people read it; defaults to the indicator's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The objective, in the indicator's unit.
    pub target: f64,
    /// A value past this is a warning; defaults to `target`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<f64>,
    /// A value past this is critical.
    pub critical: f64,
    /// Who answers for it (`staff:NAME`, or a team's name).
    pub owner: String,
    /// How to reach whoever is on call, and what to do first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_call: Option<String>,
    /// Review indicators: only capabilities of this risk tier (every tier when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_tier: Option<RiskTier>,
    /// Connector indicators: only this connector (the worst one when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector: Option<String>,
    /// `swarm_acceptance`: only this swarm (every swarm when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<String>,
}

impl SloConfig {
    /// The objective the scorecard computes.
    pub fn objective(&self) -> Objective {
        Objective {
            id: self.id.clone(),
            title: self
                .title
                .clone()
                .unwrap_or_else(|| self.indicator.default_title().to_string()),
            indicator: self.indicator,
            target: self.target,
            warning: self.warning.unwrap_or(self.target),
            critical: self.critical,
            owner: self.owner.clone(),
            on_call: self.on_call.clone(),
            risk_tier: self.risk_tier,
            connector: self.connector.clone(),
            swarm: self.swarm.clone(),
        }
    }
}

fn slo(
    id: &str,
    indicator: Indicator,
    target: f64,
    critical: f64,
    risk_tier: Option<RiskTier>,
) -> SloConfig {
    SloConfig {
        id: id.into(),
        indicator,
        title: None,
        target,
        warning: None,
        critical,
        owner: "staff:admin".into(),
        on_call: None,
        risk_tier,
        connector: None,
        swarm: None,
    }
}

/// The objectives of a studio that declares none.
pub fn default_objectives() -> Vec<SloConfig> {
    vec![
        slo(
            "snapshot-freshness",
            Indicator::SnapshotFreshness,
            95.0,
            90.0,
            None,
        ),
        slo(
            "review-median-low",
            Indicator::ReviewMedian,
            4.0,
            8.0,
            Some(RiskTier::Low),
        ),
        slo(
            "review-p90-high",
            Indicator::ReviewP90,
            24.0,
            48.0,
            Some(RiskTier::High),
        ),
        slo(
            "audit-completeness",
            Indicator::AuditCompleteness,
            100.0,
            100.0,
            None,
        ),
        slo(
            "connector-availability",
            Indicator::ConnectorAvailability,
            99.0,
            95.0,
            None,
        ),
        slo(
            "connector-mttr",
            Indicator::ConnectorMttr,
            60.0,
            240.0,
            None,
        ),
        slo(
            "swarm-acceptance",
            Indicator::SwarmAcceptance,
            30.0,
            10.0,
            None,
        ),
        slo("brain-uptime", Indicator::BrainUptime, 99.0, 95.0, None),
        slo(
            "cloud-writes-while-down",
            Indicator::CloudWritesDuringDowntime,
            0.0,
            0.0,
            None,
        ),
    ]
}

impl SlosConfig {
    /// The objectives the scorecard computes, in the order written.
    pub fn objectives(&self) -> Vec<Objective> {
        self.objectives.iter().map(SloConfig::objective).collect()
    }

    /// How the scorecard reads time, given the rest of the config.
    pub fn settings(&self, config: &Config) -> crate::scorecard::Settings {
        let snapshot = &config.schedules.snapshot;
        let snapshot_every = snapshot
            .every
            .map_or(86_400, |every| {
                i64::try_from(every.as_secs()).unwrap_or(86_400)
            })
            .max(1);
        let snapshot_jitter = i64::try_from(snapshot.jitter.as_secs()).unwrap_or(0);
        crate::scorecard::Settings {
            snapshot_every,
            snapshot_jitter,
            heartbeat_gap: self.heartbeat_gap_seconds(),
            ..crate::scorecard::Settings::default()
        }
    }

    /// The heartbeat gap in seconds.
    pub fn heartbeat_gap_seconds(&self) -> i64 {
        self.heartbeat_gap.map_or(300, |gap| {
            i64::try_from(gap.as_secs()).unwrap_or(i64::MAX / 4)
        })
    }
}

impl Check<'_> {
    pub(super) fn check_slos(&self, config: &Config, findings: &mut Vec<Finding>) {
        let mut ids = BTreeSet::new();
        for (index, slo) in config.slos.objectives.iter().enumerate() {
            let pointer = format!("/slos/objectives/{index}");
            if self.already_reported(&pointer) {
                continue;
            }
            if !ids.insert(slo.id.as_str()) {
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::slo",
                            format!("two objectives have the id `{}`", slo.id),
                        ),
                        &format!("{pointer}/id"),
                        "used before",
                    )
                    .with_help(
                        "give each objective its own id: alerts and metrics are keyed by it",
                    ),
                );
            }
            let unit = slo.indicator.unit();
            let warning = slo.warning.unwrap_or(slo.target);
            for (field, value) in [
                ("target", Some(slo.target)),
                ("warning", slo.warning),
                ("critical", Some(slo.critical)),
            ] {
                let Some(value) = value else { continue };
                let out_of_range =
                    !value.is_finite() || value < 0.0 || (unit == "percent" && value > 100.0);
                if out_of_range {
                    findings.push(
                        self.at_value(
                            Finding::error(
                                "config::slo",
                                format!(
                                    "objective `{}` has {field} `{value}`, which is not a {} value",
                                    slo.id,
                                    if unit == "percent" {
                                        "percent (0 to 100)"
                                    } else {
                                        unit
                                    }
                                ),
                            ),
                            &format!("{pointer}/{field}"),
                            format!("in {unit}").as_str(),
                        )
                        .with_help(format!(
                            "`{}` is measured in {unit}: write a number{}",
                            slo.indicator.as_str(),
                            if unit == "percent" {
                                " from 0 to 100"
                            } else {
                                " of zero or more"
                            }
                        )),
                    );
                }
            }
            let higher = slo.indicator.higher_is_better();
            let inverted = if higher {
                slo.critical > warning
            } else {
                slo.critical < warning
            };
            if inverted {
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::slo",
                            format!(
                                "objective `{}` is critical at `{}` before it warns at `{warning}`",
                                slo.id, slo.critical
                            ),
                        ),
                        &format!("{pointer}/critical"),
                        if higher {
                            "must be at most the warning threshold"
                        } else {
                            "must be at least the warning threshold"
                        },
                    )
                    .with_help(format!(
                        "for `{}` {} is better, so `critical` is {} than `warning`",
                        slo.indicator.as_str(),
                        if higher { "higher" } else { "lower" },
                        if higher { "lower" } else { "higher" }
                    )),
                );
            }
            // Any external write without its capability, approval state and outcome in the
            // audit log is critical: a studio may not lower that bar.
            if slo.indicator == Indicator::AuditCompleteness && slo.critical < 100.0 {
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::slo",
                            format!(
                                "objective `{}` is critical only below `{}`%, but any gap in the audit of an external write is critical",
                                slo.id, slo.critical
                            ),
                        ),
                        &format!("{pointer}/critical"),
                        "must be 100",
                    )
                    .with_help(
                        "write `critical: 100`: a write whose audit events do not link its capability, approval state and outcome is critical whatever the share",
                    ),
                );
            }
            if slo.owner.trim().is_empty() {
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::slo",
                            format!("objective `{}` has no owner", slo.id),
                        ),
                        &format!("{pointer}/owner"),
                        "empty",
                    )
                    .with_help("name who answers for it, such as `staff:admin`"),
                );
            }
            let applies = |field: &str| match field {
                "risk_tier" => matches!(
                    slo.indicator,
                    Indicator::ReviewMedian | Indicator::ReviewP90
                ),
                "connector" => matches!(
                    slo.indicator,
                    Indicator::ConnectorAvailability | Indicator::ConnectorMttr
                ),
                _ => slo.indicator == Indicator::SwarmAcceptance,
            };
            for (field, set) in [
                ("risk_tier", slo.risk_tier.is_some()),
                ("connector", slo.connector.is_some()),
                ("swarm", slo.swarm.is_some()),
            ] {
                if set && !applies(field) {
                    findings.push(
                        self.at_key(
                            Finding::error(
                                "config::slo",
                                format!(
                                    "objective `{}` measures `{}`, which has no `{field}`",
                                    slo.id,
                                    slo.indicator.as_str()
                                ),
                            ),
                            &format!("{pointer}/{field}"),
                            "not used by this indicator",
                        )
                        .with_help(format!(
                            "remove `{field}`, or pick an indicator that uses it"
                        )),
                    );
                }
            }
            if let Some(connector) = &slo.connector
                && !config.connectors.iter().any(|known| &known.id == connector)
            {
                let known: Vec<String> = config
                    .connectors
                    .iter()
                    .map(|known| format!("`{}`", known.id))
                    .collect();
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::slo",
                            format!(
                                "objective `{}` watches connector `{connector}`, which is not configured",
                                slo.id
                            ),
                        ),
                        &format!("{pointer}/connector"),
                        "unknown connector",
                    )
                    .with_help(if known.is_empty() {
                        "no connectors are configured: remove `connector`".to_string()
                    } else {
                        format!("use one of {}", known.join(", "))
                    }),
                );
            }
            if let Some(swarm) = &slo.swarm
                && crate::swarms::SWARMS
                    .iter()
                    .all(|known| known.name != swarm)
            {
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::slo",
                            format!(
                                "objective `{}` counts swarm `{swarm}`, which does not exist",
                                slo.id
                            ),
                        ),
                        &format!("{pointer}/swarm"),
                        "unknown swarm",
                    )
                    .with_help(format!(
                        "use one of {}",
                        crate::swarms::SWARMS
                            .iter()
                            .map(|known| format!("`{}`", known.name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                );
            }
        }
        for (field, duration, least) in [
            ("evaluate_every", config.slos.evaluate_every, 1),
            ("alert_window", config.slos.alert_window, 10),
            ("repeat_after", config.slos.repeat_after, 1),
        ] {
            let pointer = format!("/slos/{field}");
            if duration.as_secs() < least && !self.already_reported(&pointer) {
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::slo",
                            format!("`slos.{field}` of `{duration}` is too short"),
                        ),
                        &pointer,
                        "too short",
                    )
                    .with_help(format!("use at least `{least}s`")),
                );
            }
        }
        if let Some(url) = &config.slos.console_url
            && !is_http_url(url)
            && !self.already_reported("/slos/console_url")
        {
            findings.push(
                self.at_value(
                    Finding::error(
                        "config::slo",
                        format!("`{url}` is not an http(s) address"),
                    ),
                    "/slos/console_url",
                    "not http(s)",
                )
                .with_help("write the console's address as people reach it, such as `http://studio.local:8787`"),
            );
        }
        let mut sinks = BTreeSet::new();
        for (index, webhook) in config.slos.webhooks.iter().enumerate() {
            let pointer = format!("/slos/webhooks/{index}");
            if self.already_reported(&pointer) {
                continue;
            }
            if !sinks.insert(webhook.id.as_str()) {
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::slo",
                            format!("two webhooks have the id `{}`", webhook.id),
                        ),
                        &format!("{pointer}/id"),
                        "used before",
                    )
                    .with_help("give each webhook its own id"),
                );
            }
            // Unresolved, its problem is reported already; never print the address itself.
            if let Some(url) = webhook.url.value()
                && !is_http_url(url.expose())
            {
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::slo",
                            format!(
                                "webhook `{}` has an address that is not http(s)",
                                webhook.id
                            ),
                        ),
                        &format!("{pointer}/url"),
                        "read from here",
                    )
                    .with_help("the secret's value must be an address such as `https://alerts.example.com/brain`"),
                );
            }
            if webhook.timeout.as_std().is_zero() {
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::slo",
                            format!("webhook `{}` has a zero timeout", webhook.id),
                        ),
                        &format!("{pointer}/timeout"),
                        "zero",
                    )
                    .with_help("use a timeout such as `5s`"),
                );
            }
        }
        if let Some(gap) = config.slos.heartbeat_gap
            && gap.as_secs() < 60
            && !self.already_reported("/slos/heartbeat_gap")
        {
            findings.push(
                self.at_value(
                    Finding::error(
                        "config::slo",
                        format!("a heartbeat gap of `{gap}` would call brain down between its own heartbeats"),
                    ),
                    "/slos/heartbeat_gap",
                    "too short",
                )
                .with_help("the daemon writes a heartbeat every minute: use at least `1m`, `5m` is safest"),
            );
        }
    }
}

/// `http://host...` or `https://host...` with a host.
fn is_http_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"));
    rest.is_some_and(|rest| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty() && !host.contains(char::is_whitespace)
    })
}
