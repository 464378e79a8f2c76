//! Connectors against the device simulators: the Hubitat client on every read endpoint and shape
//! with a request log proving no write path was ever called; the real binary's `brain connectors
//! list|health|test` against simulators started by the test; `brain serve` polling simulated
//! devices, authorized per read, stopped by a kill switch, feeding the API, the console, metrics
//! and StudioState; and the credential kept out of every output.

use std::net::SocketAddr;
use std::time::Duration;

use brain::config::secret::Secret;
use brain::connectors::ErrorKind;
use brain::connectors::http::{Credential, HttpTransport, RequestPolicy};
use brain::connectors::hubitat::{self, Hubitat};
use brain::connectors::sim::{Fault, RecordedRequest, SimKind, Simulator};
use serde_json::Value;

use crate::engine::{Backend, Studio};
use crate::support::{eventually, get};

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Paths the Maker API would act on; none may ever be requested.
fn is_write_path(path: &str) -> bool {
    let rest = path.split("/apps/api/").nth(1).unwrap_or(path);
    let relative = rest.split_once('/').map_or("", |(_, relative)| relative);
    hubitat::ALLOWLIST.matching(relative).is_none()
}

fn hubitat_client(simulator: &Simulator, token: Secret) -> Hubitat {
    let http = HttpTransport::new(
        &simulator.base_url(),
        Credential::QueryToken(token),
        hubitat::ALLOWLIST,
        RequestPolicy::new(Duration::from_secs(2), 0),
    )
    .unwrap();
    Hubitat::new(http, simulator.base_url())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hubitat_client_reads_every_shape_and_never_calls_a_write_path() {
    let simulator = Simulator::start(SimKind::Hubitat, loopback())
        .await
        .unwrap();
    let client = hubitat_client(&simulator, simulator.token());

    let (devices, notes) = client.devices().await.unwrap();
    assert_eq!(devices.len(), 5);
    assert_eq!(devices[0].id, "1");
    assert_eq!(notes.unparseable, 0);

    let all = client.devices_all().await.unwrap();
    assert_eq!(all.devices.len(), 5);
    assert_eq!(all.unparseable, 0, "{:?}", all.problems);
    let fan = all.devices.iter().find(|device| device.id == "3").unwrap();
    assert_eq!(fan.label, "Kiln Vent Fan");
    assert_eq!(fan.room.as_deref(), Some("Kiln Room"));

    // `/devices/{id}` sends attributes as a list with `switch` twice: one attribute, the first.
    let one = client.device("3").await.unwrap();
    assert_eq!(one.attributes.len(), 1);
    assert_eq!(
        one.attributes["switch"].value,
        fan.attributes["switch"].value
    );
    let sensor = client.device("1").await.unwrap();
    assert!(
        sensor.attributes["temperature"].value.is_number(),
        "NUMBER is cast: {:?}",
        sensor.attributes
    );
    assert_eq!(sensor.attributes["temperature"].unit.as_deref(), Some("°F"));

    let (events, notes) = client.events("1").await.unwrap();
    assert!(!events.is_empty() && notes.unparseable == 0);
    assert_eq!(events[0].device_id, "1");
    assert_eq!(
        client.capabilities("4").await.unwrap(),
        vec!["Battery", "ContactSensor", "Sensor"]
    );
    let modes = client.modes().await.unwrap();
    assert!(modes.iter().any(|mode| mode.active && mode.name == "Day"));
    assert_eq!(client.hsm().await.unwrap(), "disarmed");

    // A command smuggled into an id is refused before anything is sent.
    let before = simulator.requests().len();
    let refused = client.device("3/on").await.unwrap_err();
    assert_eq!(refused.kind, ErrorKind::ReadOnlyViolation);
    assert_eq!(
        simulator.requests().len(),
        before,
        "a refused path reached the hub"
    );

    // An error body with status 200 is an error, not data.
    simulator.set_fault(Fault::ErrorBody);
    let error = client.devices_all().await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::BadResponse, "{error}");
    simulator.set_fault(Fault::None);

    let requests = simulator.requests();
    assert!(requests.len() >= 9, "{requests:?}");
    for request in &requests {
        assert_eq!(request.method, "GET", "{request:?}");
        assert!(request.authorized, "{request:?}");
        assert!(
            !is_write_path(&request.path),
            "a write path was requested: {request:?}"
        );
        assert!(
            !request.query.contains("access_token"),
            "the log keeps no token"
        );
    }
    // The check above can fail: the simulator does record a write when one is sent.
    let raw = reqwest::get(format!(
        "{}/devices/3/on?access_token={}",
        simulator.base_url(),
        simulator.token().expose()
    ))
    .await
    .unwrap();
    assert_eq!(raw.status(), 200);
    assert!(
        simulator
            .requests()
            .iter()
            .any(|request| is_write_path(&request.path))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_an_auth_failure_that_never_leaks_the_token() {
    let simulator = Simulator::start(SimKind::Hubitat, loopback())
        .await
        .unwrap();
    let wrong = Secret::new("wrong-token-0123456789");
    let client = hubitat_client(&simulator, wrong.clone());
    let error = client.devices_all().await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Auth);
    assert_eq!(
        simulator.requests().len(),
        1,
        "an auth failure is never retried"
    );
    let text = format!(
        "{error} {error:?} {}",
        serde_json::to_string(&error).unwrap()
    );
    assert!(!text.contains(wrong.expose()), "{text}");
    // The device going away: unavailable, and the URL (which holds the token) is not echoed.
    let base = simulator.base_url();
    drop(simulator);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let http = HttpTransport::new(
        &base,
        Credential::QueryToken(wrong.clone()),
        hubitat::ALLOWLIST,
        RequestPolicy::new(Duration::from_secs(1), 0),
    )
    .unwrap();
    let error = Hubitat::new(http, base).devices_all().await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Unavailable, "{error}");
    assert!(!format!("{error:?}").contains(wrong.expose()), "{error:?}");
    assert!(!error.message.contains("access_token"), "{error}");
}

