//! Roborock vacuums, read-only, through a [`RoborockTransport`]. The first transport is the Home
//! Assistant bridge ([`super::homeassistant::HaBridge`]); a native local-protocol transport (V1
//! TCP on port 58867) can implement the same trait later without touching the rest.
//!
//! A vacuum's status is normalised into [`VacuumStatus`]: state with its name, battery, clean
//! time (seconds), clean area (m²), error code with its name, fan power, dock state and
//! consumables (seconds left). Codes and names follow python-roborock's tables.
//!
//! Architecture Invariant: no transport polls Roborock's cloud (it bans IPs and accounts for
//! hours to days), and none has a method that sends a command.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Attribute, ConnectorClass, ConnectorError, Device, DeviceReading, Readings};
use crate::config::ConnectorKind;

/// Consumables, in seconds of life left.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Consumables {
    pub main_brush_left_s: Option<i64>,
    pub side_brush_left_s: Option<i64>,
    pub filter_left_s: Option<i64>,
    pub sensor_left_s: Option<i64>,
}

/// One vacuum's status, whichever transport read it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct VacuumStatus {
    pub id: String,
    pub name: String,
    pub online: bool,
    pub state_code: Option<i64>,
    pub state_name: Option<String>,
    pub battery_pct: Option<f64>,
    pub clean_time_s: Option<i64>,
    pub clean_area_m2: Option<f64>,
    pub error_code: Option<i64>,
    pub error_name: Option<String>,
    pub fan_power: Option<i64>,
    pub fan_power_name: Option<String>,
    /// `unknown`, `idle`, `returning`, `charging`, `full` or `dusting`, derived from state and battery.
    pub dock_state: String,
    pub consumables: Consumables,
    /// When the device last reported, as the transport wrote it.
    pub observed_at: Option<String>,
    /// `ha_bridge` (later `local_v1`).
    pub source: String,
}

/// What one read of every vacuum produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VacuumBatch {
    pub vacuums: Vec<VacuumStatus>,
    /// Entities or codes that could not be read (counted, named).
    pub unparseable: Vec<String>,
}

/// How vacuum status is read. Implementations make reads only.
#[async_trait]
pub trait RoborockTransport: Send + Sync {
    /// `ha_bridge`, `local_v1`, ...
    fn name(&self) -> &'static str;
    fn location(&self) -> String;
    async fn health(&self) -> Result<(), ConnectorError>;
    async fn vacuums(&self) -> Result<VacuumBatch, ConnectorError>;
    /// The request and error counts of its transport.
    fn counters(&self) -> std::sync::Arc<super::http::Counters>;
}

/// The Roborock connector over one transport.
pub struct Roborock {
    transport: Box<dyn RoborockTransport>,
}

impl Roborock {
    pub fn new(transport: Box<dyn RoborockTransport>) -> Self {
        Self { transport }
    }
}

#[async_trait]
impl Device for Roborock {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Roborock
    }

    fn class(&self) -> ConnectorClass {
        ConnectorClass::Physical
    }

    fn location(&self) -> String {
        format!("{} ({})", self.transport.location(), self.transport.name())
    }

    fn counters(&self) -> std::sync::Arc<super::http::Counters> {
        self.transport.counters()
    }

    async fn health_check(&self) -> Result<(), ConnectorError> {
        self.transport.health().await
    }

    async fn poll(&self) -> Result<Readings, ConnectorError> {
        let batch = self.transport.vacuums().await?;
        let mut readings = Readings::default();
        for problem in batch.unparseable {
            readings.skip(problem);
        }
        for vacuum in batch.vacuums {
            readings.devices.push(reading_of(&vacuum));
        }
        Ok(readings)
    }
}

/// A vacuum as a device reading.
pub fn reading_of(vacuum: &VacuumStatus) -> DeviceReading {
    let mut attributes = std::collections::BTreeMap::new();
    let mut put = |name: &str, value: Option<Value>, unit: Option<&str>| {
        if let Some(value) = value {
            attributes.insert(
                name.to_string(),
                Attribute {
                    value,
                    data_type: None,
                    unit: unit.map(str::to_string),
                },
            );
        }
    };
    put("online", Some(Value::Bool(vacuum.online)), None);
    put("state", vacuum.state_name.clone().map(Value::String), None);
    put("state_code", vacuum.state_code.map(Value::from), None);
    put("battery", vacuum.battery_pct.map(Value::from), Some("%"));
    put(
        "clean_time",
        vacuum.clean_time_s.map(Value::from),
        Some("s"),
    );
    put(
        "clean_area",
        vacuum.clean_area_m2.map(Value::from),
        Some("m²"),
    );
    put("error_code", vacuum.error_code.map(Value::from), None);
    put("error", vacuum.error_name.clone().map(Value::String), None);
    put("fan_power", vacuum.fan_power.map(Value::from), None);
    put(
        "fan_power_name",
        vacuum.fan_power_name.clone().map(Value::String),
        None,
    );
    put(
        "dock_state",
        Some(Value::String(vacuum.dock_state.clone())),
        None,
    );
    let consumables = &vacuum.consumables;
    put(
        "main_brush_left",
        consumables.main_brush_left_s.map(Value::from),
        Some("s"),
    );
    put(
        "side_brush_left",
        consumables.side_brush_left_s.map(Value::from),
        Some("s"),
    );
    put(
        "filter_left",
        consumables.filter_left_s.map(Value::from),
        Some("s"),
    );
    put(
        "sensor_left",
        consumables.sensor_left_s.map(Value::from),
        Some("s"),
    );
    DeviceReading {
        id: vacuum.id.clone(),
        label: vacuum.name.clone(),
        device_type: "vacuum".into(),
        room: None,
        attributes,
        capabilities: Vec::new(),
        reported_at: vacuum.observed_at.clone(),
    }
}

