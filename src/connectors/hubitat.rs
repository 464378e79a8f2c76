//! The Hubitat Elevation hub through its Maker API: `http://HUB/apps/api/APP_ID/<path>?access_token=…`.
//!
//! Reads only, from a closed set of endpoints ([`Endpoint`]). Every shape the real hub sends is
//! accepted and normalised into one [`DeviceReading`]: `attributes` as a map (`/devices/all`) or
//! as a list of `{name, currentValue, dataType}` (`/devices/{id}`, where names can repeat);
//! `capabilities` as strings or objects; ids as strings or numbers; JSON labelled `text/html`;
//! an `{"error": …}` body with status 200. A polled item that cannot be read is counted and
//! named, never dropped silently.
//!
//! Architecture Invariant: nothing here can build a command path. Everything that writes on
//! Hubitat is also a GET (`/devices/{id}/{command}`, `/modes/{id}`, `/hsm/{state}`,
//! `/hubvariables/{n}/{v}`, `/postURL/…`, `setLabel`, `deleteDevice`, room edits), so the
//! allowlist below names the read templates one by one and the HTTP layer refuses the rest.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

use super::http::{Allowlist, HttpTransport};
use super::{
    Attribute, ConnectorClass, ConnectorError, Device, DeviceReading, ErrorKind, Readings,
};
use crate::config::ConnectorKind;

/// The Maker API read templates, relative to `/apps/api/APP_ID/`.
pub const ALLOWLIST: Allowlist = Allowlist(&[
    "devices",
    "devices/all",
    "devices/{n}",
    "devices/{n}/events",
    "devices/{n}/commands",
    "devices/{n}/capabilities",
    "devices/{n}/attribute/{name}",
    "devices/deviceData/{n}",
    "modes",
    "hsm",
    "hubvariables",
    "hubvariables/{name}",
    "rooms",
    "room/select/{n}",
]);

/// The reads this client makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Devices,
    DevicesAll,
    Device(String),
    Events(String),
    Capabilities(String),
    Modes,
    Hsm,
}

impl Endpoint {
    pub fn path(&self) -> String {
        match self {
            Endpoint::Devices => "devices".into(),
            Endpoint::DevicesAll => "devices/all".into(),
            Endpoint::Device(id) => format!("devices/{id}"),
            Endpoint::Events(id) => format!("devices/{id}/events"),
            Endpoint::Capabilities(id) => format!("devices/{id}/capabilities"),
            Endpoint::Modes => "modes".into(),
            Endpoint::Hsm => "hsm".into(),
        }
    }
}

/// One row of `/devices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceSummary {
    pub id: String,
    pub name: String,
    pub label: String,
}

/// One row of `/devices/{id}/events`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceEvent {
    pub device_id: String,
    pub name: String,
    pub value: Value,
    pub unit: Option<String>,
    pub date: Option<String>,
    pub is_state_change: Option<bool>,
}

/// One hub mode from `/modes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mode {
    pub id: String,
    pub name: String,
    pub active: bool,
}

/// A Maker API client.
pub struct Hubitat {
    http: HttpTransport,
    location: String,
}

impl Hubitat {
    /// `http` must be bound to `http://HUB/apps/api/APP_ID`; `location` is what to display.
    pub fn new(http: HttpTransport, location: String) -> Self {
        Self { http, location }
    }

    async fn get(&self, endpoint: &Endpoint) -> Result<Value, ConnectorError> {
        let path = endpoint.path();
        let body = self.http.get_json(&path).await?;
        check_error_body(&path, &body)?;
        Ok(body)
    }

    pub async fn devices(&self) -> Result<(Vec<DeviceSummary>, Readings), ConnectorError> {
        let body = self.get(&Endpoint::Devices).await?;
        let mut notes = Readings::default();
        let items = array(&body, "devices")?;
        let mut devices = Vec::new();
        for item in items {
            match id_of(item.get("id")) {
                Some(id) => devices.push(DeviceSummary {
                    id,
                    name: text(item.get("name")),
                    label: text(item.get("label")),
                }),
                None => notes.skip(format!(
                    "`devices`: an item without an id: {}",
                    preview(item)
                )),
            }
        }
        Ok((devices, notes))
    }

