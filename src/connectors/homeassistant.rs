//! The Home Assistant bridge transport for Roborock: `GET /api/states` with a long-lived bearer
//! token, keeping `vacuum.<x>` and the Roborock integration's sensors of the same device
//! (`sensor.<x>_status`, `_battery`, `_cleaning_time`, `_cleaning_area`, `_vacuum_error`,
//! `_main_brush_time_left`, `_side_brush_time_left`, `_filter_time_left`,
//! `_sensor_time_left`); every other entity is ignored. `GET /api/` is the health check.
//!
//! Values are read in the unit Home Assistant reports (`unit_of_measurement`: s, min, h, d for
//! times; m² for areas) and converted; a state of `unavailable` or `unknown` means offline. A
//! status or error name with no Roborock code is counted as unparseable and named.
//!
//! Architecture Invariant: only `api/`, `api/states` and `api/states/{entity}` can be called;
//! never the services endpoints (`/api/services/...`), which would command the vacuum.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::Value;

use super::http::{Allowlist, HttpTransport};
use super::roborock::{
    self, Consumables, ERRORS, FAN_POWERS, RoborockTransport, STATES, VacuumBatch, VacuumStatus,
};
use super::{ConnectorError, ErrorKind};

/// The Home Assistant REST read templates, relative to the base URL.
pub const ALLOWLIST: Allowlist = Allowlist(&["api/", "api/states", "api/states/{name}"]);

/// Sensor suffixes of the Roborock integration that brain reads.
const SENSORS: &[&str] = &[
    "status",
    "battery",
    "cleaning_time",
    "cleaning_area",
    "vacuum_error",
    "main_brush_time_left",
    "side_brush_time_left",
    "filter_time_left",
    "sensor_time_left",
];

/// Roborock status through Home Assistant's REST API.
pub struct HaBridge {
    http: HttpTransport,
}

impl HaBridge {
    pub fn new(http: HttpTransport) -> Self {
        Self { http }
    }
}

#[async_trait]
impl RoborockTransport for HaBridge {
    fn name(&self) -> &'static str {
        "ha_bridge"
    }

    fn location(&self) -> String {
        self.http.base().to_string()
    }

    fn counters(&self) -> std::sync::Arc<super::http::Counters> {
        self.http.counters.clone()
    }

    async fn health(&self) -> Result<(), ConnectorError> {
        let body = self.http.get_json("api/").await?;
        match body.get("message").and_then(Value::as_str) {
            Some(_) => Ok(()),
            None => Err(ConnectorError::new(
                ErrorKind::BadResponse,
                "`api/` did not answer Home Assistant's `{\"message\": …}`",
            )),
        }
    }

    async fn vacuums(&self) -> Result<VacuumBatch, ConnectorError> {
        let body = self.http.get_json("api/states").await?;
        parse_states(&body)
    }
}

/// One entity as `/api/states` lists it.
struct Entity<'a> {
    state: &'a str,
    attributes: &'a serde_json::Map<String, Value>,
    last_updated: Option<&'a str>,
}