/// A studio whose connectors point at simulators the test controls, with their tokens in env.
struct Devices {
    studio: Studio,
    hub: Simulator,
    home_assistant: Simulator,
    _secrets: tempfile::TempDir,
}

impl Devices {
    async fn start(extra: &str) -> Self {
        let hub = Simulator::start(SimKind::Hubitat, loopback())
            .await
            .unwrap();
        let home_assistant = Simulator::start(SimKind::HomeAssistant, loopback())
            .await
            .unwrap();
        let secrets = crate::support::temp_dir();
        let hub_token = secrets.path().join("hub-token");
        let ha_token = secrets.path().join("ha-token");
        std::fs::write(&hub_token, format!("{}\n", hub.token().expose())).unwrap();
        std::fs::write(&ha_token, format!("{}\n", home_assistant.token().expose())).unwrap();
        let config = format!(
            "  snapshot_stale_after: 30m\nconnectors:\n  - id: hubitat\n    kind: hubitat\n    base_url: {}\n    app_id: \"{}\"\n    token: {{ file: {} }}\n    timeout: 1s\n{extra}  - id: roborock\n    kind: roborock\n    base_url: {}\n    token: {{ file: {} }}\n    timeout: 1s\n",
            hub.host_url(),
            hub.app_id(),
            hub_token.display(),
            home_assistant.host_url(),
            ha_token.display(),
        );
        let studio = tokio::task::block_in_place(|| Studio::new(Backend::Sqlite, &config));
        Self {
            studio,
            hub,
            home_assistant,
            _secrets: secrets,
        }
    }

    fn run(&self, args: &[&str]) -> (i32, Value, String) {
        let output = tokio::task::block_in_place(|| {
            self.studio
                .command(Some(&self.studio.admin))
                .args([&["--format", "json"], args].concat())
                .output()
                .unwrap()
        });
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        let value = serde_json::from_str(&stdout).unwrap_or(Value::Null);
        (
            output.status.code().unwrap_or(-1),
            value,
            format!("{stdout}\n{stderr}"),
        )
    }

    fn assert_no_token(&self, text: &str) {
        for token in [self.hub.token(), self.home_assistant.token()] {
            assert!(!text.contains(token.expose()), "a token leaked: {text}");
        }
    }
}

