//! A simulated Home Assistant REST API with the Roborock integration: `/api/`, `/api/states`,
//! `/api/states/{entity_id}` behind a bearer token; two vacuums with their sensors plus entities
//! of other integrations. One vacuum cleans, returns and charges as generations pass; the other
//! sits on its dock and jams its main brush now and then. Like Home Assistant, it accepts
//! `POST /api/services/...`, which a test then finds in the log.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::{Fault, Shared};

fn entity(shared: &Shared, generation: u64, id: &str, state: &str, attributes: Value) -> Value {
    let at = crate::clock::format_time(shared.time_of(generation));
    json!({
        "entity_id": id,
        "state": state,
        "attributes": attributes,
        "last_changed": at,
        "last_updated": at,
        "context": {"id": "01HSIM", "parent_id": null, "user_id": null},
    })
}

fn states(shared: &Shared, generation: u64) -> Vec<Value> {
    let step = generation % 12;
    let (s7_state, s7_vacuum, s7_battery, s7_minutes, s7_area) = match step {
        0..=5 => (
            "cleaning",
            "cleaning",
            100 - step * 9,
            step * 6,
            step as f64 * 4.2,
        ),
        6 | 7 => ("returning_home", "returning", 46, 36, 25.2),
        _ => ("charging", "docked", 46 + (step - 7) * 12, 36, 25.2),
    };
    let jammed = generation % 7 == 6;
    let (q5_state, q5_vacuum, q5_error) = if jammed {
        ("error", "error", "main_brush_jammed")
    } else {
        ("charging", "docked", "none")
    };
    let mut list = vec![
        entity(
            shared,
            generation,
            "vacuum.studio_floor_s7",
            s7_vacuum,
            json!({
                "friendly_name": "Studio Floor S7 MaxV",
                "battery_level": s7_battery,
                "fan_speed": "balanced",
                "fan_speed_list": ["quiet", "balanced", "turbo", "max", "max_plus", "off"],
                "supported_features": 13436,
            }),
        ),
        entity(
            shared,
            generation,
            "sensor.studio_floor_s7_status",
            s7_state,
            json!({"friendly_name": "Studio Floor S7 MaxV Status", "device_class": "enum"}),
        ),
        entity(
            shared,
            generation,
            "sensor.studio_floor_s7_battery",
            &s7_battery.to_string(),
            json!({"unit_of_measurement": "%", "device_class": "battery"}),
        ),
        entity(
            shared,
            generation,
            "sensor.studio_floor_s7_cleaning_time",
            &s7_minutes.to_string(),
            json!({"unit_of_measurement": "min", "device_class": "duration"}),
        ),
        entity(
            shared,
            generation,
            "sensor.studio_floor_s7_cleaning_area",
            &format!("{s7_area:.1}"),
            json!({"unit_of_measurement": "m²"}),
        ),
        entity(
            shared,
            generation,
            "sensor.studio_floor_s7_vacuum_error",
            "none",
            json!({"device_class": "enum"}),
        ),
        entity(
            shared,
            generation,
            "sensor.studio_floor_s7_main_brush_time_left",
            "212.4",
            json!({"unit_of_measurement": "h", "device_class": "duration"}),
        ),
        entity(
            shared,
            generation,
            "sensor.studio_floor_s7_side_brush_time_left",
            "131.0",
            json!({"unit_of_measurement": "h", "device_class": "duration"}),
        ),
        entity(
            shared,
            generation,
            "sensor.studio_floor_s7_filter_time_left",
            "88.5",
            json!({"unit_of_measurement": "h", "device_class": "duration"}),
        ),
        entity(
            shared,
            generation,
            "sensor.studio_floor_s7_sensor_time_left",
            "12.0",
            json!({"unit_of_measurement": "h", "device_class": "duration"}),
        ),
        entity(
            shared,
            generation,
            "vacuum.glaze_room_q5",
            q5_vacuum,
            json!({
                "friendly_name": "Glaze Room Q5",
                "battery_level": 100,
                "fan_speed": "quiet",
            }),
        ),
        entity(
            shared,
            generation,
            "sensor.glaze_room_q5_status",
            q5_state,
            json!({"device_class": "enum"}),
        ),
        entity(
            shared,
            generation,
            "sensor.glaze_room_q5_battery",
            "100",
            json!({"unit_of_measurement": "%"}),
        ),
        entity(
            shared,
            generation,
            "sensor.glaze_room_q5_vacuum_error",
            q5_error,
            json!({"device_class": "enum"}),
        ),
        entity(
            shared,
            generation,
            "sensor.glaze_room_q5_cleaning_time",
            "0",
            json!({"unit_of_measurement": "s"}),
        ),
        entity(
            shared,
            generation,
            "sensor.glaze_room_q5_cleaning_area",
            "0.0",
            json!({"unit_of_measurement": "m²"}),
        ),
        // Other integrations' entities, which the bridge must ignore.
        entity(
            shared,
            generation,
            "light.kiln_room",
            "on",
            json!({"friendly_name": "Kiln Room Light"}),
        ),
        entity(
            shared,
            generation,
            "sensor.outdoor_temperature",
            "12.5",
            json!({"unit_of_measurement": "°C"}),
        ),
    ];
    list.sort_by(|left, right| left["entity_id"].as_str().cmp(&right["entity_id"].as_str()));
    list
}

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/", get(api))
        .route("/api/states", get(all))
        .route("/api/states/{entity_id}", get(one))
        .route("/api/services/{domain}/{service}", post(service))
        .fallback(|| async { (StatusCode::NOT_FOUND, "404: Not Found").into_response() })
}

fn error_body() -> Response {
    (
        StatusCode::OK,
        Json(json!({"message": "Entity not found."})),
    )
        .into_response()
}

async fn api() -> Response {
    Json(json!({"message": "API running."})).into_response()
}

async fn all(State(shared): State<Arc<Shared>>) -> Response {
    if shared.fault() == Fault::ErrorBody {
        return error_body();
    }
    let generation = shared.advance();
    let mut list = states(&shared, generation);
    if shared.fault() == Fault::Drift {
        for entity in &mut list {
            if entity["entity_id"] == "sensor.glaze_room_q5_status" {
                entity["state"] = json!("sterilizing");
            }
        }
        list.push(json!({"state": "on", "attributes": {}}));
    }
    Json(Value::Array(list)).into_response()
}

async fn one(State(shared): State<Arc<Shared>>, Path(entity_id): Path<String>) -> Response {
    if shared.fault() == Fault::ErrorBody {
        return error_body();
    }
    match states(&shared, shared.current())
        .into_iter()
        .find(|entity| entity["entity_id"] == entity_id.as_str())
    {
        Some(entity) => Json(entity).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "Entity not found."})),
        )
            .into_response(),
    }
}

/// Home Assistant would command the vacuum here; the simulator only answers.
async fn service() -> Response {
    Json(json!([])).into_response()
}
