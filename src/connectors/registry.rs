//! The registered connector kinds and how each is built, from `brain.yaml` or for the contract
//! harness. A kind exists for brain only through [`KINDS`]; the harness test runs every entry,
//! so a kind cannot be registered without passing the contract suite.
//!
//! `firestore` is not here: it is a cloud write target with its own client (`cloud::firestore`),
//! not a polled device.

use std::sync::Arc;
use std::time::Duration;

use super::guard::{BreakerPolicy, Guarded};
use super::homeassistant::{self, HaBridge};
use super::http::{Allowlist, Credential, HttpTransport, RequestPolicy};
use super::hubitat::{self, Hubitat};
use super::roborock::Roborock;
use super::sim::{SimKind, Simulator};
use super::{ConnectorClass, ConnectorError, Device};
use crate::config::secret::Secret;
use crate::config::{ConnectorConfig, ConnectorKind};

/// One registered kind.
pub struct KindSpec {
    pub kind: ConnectorKind,
    pub class: ConnectorClass,
    /// The simulator that speaks this kind's device API (tests, demo, harness).
    pub simulator: SimKind,
    /// The read paths its HTTP layer may call.
    pub allowlist: Allowlist,
    pub breaker: fn() -> BreakerPolicy,
    /// The read capability `brain init` scaffolds for a connector of this kind (its manifest
    /// targets a connector whose id is the kind's name).
    pub read_capability: &'static str,
}

/// Every kind brain can poll.
pub static KINDS: &[KindSpec] = &[
    KindSpec {
        kind: ConnectorKind::Hubitat,
        class: ConnectorClass::Physical,
        simulator: SimKind::Hubitat,
        allowlist: hubitat::ALLOWLIST,
        breaker: BreakerPolicy::default,
        read_capability: "hubitat.devices.read",
    },
    KindSpec {
        kind: ConnectorKind::Roborock,
        class: ConnectorClass::Physical,
        simulator: SimKind::HomeAssistant,
        allowlist: homeassistant::ALLOWLIST,
        breaker: BreakerPolicy::default,
        read_capability: "roborock.status.read",
    },
];

pub fn spec(kind: ConnectorKind) -> Option<&'static KindSpec> {
    KINDS.iter().find(|spec| spec.kind == kind)
}

/// Everything needed to build one connector, resolved.
#[derive(Clone)]
pub struct Settings {
    pub id: String,
    pub kind: ConnectorKind,
    /// `http(s)://HOST[:PORT]` of the hub or of Home Assistant.
    pub base_url: String,
    /// Hubitat's Maker API app id.
    pub app_id: Option<String>,
    pub token: Secret,
    pub timeout: Duration,
    pub poll_interval: Duration,
    pub stale_after: Duration,
    pub request: RequestPolicy,
    pub breaker: BreakerPolicy,
    /// What to display as the location, when not the base URL (a simulator).
    pub display: Option<String>,
}

impl Settings {
    /// Settings for `config`, with `base_url`, `app_id` and `token` from `simulator` when the
    /// config asks for one (`sim://...`).
    pub fn from_config(
        config: &ConnectorConfig,
        simulator: Option<&Simulator>,
    ) -> Result<Self, String> {
        let spec = spec(config.kind).ok_or_else(|| {
            format!(
                "`{}` connectors are not polled devices",
                config.kind.as_str()
            )
        })?;
        let (base_url, app_id, token, display) = match simulator {
            Some(simulator) => (
                simulator.host_url(),
                Some(simulator.app_id().to_string()),
                simulator.token(),
                Some(format!(
                    "sim://{} (simulator on {})",
                    simulator.kind().as_str(),
                    simulator.address()
                )),
            ),
            None => (
                config
                    .base_url
                    .clone()
                    .ok_or_else(|| format!("connector `{}` has no `base_url`", config.id))?,
                config.app_id.clone(),
                config
                    .token
                    .as_ref()
                    .and_then(|token| token.value())
                    .cloned()
                    .ok_or_else(|| format!("connector `{}` has no resolved `token`", config.id))?,
                None,
            ),
        };
        let poll_interval = config.poll_interval.0;
        Ok(Self {
            id: config.id.clone(),
            kind: config.kind,
            base_url,
            app_id,
            token,
            timeout: config.timeout.0,
            poll_interval,
            stale_after: config
                .stale_after
                .map_or_else(|| default_stale_after(poll_interval), |duration| duration.0),
            request: RequestPolicy::new(
                config.timeout.0,
                config
                    .request_budget
                    .unwrap_or(config.kind.default_request_budget()),
            ),
            breaker: (spec.breaker)(),
            display,
        })
    }
}