fn only_reads(requests: &[RecordedRequest], kind: SimKind) {
    for request in requests {
        assert_eq!(request.method, "GET", "{request:?}");
        match kind {
            SimKind::Hubitat => assert!(!is_write_path(&request.path), "{request:?}"),
            SimKind::HomeAssistant => assert!(
                brain::connectors::homeassistant::ALLOWLIST
                    .matching(request.path.trim_start_matches('/'))
                    .is_some(),
                "{request:?}"
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_health_reads_live_and_reports_failures_with_exit_codes() {
    let devices = Devices::start("").await;
    let (code, health, text) = devices.run(&["connectors", "health"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(health["healthy"], true);
    let rows = health["connectors"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["id"], "hubitat");
    assert_eq!(rows[0]["devices"], 5);
    assert_eq!(rows[1]["devices"], 2);
    devices.assert_no_token(&text);

    // 503: down, exit 1.
    devices.hub.set_fault(Fault::Status(503));
    let (code, health, text) = devices.run(&["connectors", "health", "hubitat"]);
    assert_eq!(code, 1, "{text}");
    assert_eq!(health["connectors"][0]["health"], "down", "{health}");

    // 401: down, named as an auth failure, sent once, the token nowhere.
    devices.hub.clear_requests();
    devices.hub.set_fault(Fault::Unauthorized);
    let (code, health, text) = devices.run(&["connectors", "health", "hubitat"]);
    assert_eq!(code, 1, "{text}");
    let reason = health["connectors"][0]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("credentials"), "{health}");
    assert_eq!(
        devices.hub.requests().len(),
        1,
        "an auth failure is not retried: {:?}",
        devices.hub.requests()
    );
    devices.assert_no_token(&text);
    devices.hub.set_fault(Fault::None);

    // A kill switch on the target: denied by the Engine, nothing sent, exit 1.
    let (code, _, text) = devices.run(&[
        "kill-switch",
        "on",
        "target:hubitat",
        "--reason",
        "hub maintenance",
    ]);
    assert_eq!(code, 0, "{text}");
    devices.hub.clear_requests();
    let (code, health, text) = devices.run(&["connectors", "health", "hubitat"]);
    assert_eq!(code, 1, "{text}");
    let denied = health["connectors"][0]["denied"]
        .as_str()
        .unwrap_or_default();
    assert!(denied.contains("KILL_SWITCH_ACTIVE"), "{health}");
    assert!(
        devices.hub.requests().is_empty(),
        "a denied read reached the hub"
    );
    // The Roborock connector is not under that switch.
    let (code, _, text) = devices.run(&["connectors", "health", "roborock"]);
    assert_eq!(code, 0, "{text}");

    // Every read was authorized and audited as the connector's own actor.
    let (code, audit, text) = devices.run(&[
        "audit",
        "tail",
        "--lines",
        "200",
        "--actor",
        "system:connector:hubitat",
    ]);
    assert_eq!(code, 0, "{text}");
    let reads: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["action"] == "read" && event["actor"] == "system:connector:hubitat")
        .collect();
    assert!(
        reads
            .iter()
            .any(|event| event["decision"] == "allow"
                && event["capability"] == "hubitat.devices.read"),
        "{audit}"
    );
    assert!(
        reads.iter().any(|event| event["decision"] == "deny"),
        "{audit}"
    );

    // An unknown connector is a usage error.
    let (code, _, text) = devices.run(&["connectors", "health", "nope"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("no device connector `nope`"), "{text}");

    only_reads(&devices.hub.requests(), SimKind::Hubitat);
    only_reads(&devices.home_assistant.requests(), SimKind::HomeAssistant);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_list_and_test_print_machine_readable_summaries() {
    let devices = Devices::start("").await;
    let (code, list, text) = devices.run(&["connectors", "list"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(list[0]["id"], "hubitat");
    assert_eq!(list[0]["class"], "physical");
    assert_eq!(list[0]["read_capability"], "hubitat.devices.read");
    assert_eq!(list[1]["read_capability"], "roborock.status.read");
    assert!(list[0]["last_reading"].is_null());
    devices.assert_no_token(&text);

    let (code, summary, text) = devices.run(&["connectors", "test"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(summary["passed"], true, "{summary}");
    let reports = summary["connectors"].as_array().unwrap();
    assert_eq!(reports.len(), 2);
    for report in reports {
        let cases = report["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 12, "{report}");
        assert!(cases.iter().all(|case| case["passed"] == true), "{report}");
    }
    // The harness runs on its own simulators, never on the configured device.
    assert!(
        devices.hub.requests().is_empty(),
        "{:?}",
        devices.hub.requests()
    );

    let (code, _, text) = devices.run(&["connectors", "test", "unknown"]);
    assert_eq!(code, 2, "{text}");
}

#[test]
fn a_simulator_url_must_name_the_kinds_simulator() {
    let studio = Studio::new(Backend::Sqlite, "");
    std::fs::write(
        studio.path().join("brain.yaml"),
        "connectors:\n  - id: hubitat\n    kind: hubitat\n    base_url: sim://homeassistant\n",
    )
    .unwrap();
    let output = studio.run(None, &["config", "check"]);
    let text = studio.transcript(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("`sim://homeassistant` is no simulator of hubitat connectors"),
        "{text}"
    );
    assert!(text.contains("sim://hubitat"), "{text}");

    std::fs::write(
        studio.path().join("brain.yaml"),
        "connectors:\n  - id: hubitat\n    kind: hubitat\n    base_url: sim://hubitat\n    poll_interval: 1m\n    stale_after: 30s\n",
    )
    .unwrap();
    let output = studio.run(None, &["config", "check"]);
    let text = studio.transcript(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("would always read as stale"), "{text}");

    // Polling faster than the request budget allows is valid, with a warning.
    std::fs::write(
        studio.path().join("brain.yaml"),
        "connectors:\n  - id: hubitat\n    kind: hubitat\n    base_url: sim://hubitat\n    poll_interval: 5s\n",
    )
    .unwrap();
    let output = studio.run(None, &["config", "check"]);
    let text = studio.transcript(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("would send about 2160 requests an hour, more than its budget of 1200"),
        "{text}"
    );
}

/// `brain serve` on simulated devices: polling authorized per read, readings in the API, the
/// console, metrics and StudioState; a kill switch stops the polling.
#[test]
fn the_daemon_polls_simulated_devices_and_a_kill_switch_stops_it() {
    let mut studio = Studio::new(
        Backend::Sqlite,
        "  snapshot_stale_after: 30m\nserver:\n  auth:\n    mode: none\nconnectors:\n  - id: hubitat\n    kind: hubitat\n    base_url: sim://hubitat\n    poll_interval: 1s\n  - id: roborock\n    kind: roborock\n    base_url: sim://homeassistant\n    poll_interval: 1s\n",
    );
    studio.through_daemon();
    let daemon = studio.daemon.as_ref().unwrap();
    let admin = studio.admin.clone();
    let api = |path: &str| -> Value {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let response = reqwest::Client::new()
                .get(daemon.url(path))
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap();
            response.json().await.unwrap()
        })
    };
    assert!(
        eventually(Duration::from_secs(20), || {
            let list = api("/api/v1/connectors");
            list.as_array().is_some_and(|list| {
                list.len() == 2
                    && list.iter().all(|status| {
                        status["health"] == "healthy" && status["polls"].as_u64() >= Some(2)
                    })
            })
        }),
        "{}\n{}",
        api("/api/v1/connectors"),
        daemon.logs()
    );
    let hub = api("/api/v1/connectors/hubitat");
    assert_eq!(
        hub["readings"]["devices"].as_array().unwrap().len(),
        5,
        "{hub}"
    );
    assert_eq!(hub["readings"]["facts"]["mode"], "Day");
    assert!(
        hub["location"]
            .as_str()
            .unwrap()
            .starts_with("sim://hubitat"),
        "{hub}"
    );
    let vacuums = api("/api/v1/connectors/roborock");
    let s7 = &vacuums["readings"]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|device| device["id"] == "vacuum.studio_floor_s7")
        .cloned()
        .unwrap();
    for attribute in [
        "state",
        "battery",
        "clean_time",
        "clean_area",
        "error_code",
        "fan_power",
        "dock_state",
        "main_brush_left",
    ] {
        assert!(
            s7["attributes"].get(attribute).is_some(),
            "{attribute} missing: {s7}"
        );
    }
    assert_eq!(api("/api/v1/connectors/nope")["code"], "not_found");

    // The CLI through the daemon sees the same connectors, without a new read.
    let (code, health) = studio.json(&admin, &["connectors", "health"]);
    assert_eq!(code, 0, "{health}");
    assert_eq!(health["healthy"], true, "{health}");
    assert_eq!(health["connectors"].as_array().unwrap().len(), 2);
    let unknown = studio.run(Some(&admin), &["connectors", "health", "nope"]);
    assert_eq!(
        unknown.status.code(),
        Some(2),
        "{}",
        studio.transcript(&unknown)
    );

    // Metrics.
    let (status, metrics) = get(&daemon.url("/metrics"));
    assert_eq!(status, 200);
    for series in [
        "brain_connector_requests_total{connector=\"hubitat\"}",
        "brain_connector_errors_total{connector=\"roborock\",kind=\"auth\"} 0",
        "brain_connector_breaker_state{connector=\"hubitat\"} 0",
        "brain_connector_last_success_age_seconds{connector=\"roborock\"}",
        "brain_connector_healthy{connector=\"hubitat\"} 1",
    ] {
        assert!(metrics.contains(series), "{series} missing:\n{metrics}");
    }

    // The console (anonymous viewing with `auth.mode: none`).
    let (status, cockpit) = get(&daemon.url("/"));
    assert_eq!(status, 200);
    assert!(cockpit.contains("data-health=\"healthy\""), "{cockpit}");
    let (status, page) = get(&daemon.url("/devices"));
    assert_eq!(status, 200);
    assert!(
        page.contains("Kiln Vent Fan") && page.contains("Studio Floor S7 MaxV"),
        "{page}"
    );
    assert!(!page.contains("sim-"), "a simulator token reached the page");

    // StudioState carries the devices the daemon recorded.
    let fixtures = crate::support::repo().join("examples/studio/cloud");
    let output = studio
        .command(Some(&admin))
        .env_remove("BRAIN_SERVER")
        .args([
            "--format", "json", "snapshot", "run", "--source", "fixtures", "--dir",
        ])
        .arg(&fixtures)
        .output()
        .unwrap();
    let snapshot: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        studio.transcript(&output)
    );
    assert_eq!(
        snapshot["state"]["devices"]["hubitat"]["devices"]
            .as_object()
            .unwrap()
            .len(),
        5,
        "{snapshot}"
    );
    assert_eq!(snapshot["state"]["devices"]["roborock"]["kind"], "roborock");

    // A kill switch on the target stops the polling: the request count stops moving.
    let (code, switched) = studio.json(
        &admin,
        &[
            "kill-switch",
            "on",
            "target:hubitat",
            "--reason",
            "hub firmware update",
        ],
    );
    assert_eq!(code, 0, "{switched}");
    assert!(
        eventually(Duration::from_secs(10), || api(
            "/api/v1/connectors/hubitat"
        )["paused"]
            .as_str()
            .is_some_and(|paused| paused.contains("KILL_SWITCH_ACTIVE"))),
        "{}",
        api("/api/v1/connectors/hubitat")
    );
    let (code, health) = studio.json(&admin, &["connectors", "health", "hubitat"]);
    assert_eq!(code, 1, "{health}");
    assert!(
        health["connectors"][0]["paused"]
            .as_str()
            .unwrap()
            .contains("KILL_SWITCH_ACTIVE"),
        "{health}"
    );
    let paused_at = api("/api/v1/connectors/hubitat")["requests"]
        .as_u64()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        api("/api/v1/connectors/hubitat")["requests"]
            .as_u64()
            .unwrap(),
        paused_at,
        "polling went on under a kill switch"
    );
    let roborock_before = api("/api/v1/connectors/roborock")["requests"]
        .as_u64()
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || api(
            "/api/v1/connectors/roborock"
        )["requests"]
            .as_u64()
            .unwrap()
            > roborock_before),
        "the roborock connector stopped too"
    );
    let (_, cockpit) = get(&daemon.url("/"));
    assert!(
        cockpit.contains("paused: reading is denied (KILL_SWITCH_ACTIVE)"),
        "{cockpit}"
    );
    // Off again: polling resumes.
    let (code, _) = studio.json(
        &admin,
        &[
            "kill-switch",
            "off",
            "target:hubitat",
            "--reason",
            "update done",
        ],
    );
    assert_eq!(code, 0);
    assert!(
        eventually(Duration::from_secs(10), || api(
            "/api/v1/connectors/hubitat"
        )["requests"]
            .as_u64()
            .unwrap()
            > paused_at),
        "polling did not resume"
    );
    let logs = daemon.logs();
    assert!(
        !logs.contains("access_token=") && !logs.contains("sim-"),
        "{logs}"
    );
}

/// `brain serve` against a hub the test controls: an auth failure stops the polling for good
/// (no retries, no more requests), while the other connector goes on; no token in the logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auth_failure_stops_the_daemons_polling_until_restart() {
    let mut devices = Devices::start("    poll_interval: 1s\n").await;
    tokio::task::block_in_place(|| devices.studio.through_daemon());
    let admin = devices.studio.admin.clone();
    let url = devices
        .studio
        .daemon
        .as_ref()
        .unwrap()
        .url("/api/v1/connectors/hubitat");
    let status = || {
        let url = url.clone();
        let admin = admin.clone();
        std::thread::spawn(move || {
            reqwest::blocking::Client::new()
                .get(url)
                .bearer_auth(admin)
                .send()
                .unwrap()
                .json::<Value>()
                .unwrap()
        })
        .join()
        .unwrap()
    };
    let healthy = tokio::task::block_in_place(|| {
        eventually(Duration::from_secs(20), || status()["health"] == "healthy")
    });
    assert!(healthy, "{}", status());
    let before = devices.hub.requests().len();
    devices.hub.set_fault(Fault::Unauthorized);
    let stopped = tokio::task::block_in_place(|| {
        eventually(Duration::from_secs(10), || {
            status()["polling_stopped"].is_string()
        })
    });
    assert!(stopped, "{}", status());
    let sent = devices.hub.requests().len();
    assert!(
        sent - before <= 1,
        "a refused token was sent again: {:?}",
        &devices.hub.requests()[before..]
    );
    devices.hub.set_fault(Fault::None);
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert_eq!(
        devices.hub.requests().len(),
        sent,
        "the connector went on polling after an auth failure"
    );
    let now = status();
    assert_eq!(now["health"], "down", "{now}");
    assert_eq!(
        now["errors"]["auth"], 1,
        "the auth failure was retried: {now}"
    );
    let logs = devices.studio.daemon.as_ref().unwrap().logs();
    assert!(logs.contains("polling stopped"), "{logs}");
    devices.assert_no_token(&logs);
    only_reads(&devices.hub.requests(), SimKind::Hubitat);
}

/// What people read: the list, and a health check of a device that does not answer.
#[test]
fn connectors_list_and_health_for_people() {
    let secrets = crate::support::temp_dir();
    let token = secrets.path().join("token");
    std::fs::write(&token, "hub-secret-4242\n").unwrap();
    let studio = Studio::new(
        Backend::Sqlite,
        &format!(
            "connectors:\n  - id: hubitat\n    kind: hubitat\n    base_url: http://127.0.0.1:1\n    app_id: \"12\"\n    token: {{ file: {} }}\n    timeout: 1s\n    poll_interval: 30s\n  - id: roborock\n    kind: roborock\n    base_url: sim://homeassistant\n    enabled: false\n",
            token.display()
        ),
    );
    let list = studio.run(Some(&studio.admin), &["connectors", "list"]);
    let health = studio.run(Some(&studio.admin), &["connectors", "health"]);
    let seconds = regex::Regex::new(r"\d+\.\ds").unwrap();
    let health_text = seconds
        .replace_all(&studio.transcript(&health), "[SECONDS]")
        .into_owned();
    assert!(!health_text.contains("hub-secret-4242"), "{health_text}");
    assert_eq!(health.status.code(), Some(1), "{health_text}");
    insta::assert_snapshot!("connectors_list", studio.transcript(&list));
    insta::assert_snapshot!("connectors_health_down", health_text);
}