    /// Every device with its attributes (`/devices/all`), normalised.
    pub async fn devices_all(&self) -> Result<Readings, ConnectorError> {
        let body = self.get(&Endpoint::DevicesAll).await?;
        let mut readings = Readings::default();
        for item in array(&body, "devices/all")? {
            match normalise_device(item) {
                Ok(device) => readings.devices.push(device),
                Err(problem) => readings.skip(format!("`devices/all`: {problem}")),
            }
        }
        readings.devices.sort_by_key(|device| natural(&device.id));
        Ok(readings)
    }

    /// One device (`/devices/{id}`), whose attributes come as a list.
    pub async fn device(&self, id: &str) -> Result<DeviceReading, ConnectorError> {
        let body = self.get(&Endpoint::Device(id.to_string())).await?;
        normalise_device(&body).map_err(|problem| {
            ConnectorError::new(ErrorKind::BadResponse, format!("`devices/{id}`: {problem}"))
        })
    }

    pub async fn events(&self, id: &str) -> Result<(Vec<DeviceEvent>, Readings), ConnectorError> {
        let body = self.get(&Endpoint::Events(id.to_string())).await?;
        let mut notes = Readings::default();
        let mut events = Vec::new();
        for item in array(&body, "events")? {
            let (Some(device_id), Some(name)) = (
                id_of(item.get("device_id").or_else(|| item.get("deviceId"))),
                item.get("name").and_then(Value::as_str),
            ) else {
                notes.skip(format!(
                    "`devices/{id}/events`: an event without device id or name: {}",
                    preview(item)
                ));
                continue;
            };
            events.push(DeviceEvent {
                device_id,
                name: name.to_string(),
                value: item.get("value").cloned().unwrap_or(Value::Null),
                unit: item
                    .get("unit")
                    .and_then(Value::as_str)
                    .filter(|unit| *unit != "null")
                    .map(str::to_string),
                date: item.get("date").and_then(Value::as_str).map(str::to_string),
                is_state_change: item.get("isStateChange").and_then(Value::as_bool),
            });
        }
        Ok((events, notes))
    }

    pub async fn capabilities(&self, id: &str) -> Result<Vec<String>, ConnectorError> {
        let body = self.get(&Endpoint::Capabilities(id.to_string())).await?;
        let list = body.get("capabilities").unwrap_or(&body);
        Ok(capability_names(list))
    }

    pub async fn modes(&self) -> Result<Vec<Mode>, ConnectorError> {
        let body = self.get(&Endpoint::Modes).await?;
        let mut modes = Vec::new();
        for item in array(&body, "modes")? {
            if let Some(id) = id_of(item.get("id")) {
                modes.push(Mode {
                    id,
                    name: text(item.get("name")),
                    active: item.get("active").and_then(Value::as_bool).unwrap_or(false),
                });
            }
        }
        Ok(modes)
    }

    pub async fn hsm(&self) -> Result<String, ConnectorError> {
        let body = self.get(&Endpoint::Hsm).await?;
        body.get("hsm")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                ConnectorError::new(ErrorKind::BadResponse, "`hsm` answered no `hsm` field")
            })
    }
}