/// Data unchanged for ten poll intervals (at least five minutes) is stale.
pub fn default_stale_after(poll_interval: Duration) -> Duration {
    poll_interval
        .saturating_mul(10)
        .max(Duration::from_secs(300))
}

/// Build the connector `settings` describe.
pub fn build(settings: &Settings) -> Result<Guarded, ConnectorError> {
    build_wrapped(settings, |device| device)
}

/// [`build`], with the device client passed through `wrap` before the shared policy is put
/// around it (the harness's own tests wrap it in deliberately broken clients).
pub fn build_wrapped(
    settings: &Settings,
    wrap: fn(Box<dyn Device>) -> Box<dyn Device>,
) -> Result<Guarded, ConnectorError> {
    let Some(spec) = spec(settings.kind) else {
        return Err(ConnectorError::new(
            super::ErrorKind::BadResponse,
            format!(
                "`{}` is not a registered connector kind",
                settings.kind.as_str()
            ),
        ));
    };
    let base = settings.base_url.trim_end_matches('/');
    let device: Box<dyn Device> = match settings.kind {
        ConnectorKind::Hubitat => {
            let app_id = settings.app_id.as_deref().unwrap_or_default();
            let api = format!("{base}/apps/api/{app_id}");
            let http = HttpTransport::new(
                &api,
                Credential::QueryToken(settings.token.clone()),
                spec.allowlist,
                settings.request.clone(),
            )?;
            let location = settings.display.clone().unwrap_or(api);
            Box::new(Hubitat::new(http, location))
        }
        ConnectorKind::Roborock => {
            let http = HttpTransport::new(
                base,
                Credential::Bearer(settings.token.clone()),
                spec.allowlist,
                settings.request.clone(),
            )?;
            Box::new(Roborock::new(Box::new(LocatedBridge {
                bridge: HaBridge::new(http),
                display: settings.display.clone(),
            })))
        }
        ConnectorKind::Firestore => not_a_device()?,
    };
    let device = wrap(device);
    let counters = device_counters(device.as_ref());
    Ok(Guarded::new(
        &settings.id,
        device,
        counters,
        settings.breaker.clone(),
        settings.stale_after,
    ))
}

fn not_a_device() -> Result<Box<dyn Device>, ConnectorError> {
    Err(ConnectorError::new(
        super::ErrorKind::BadResponse,
        "`firestore` is a write target, not a polled device",
    ))
}

/// The HTTP counters the device's transport counts into.
fn device_counters(device: &dyn Device) -> Arc<super::http::Counters> {
    device.counters()
}

/// The bridge with the location to display (a simulator's, when it is one).
struct LocatedBridge {
    bridge: HaBridge,
    display: Option<String>,
}

#[async_trait::async_trait]
impl super::roborock::RoborockTransport for LocatedBridge {
    fn name(&self) -> &'static str {
        self.bridge.name()
    }

    fn location(&self) -> String {
        self.display
            .clone()
            .unwrap_or_else(|| self.bridge.location())
    }

    async fn health(&self) -> Result<(), ConnectorError> {
        self.bridge.health().await
    }

    async fn vacuums(&self) -> Result<super::roborock::VacuumBatch, ConnectorError> {
        self.bridge.vacuums().await
    }

    fn counters(&self) -> Arc<super::http::Counters> {
        self.bridge.counters()
    }
}