/// Vacuums from an `/api/states` answer.
pub fn parse_states(body: &Value) -> Result<VacuumBatch, ConnectorError> {
    let Some(list) = body.as_array() else {
        return Err(ConnectorError::new(
            ErrorKind::BadResponse,
            "`api/states` did not answer a list of entities",
        ));
    };
    let empty = serde_json::Map::new();
    let mut batch = VacuumBatch::default();
    let mut vacuums: BTreeMap<String, Entity<'_>> = BTreeMap::new();
    let mut sensors: BTreeMap<String, Entity<'_>> = BTreeMap::new();
    for item in list {
        let Some(entity_id) = item.get("entity_id").and_then(Value::as_str) else {
            batch
                .unparseable
                .push("`api/states`: an entity without `entity_id`".into());
            continue;
        };
        let entity = Entity {
            state: item
                .get("state")
                .and_then(Value::as_str)
                .unwrap_or("unknown"),
            attributes: item
                .get("attributes")
                .and_then(Value::as_object)
                .unwrap_or(&empty),
            last_updated: item.get("last_updated").and_then(Value::as_str),
        };
        if let Some(object) = entity_id.strip_prefix("vacuum.") {
            vacuums.insert(object.to_string(), entity);
        } else if let Some(object) = entity_id.strip_prefix("sensor.") {
            sensors.insert(object.to_string(), entity);
        }
    }
    for (object, vacuum) in &vacuums {
        let sensor = |suffix: &str| {
            debug_assert!(SENSORS.contains(&suffix));
            sensors
                .get(&format!("{object}_{suffix}"))
                .filter(|entity| !matches!(entity.state, "unavailable" | "unknown"))
        };
        let online = !matches!(vacuum.state, "unavailable" | "unknown");
        let state_name = sensor("status")
            .map(|entity| entity.state.to_string())
            .or_else(|| online.then(|| vacuum.state.to_string()));
        let state_code = state_name
            .as_deref()
            .and_then(|name| roborock::code_of(STATES, name));
        if let (Some(name), None) = (&state_name, state_code)
            && sensor("status").is_some()
        {
            batch.unparseable.push(format!(
                "`sensor.{object}_status`: `{name}` is no Roborock state"
            ));
        }
        let battery = sensor("battery")
            .and_then(|entity| entity.state.parse::<f64>().ok())
            .or_else(|| {
                vacuum
                    .attributes
                    .get("battery_level")
                    .and_then(Value::as_f64)
            });
        let error_name = sensor("vacuum_error").map(|entity| entity.state.to_string());
        let error_code = error_name
            .as_deref()
            .and_then(|name| roborock::code_of(ERRORS, name));
        if let (Some(name), None) = (&error_name, error_code) {
            batch.unparseable.push(format!(
                "`sensor.{object}_vacuum_error`: `{name}` is no Roborock error"
            ));
        }
        let fan_power_name = vacuum
            .attributes
            .get("fan_speed")
            .and_then(Value::as_str)
            .map(str::to_string);
        let fan_power = fan_power_name
            .as_deref()
            .and_then(|name| roborock::code_of(FAN_POWERS, name));
        let seconds = |suffix: &str| sensor(suffix).and_then(seconds_of);
        let observed_at = std::iter::once(vacuum.last_updated)
            .chain(
                SENSORS
                    .iter()
                    .map(|suffix| sensor(suffix).and_then(|entity| entity.last_updated)),
            )
            .flatten()
            .max()
            .map(str::to_string);
        batch.vacuums.push(VacuumStatus {
            id: format!("vacuum.{object}"),
            name: vacuum
                .attributes
                .get("friendly_name")
                .and_then(Value::as_str)
                .unwrap_or(object)
                .to_string(),
            online,
            state_code,
            state_name,
            battery_pct: battery,
            clean_time_s: seconds("cleaning_time"),
            clean_area_m2: sensor("cleaning_area")
                .and_then(|entity| entity.state.parse::<f64>().ok()),
            error_code,
            error_name,
            fan_power,
            fan_power_name,
            dock_state: roborock::dock_state(state_code, battery).to_string(),
            consumables: Consumables {
                main_brush_left_s: seconds("main_brush_time_left"),
                side_brush_left_s: seconds("side_brush_time_left"),
                filter_left_s: seconds("filter_time_left"),
                sensor_left_s: seconds("sensor_time_left"),
            },
            observed_at,
            source: "ha_bridge".into(),
        });
    }
    Ok(batch)
}

/// A duration sensor's state in seconds, by its `unit_of_measurement` (seconds when none).
fn seconds_of(entity: &Entity<'_>) -> Option<i64> {
    let value = entity.state.parse::<f64>().ok()?;
    let factor = match entity
        .attributes
        .get("unit_of_measurement")
        .and_then(Value::as_str)
        .unwrap_or("s")
    {
        "min" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => 1.0,
    };
    Some((value * factor).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_vacuum_and_its_sensors_make_one_status() {
        let batch = parse_states(&json!([
            {"entity_id": "vacuum.s7", "state": "docked", "attributes": {"friendly_name": "S7", "fan_speed": "balanced", "battery_level": 99}, "last_updated": "2026-01-01T00:00:00+00:00"},
            {"entity_id": "sensor.s7_status", "state": "charging", "attributes": {}},
            {"entity_id": "sensor.s7_battery", "state": "100", "attributes": {"unit_of_measurement": "%"}},
            {"entity_id": "sensor.s7_cleaning_time", "state": "90", "attributes": {"unit_of_measurement": "min"}},
            {"entity_id": "sensor.s7_cleaning_area", "state": "91.3", "attributes": {"unit_of_measurement": "m²"}},
            {"entity_id": "sensor.s7_vacuum_error", "state": "none", "attributes": {}},
            {"entity_id": "sensor.s7_main_brush_time_left", "state": "200", "attributes": {"unit_of_measurement": "h"}},
            {"entity_id": "light.kitchen", "state": "on", "attributes": {}},
            {"state": "on"}
        ]))
        .unwrap();
        assert_eq!(batch.vacuums.len(), 1);
        let vacuum = &batch.vacuums[0];
        assert_eq!(vacuum.state_code, Some(8));
        assert_eq!(vacuum.battery_pct, Some(100.0));
        assert_eq!(vacuum.clean_time_s, Some(5400));
        assert_eq!(vacuum.clean_area_m2, Some(91.3));
        assert_eq!(vacuum.error_code, Some(0));
        assert_eq!(vacuum.fan_power, Some(102));
        assert_eq!(vacuum.dock_state, "full");
        assert_eq!(vacuum.consumables.main_brush_left_s, Some(720_000));
        assert_eq!(batch.unparseable.len(), 1);
    }

    #[test]
    fn services_are_not_on_the_allowlist() {
        for path in [
            "api/services/vacuum/start",
            "api/services",
            "api/config",
            "api/states/vacuum.s7/x",
        ] {
            assert!(ALLOWLIST.matching(path).is_none(), "{path}");
        }
        assert!(ALLOWLIST.matching("api/states/vacuum.s7").is_some());
    }
}