#[async_trait]
impl Device for Hubitat {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Hubitat
    }

    fn class(&self) -> ConnectorClass {
        ConnectorClass::Physical
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    fn counters(&self) -> std::sync::Arc<super::http::Counters> {
        self.http.counters.clone()
    }

    async fn health_check(&self) -> Result<(), ConnectorError> {
        self.devices().await.map(|_| ())
    }

    /// `/devices/all`, then the mode and HSM state. Mode and HSM need options the Maker API
    /// instance may not grant, so their failure is noted in the readings, except an auth
    /// failure, which fails the poll.
    async fn poll(&self) -> Result<Readings, ConnectorError> {
        let mut readings = self.devices_all().await?;
        match self.modes().await {
            Ok(modes) => {
                if let Some(active) = modes.iter().find(|mode| mode.active) {
                    readings
                        .facts
                        .insert("mode".into(), Value::String(active.name.clone()));
                }
            }
            Err(error) if error.kind == ErrorKind::Auth => return Err(error),
            Err(error) => readings.problems.push(format!("modes: {error}")),
        }
        match self.hsm().await {
            Ok(state) => {
                readings.facts.insert("hsm".into(), Value::String(state));
            }
            Err(error) if error.kind == ErrorKind::Auth => return Err(error),
            Err(error) => readings.problems.push(format!("hsm: {error}")),
        }
        Ok(readings)
    }
}

/// The hub answers some failures with status 200 and `{"error": …}`.
fn check_error_body(path: &str, body: &Value) -> Result<(), ConnectorError> {
    let Some(error) = body.as_object().and_then(|object| object.get("error")) else {
        return Ok(());
    };
    if matches!(error, Value::Bool(false) | Value::Null) {
        return Ok(());
    }
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| error.as_str())
        .unwrap_or("no message")
        .chars()
        .take(200)
        .collect::<String>();
    let lowered = message.to_ascii_lowercase();
    let kind =
        if lowered.contains("token") || lowered.contains("denied") || lowered.contains("unauthori")
        {
            ErrorKind::Auth
        } else {
            ErrorKind::BadResponse
        };
    Err(ConnectorError::new(
        kind,
        format!("`{path}` answered an error body: {message}"),
    ))
}

fn array<'a>(body: &'a Value, what: &str) -> Result<&'a Vec<Value>, ConnectorError> {
    body.as_array().ok_or_else(|| {
        ConnectorError::new(
            ErrorKind::BadResponse,
            format!("`{what}` answered {} instead of a list", kind_of(body)),
        )
    })
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// An id written as a string (`"12"`) or a number (`12`).
fn id_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_string()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn preview(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(80).collect::<String>())
    } else {
        text
    }
}

/// Sort `2` before `10`.
fn natural(id: &str) -> (u64, String) {
    (id.parse().unwrap_or(u64::MAX), id.to_string())
}

