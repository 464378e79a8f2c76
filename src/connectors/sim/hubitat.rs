//! A simulated Hubitat hub's Maker API: `/apps/api/{app}/…?access_token=…`, five studio devices,
//! modes and HSM, in the shapes a real hub sends (attributes as a map in `/devices/all` and as a
//! list with a repeated name in `/devices/{id}`, mixed capabilities, string ids, JSON labelled
//! `text/html`). Like the hub, it accepts command GETs, which a test then finds in the log.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use super::{Fault, Shared, json_text};

struct SimDevice {
    id: &'static str,
    name: &'static str,
    label: &'static str,
    device_type: &'static str,
    room: &'static str,
    capabilities: &'static [&'static str],
    commands: &'static [&'static str],
    /// name, value, dataType, unit
    attributes: Vec<(&'static str, Value, &'static str, Option<&'static str>)>,
}

fn devices(generation: u64) -> Vec<SimDevice> {
    let step = generation % 12;
    vec![
        SimDevice {
            id: "1",
            name: "Zigbee Temperature Sensor",
            label: "Kiln Room Temperature",
            device_type: "Generic Zigbee Temperature Sensor",
            room: "Kiln Room",
            capabilities: &["TemperatureMeasurement", "Battery", "Sensor"],
            commands: &["configure", "refresh"],
            attributes: vec![
                (
                    "temperature",
                    json!(format!("{:.1}", 81.0 + step as f64 * 0.7)),
                    "NUMBER",
                    Some("°F"),
                ),
                ("battery", json!("91"), "NUMBER", Some("%")),
            ],
        },
        SimDevice {
            id: "2",
            name: "Humidity Sensor",
            label: "Glaze Room Humidity",
            device_type: "Generic Zigbee Humidity Sensor",
            room: "Glaze Room",
            capabilities: &[
                "RelativeHumidityMeasurement",
                "TemperatureMeasurement",
                "Sensor",
            ],
            commands: &["refresh"],
            attributes: vec![
                (
                    "humidity",
                    json!(format!("{}", 41 + step % 5)),
                    "NUMBER",
                    Some("%rh"),
                ),
                ("temperature", json!("70.1"), "NUMBER", Some("°F")),
            ],
        },
        SimDevice {
            id: "3",
            name: "Smart Outlet",
            label: "Kiln Vent Fan",
            device_type: "Generic Zigbee Outlet",
            room: "Kiln Room",
            capabilities: &["Switch", "Outlet", "Actuator"],
            commands: &["off", "on", "refresh"],
            attributes: vec![(
                "switch",
                json!(if step % 4 < 2 { "on" } else { "off" }),
                "ENUM",
                None,
            )],
        },
        SimDevice {
            id: "4",
            name: "Contact Sensor",
            label: "Studio Door",
            device_type: "Generic Zigbee Contact Sensor",
            room: "Front Studio",
            capabilities: &["ContactSensor", "Battery", "Sensor"],
            commands: &["configure", "refresh"],
            attributes: vec![
                (
                    "contact",
                    json!(if step % 6 < 3 { "closed" } else { "open" }),
                    "ENUM",
                    None,
                ),
                ("battery", json!("77"), "NUMBER", Some("%")),
            ],
        },
        SimDevice {
            id: "5",
            name: "Water Sensor",
            label: "Clay Storage Leak Sensor",
            device_type: "Generic Zigbee Moisture Sensor",
            room: "Clay Storage",
            capabilities: &["WaterSensor", "Battery"],
            commands: &["configure"],
            attributes: vec![
                ("water", json!("dry"), "ENUM", None),
                ("battery", json!("64"), "NUMBER", Some("%")),
            ],
        },
    ]
}

/// The Maker API's date format: `2026-12-02T14:00:00+0000`.
fn hub_date(shared: &Shared, generation: u64) -> String {
    shared
        .time_of(generation)
        .format("%Y-%m-%dT%H:%M:%S%z")
        .to_string()
}

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/apps/api/{app}/devices", get(list))
        .route("/apps/api/{app}/devices/all", get(all))
        .route("/apps/api/{app}/devices/{id}", get(one))
        .route("/apps/api/{app}/devices/{id}/{command}", get(device_path))
        .route("/apps/api/{app}/modes", get(modes))
        .route("/apps/api/{app}/hsm", get(hsm))
        .fallback(fallback)
}

fn error_body() -> Response {
    json_text(
        StatusCode::OK,
        json!({"error": true, "type": "NotFound", "message": "Device not found"}).to_string(),
    )
}

fn answer(shared: &Shared, app: &str, body: Value) -> Response {
    if app != shared.app_id {
        return json_text(
            StatusCode::NOT_FOUND,
            json!({"error": true, "message": "No such app"}).to_string(),
        );
    }
    if shared.fault() == Fault::ErrorBody {
        return error_body();
    }
    json_text(StatusCode::OK, body.to_string())
}

async fn list(State(shared): State<Arc<Shared>>, Path(app): Path<String>) -> Response {
    let body: Vec<Value> = devices(shared.current())
        .iter()
        .map(|device| json!({"id": device.id, "name": device.name, "label": device.label, "type": device.device_type}))
        .collect();
    answer(&shared, &app, Value::Array(body))
}