/// Roborock state codes and their names (`RoborockStateCode`).
pub const STATES: &[(i64, &str)] = &[
    (0, "unknown"),
    (1, "starting"),
    (2, "charger_disconnected"),
    (3, "idle"),
    (4, "remote_control_active"),
    (5, "cleaning"),
    (6, "returning_home"),
    (7, "manual_mode"),
    (8, "charging"),
    (9, "charging_problem"),
    (10, "paused"),
    (11, "spot_cleaning"),
    (12, "error"),
    (13, "shutting_down"),
    (14, "updating"),
    (15, "docking"),
    (16, "going_to_target"),
    (17, "zoned_cleaning"),
    (18, "segment_cleaning"),
    (22, "emptying_the_bin"),
    (23, "washing_the_mop"),
    (26, "going_to_wash_the_mop"),
    (28, "in_call"),
    (29, "mapping"),
    (30, "egg_attack"),
    (32, "patrol"),
    (33, "attaching_the_mop"),
    (34, "detaching_the_mop"),
    (100, "charging_complete"),
    (101, "device_offline"),
    (103, "locked"),
    (202, "air_drying_stopping"),
];

/// Roborock error codes and their names (`RoborockErrorCode`, the common ones).
pub const ERRORS: &[(i64, &str)] = &[
    (0, "none"),
    (1, "lidar_blocked"),
    (2, "bumper_stuck"),
    (3, "wheels_suspended"),
    (4, "cliff_sensor_error"),
    (5, "main_brush_jammed"),
    (6, "side_brush_jammed"),
    (7, "wheels_jammed"),
    (8, "robot_trapped"),
    (9, "no_dustbin"),
    (12, "low_battery"),
    (13, "charging_error"),
    (14, "battery_error"),
    (18, "fan_error"),
    (19, "dock"),
    (23, "return_to_dock_fail"),
    (29, "filter_blocked"),
    (38, "clear_water_box_hoare"),
    (39, "dirty_water_box_hoare"),
];

/// Fan power codes of the V2 family and their names.
pub const FAN_POWERS: &[(i64, &str)] = &[
    (101, "quiet"),
    (102, "balanced"),
    (103, "turbo"),
    (104, "max"),
    (105, "gentle"),
    (106, "auto"),
];

pub fn name_of(table: &[(i64, &'static str)], code: i64) -> Option<&'static str> {
    table
        .iter()
        .find(|(candidate, _)| *candidate == code)
        .map(|(_, name)| *name)
}

pub fn code_of(table: &[(i64, &str)], name: &str) -> Option<i64> {
    let wanted = name.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    table
        .iter()
        .find(|(_, candidate)| *candidate == wanted)
        .map(|(code, _)| *code)
}

/// The dock state python-roborock derives from the state code and battery.
pub fn dock_state(state_code: Option<i64>, battery: Option<f64>) -> &'static str {
    match state_code {
        Some(8) if battery.is_some_and(|battery| battery >= 100.0) => "full",
        Some(8) => "charging",
        Some(100) => "full",
        Some(6 | 15) => "returning",
        Some(22) => "dusting",
        Some(3 | 10 | 5 | 11 | 17 | 18 | 16 | 29) => "idle",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        assert_eq!(name_of(STATES, 8), Some("charging"));
        assert_eq!(code_of(STATES, "Segment cleaning"), Some(18));
        assert_eq!(code_of(ERRORS, "main_brush_jammed"), Some(5));
        assert_eq!(code_of(FAN_POWERS, "balanced"), Some(102));
        assert_eq!(name_of(ERRORS, 999), None);
    }

    #[test]
    fn dock_state_follows_state_and_battery() {
        assert_eq!(dock_state(Some(8), Some(100.0)), "full");
        assert_eq!(dock_state(Some(8), Some(40.0)), "charging");
        assert_eq!(dock_state(Some(6), None), "returning");
        assert_eq!(dock_state(None, None), "unknown");
    }
}