fn capability_names(list: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for item in list.as_array().into_iter().flatten() {
        match item {
            Value::String(name) => names.push(name.clone()),
            // `{"attributes":[…]}` objects carry no capability name; anything named is kept.
            Value::Object(object) => {
                if let Some(name) = object.get("name").and_then(Value::as_str) {
                    names.push(name.to_string());
                }
            }
            _ => {}
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Cast `value` by its Maker API `dataType`: NUMBER as a number, BOOL as a boolean, the rest as
/// the hub sent it (JSON_OBJECT and VECTOR3 arrive as strings and stay so).
fn cast(value: &Value, data_type: Option<&str>) -> Value {
    match (data_type, value) {
        (Some("NUMBER"), Value::String(text)) => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| value.clone(), Value::Number),
        (Some("BOOL"), Value::String(text)) => match text.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => value.clone(),
        },
        _ => value.clone(),
    }
}

/// One device from `/devices/all` (attributes as a map) or `/devices/{id}` (as a list).
pub fn normalise_device(item: &Value) -> Result<DeviceReading, String> {
    let Some(object) = item.as_object() else {
        return Err(format!(
            "a device that is {}: {}",
            kind_of(item),
            preview(item)
        ));
    };
    let id = id_of(object.get("id"))
        .ok_or_else(|| format!("a device without an id: {}", preview(item)))?;
    let name = text(object.get("name"));
    let label = match text(object.get("label")) {
        label if label.is_empty() => name.clone(),
        label => label,
    };
    let mut attributes = BTreeMap::new();
    match object.get("attributes") {
        Some(Value::Object(map)) => {
            for (key, value) in map {
                attributes.insert(key.clone(), Attribute::of(value.clone()));
            }
        }
        Some(Value::Array(list)) => {
            for entry in list {
                let Some(attribute_name) = entry.get("name").and_then(Value::as_str) else {
                    return Err(format!(
                        "device `{id}` has an attribute without a name: {}",
                        preview(entry)
                    ));
                };
                // Names can repeat (one outlet reports `switch` twice): the first is kept.
                if attributes.contains_key(attribute_name) {
                    continue;
                }
                let data_type = entry.get("dataType").and_then(Value::as_str);
                let value = entry.get("currentValue").unwrap_or(&Value::Null);
                attributes.insert(
                    attribute_name.to_string(),
                    Attribute {
                        value: cast(value, data_type),
                        data_type: data_type.map(str::to_string),
                        unit: entry
                            .get("unit")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                    },
                );
            }
        }
        Some(Value::Null) | None => {}
        Some(other) => {
            return Err(format!(
                "device `{id}` has attributes that are {}",
                kind_of(other)
            ));
        }
    }
    Ok(DeviceReading {
        id,
        label,
        device_type: text(object.get("type")),
        room: object
            .get("room")
            .and_then(Value::as_str)
            .filter(|room| !room.is_empty())
            .map(str::to_string),
        attributes,
        capabilities: capability_names(object.get("capabilities").unwrap_or(&Value::Null)),
        reported_at: object
            .get("date")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_attribute_shapes_normalise_to_one_model() {
        let from_all = normalise_device(&json!({
            "name": "Door", "label": "Studio Door", "type": "Contact", "id": "4",
            "capabilities": ["ContactSensor", "Battery"],
            "attributes": {"contact": "open", "battery": "88"}
        }))
        .unwrap();
        let from_one = normalise_device(&json!({
            "name": "Door", "label": "Studio Door", "type": "Contact", "id": 4,
            "capabilities": ["ContactSensor", {"attributes": [{"name": "battery", "dataType": null}]}, "Battery"],
            "attributes": [
                {"name": "contact", "currentValue": "open", "dataType": "ENUM", "values": ["closed", "open"]},
                {"name": "battery", "currentValue": "88", "dataType": "NUMBER"},
                {"name": "contact", "currentValue": "closed", "dataType": "ENUM"}
            ],
            "commands": ["configure", "refresh"]
        }))
        .unwrap();
        assert_eq!(from_all.id, from_one.id);
        assert_eq!(from_one.attributes["contact"].value, json!("open"));
        assert_eq!(from_one.attributes["battery"].value, json!(88.0));
        assert_eq!(from_all.capabilities, from_one.capabilities);
    }

    #[test]
    fn an_error_body_with_status_200_is_an_error() {
        let auth = check_error_body(
            "devices",
            &json!({"error": true, "type": "AccessDenied", "message": "Access denied"}),
        );
        assert_eq!(auth.unwrap_err().kind, ErrorKind::Auth);
        let other = check_error_body("devices/9", &json!({"error": "Device not found"}));
        assert_eq!(other.unwrap_err().kind, ErrorKind::BadResponse);
        assert!(check_error_body("devices", &json!([{"id": "1"}])).is_ok());
    }

    #[test]
    fn every_endpoint_is_on_the_allowlist() {
        for endpoint in [
            Endpoint::Devices,
            Endpoint::DevicesAll,
            Endpoint::Device("12".into()),
            Endpoint::Events("12".into()),
            Endpoint::Capabilities("12".into()),
            Endpoint::Modes,
            Endpoint::Hsm,
        ] {
            assert!(
                ALLOWLIST.matching(&endpoint.path()).is_some(),
                "{endpoint:?}"
            );
        }
        for write in [
            "devices/12/on",
            "devices/12/setLevel/50",
            "devices/12/refresh",
            "devices/12/setLabel",
            "devices/12/deleteDevice",
            "modes/1",
            "hsm/disarm",
            "hubvariables/x/1",
            "postURL/http%3A%2F%2Fx",
            "postURL",
            "room/insert",
            "room/update/1",
            "room/delete/1",
            "devices/all/on",
        ] {
            assert!(ALLOWLIST.matching(write).is_none(), "{write}");
        }
    }
}