async fn all(State(shared): State<Arc<Shared>>, Path(app): Path<String>) -> Response {
    let generation = shared.advance();
    let body: Vec<Value> = devices(generation)
        .iter()
        .map(|device| {
            let attributes: serde_json::Map<String, Value> = device
                .attributes
                .iter()
                .map(|(name, value, _, _)| (name.to_string(), value.clone()))
                .collect();
            json!({
                "name": device.name,
                "label": device.label,
                "type": device.device_type,
                "id": device.id,
                "date": hub_date(&shared, generation),
                "model": null,
                "manufacturer": null,
                "room": device.room,
                "capabilities": device.capabilities,
                "attributes": attributes,
                "commands": device.commands.iter().map(|command| json!({"command": command})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut body = body;
    if shared.fault() == Fault::Drift {
        body.push(
            json!({"name": "Mystery Device", "label": "No id", "attributes": {"switch": "on"}}),
        );
        body.push(json!("not a device"));
    }
    answer(&shared, &app, Value::Array(body))
}

fn detail(shared: &Shared, device: &SimDevice, generation: u64) -> Value {
    let mut attributes: Vec<Value> = device
        .attributes
        .iter()
        .map(|(name, value, data_type, unit)| {
            let value = match (*data_type, value) {
                // `/devices/{id}` sends numbers as numbers.
                ("NUMBER", Value::String(text)) => text
                    .parse::<f64>()
                    .map_or(value.clone(), |number| json!(number)),
                _ => value.clone(),
            };
            let mut attribute = json!({"name": name, "currentValue": value, "dataType": data_type});
            if let Some(unit) = unit {
                attribute["unit"] = json!(unit);
            }
            attribute
        })
        .collect();
    if device.id == "3" {
        // A real outlet reports `switch` twice.
        attributes.push(json!({"name": "switch", "currentValue": "off", "dataType": "ENUM", "values": ["on", "off"]}));
    }
    let mut capabilities: Vec<Value> = device.capabilities.iter().map(|name| json!(name)).collect();
    if let Some((first, ..)) = device.attributes.first() {
        capabilities.push(json!({"attributes": [{"name": first, "dataType": null}]}));
    }
    json!({
        "id": device.id,
        "name": device.name,
        "label": device.label,
        "type": device.device_type,
        "room": device.room,
        "date": hub_date(shared, generation),
        "model": null,
        "manufacturer": null,
        "capabilities": capabilities,
        "attributes": attributes,
        "commands": device.commands,
    })
}

async fn one(
    State(shared): State<Arc<Shared>>,
    Path((app, id)): Path<(String, String)>,
) -> Response {
    let generation = shared.current();
    match devices(generation).iter().find(|device| device.id == id) {
        Some(device) => answer(&shared, &app, detail(&shared, device, generation)),
        None => error_body(),
    }
}

/// `/devices/{id}/events`, `/capabilities`, `/commands`, or — like on the hub — a command.
async fn device_path(
    State(shared): State<Arc<Shared>>,
    Path((app, id, command)): Path<(String, String, String)>,
) -> Response {
    let generation = shared.current();
    let all = devices(generation);
    let Some(device) = all.iter().find(|device| device.id == id) else {
        return error_body();
    };
    let body = match command.as_str() {
        "events" => Value::Array(
            device
                .attributes
                .iter()
                .map(|(name, value, _, unit)| {
                    json!({
                        "device_id": device.id,
                        "label": device.label,
                        "name": name,
                        "value": value.as_str().map_or_else(|| value.to_string(), str::to_string),
                        "date": hub_date(&shared, generation),
                        "unit": unit,
                        "isStateChange": true,
                        "source": "DEVICE",
                    })
                })
                .collect(),
        ),
        "capabilities" => json!({"capabilities": device.capabilities}),
        "commands" => Value::Array(
            device
                .commands
                .iter()
                .map(|command| json!({"command": command, "type": ["n/a"]}))
                .collect(),
        ),
        // The hub runs the command and answers the device: a write, recorded in the log.
        _ => detail(&shared, device, generation),
    };
    answer(&shared, &app, body)
}

async fn modes(State(shared): State<Arc<Shared>>, Path(app): Path<String>) -> Response {
    answer(
        &shared,
        &app,
        json!([
            {"active": true, "id": 1, "name": "Day"},
            {"active": false, "id": 2, "name": "Evening"},
            {"active": false, "id": 3, "name": "Night"},
            {"active": false, "id": 4, "name": "Away"}
        ]),
    )
}

async fn hsm(State(shared): State<Arc<Shared>>, Path(app): Path<String>) -> Response {
    answer(&shared, &app, json!({"hsm": "disarmed"}))
}

/// Every other path (`/modes/1`, `/hsm/armAway`, `/postURL/…`): the hub would act on it.
async fn fallback() -> Response {
    json_text(StatusCode::OK, json!({"simulated": "accepted"}).to_string())
}
