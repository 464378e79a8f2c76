//! The sandbox the daemon drills (`store-outage`, `leader-loss`) run in: a database of their own
//! on a PostgreSQL server, a studio directory of their own in a temporary directory (a
//! brain.yaml on that database, the studio's policy set plus the drill capability, a new
//! signing key in its data directory), and real `brain serve` processes on it, spoken to only
//! through their HTTP API. Nothing here touches the studio's own store or files; the database
//! and the directory are removed when the drill ends. A drill killed with `kill -9` runs no
//! clean-up: its daemons stop as their standard input closes, and a later drill removes the
//! database and directory it left (`leftovers.rs`).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::config::LoadedConfig;
use crate::engine::EngineError;
use crate::store::{StoreTarget, scratch};

use super::leftovers::{self, Kind};
use super::{DRILL_CAPABILITY, DRILL_CAPABILITY_ID, problem};

/// How long a daemon may take to listen, or a command to answer.
const START_LIMIT: Duration = Duration::from_secs(60);

/// The PostgreSQL server a daemon drill creates its database on: `--database-url`, else the
/// studio's own store when it is Postgres. SQLite is one daemon per file by design and cannot be
/// taken away from a daemon that holds it open, so these drills refuse it with the fix.
pub fn postgres_server(
    scenario: &str,
    studio: &LoadedConfig,
    database_url: Option<&str>,
) -> Result<String, EngineError> {
    if let Some(url) = database_url {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(url.to_string());
        }
        return Err(EngineError::invalid(
            format!(
                "`--database-url` must be a PostgreSQL URL, not `{}`",
                crate::store::redact_url(url)
            ),
            "pass `--database-url postgres://USER@HOST:PORT/DATABASE`",
        ));
    }
    if let Ok(StoreTarget::Postgres { url, .. }) = StoreTarget::from_config(studio) {
        return Ok(url.expose().to_string());
    }
    Err(EngineError::invalid(
        format!(
            "the `{scenario}` drill needs a PostgreSQL server, and this studio's store is SQLite"
        ),
        "pass `--database-url postgres://USER@HOST:PORT/DATABASE` (a role that may create \
         databases): the drill creates a database of its own there and drops it afterwards",
    ))
}

/// A database of the drill's own on the server; [`ScratchDatabase::remove`] drops it.
pub struct ScratchDatabase {
    pub admin_url: String,
    pub name: String,
    pub url: String,
}

impl ScratchDatabase {
    pub async fn create(admin_url: &str) -> Result<Self, EngineError> {
        leftovers::sweep_databases(admin_url).await;
        let name = leftovers::new_name(Kind::Database)?;
        let url = scratch::create(admin_url, &name).await.map_err(|error| {
            EngineError::invalid(
                format!("the drill could not create its database: {error}"),
                "pass `--database-url` with a role that may create databases (`CREATEDB`)",
            )
        })?;
        Ok(Self {
            admin_url: admin_url.to_string(),
            name,
            url,
        })
    }

    pub async fn take_away(&self) -> Result<(), EngineError> {
        Ok(scratch::take_away(&self.admin_url, &self.name).await?)
    }

    pub async fn give_back(&self) -> Result<(), EngineError> {
        Ok(scratch::give_back(&self.admin_url, &self.name).await?)
    }

    /// Drop the database; a failure is logged (the database is named, to drop by hand).
    pub async fn remove(self) {
        if let Err(error) = scratch::drop(&self.admin_url, &self.name).await {
            tracing::warn!(database = %self.name, error = %error, "could not drop the drill's database");
        }
    }
}

/// A studio directory of the drill's own on a scratch database, with its admin's token.
pub struct SandboxStudio {
    pub dir: PathBuf,
    database_url: String,
    pub token: String,
}

impl Drop for SandboxStudio {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn quoted(path: &Path) -> String {
    serde_json::to_string(&path.display().to_string()).unwrap_or_default()
}

fn copy_yaml_files(from: &Path, to: &Path) -> Result<(), EngineError> {
    let io = |error: std::io::Error| problem(format!("cannot copy `{}`: {error}", from.display()));
    std::fs::create_dir_all(to).map_err(io)?;
    for entry in std::fs::read_dir(from).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            if let Some(name) = path.file_name() {
                copy_yaml_files(&path, &to.join(name))?;
            }
        } else if let Some(name) = path.file_name() {
            std::fs::copy(&path, to.join(name)).map_err(io)?;
        }
    }
    Ok(())
}

impl SandboxStudio {
    /// A studio directory on `database` with `studio`'s policy set plus the drill capability;
    /// `extra` is appended to its brain.yaml. Its admin is bootstrapped with the real binary.
    pub async fn build(
        studio: &LoadedConfig,
        database: &ScratchDatabase,
        extra: &str,
    ) -> Result<Self, EngineError> {
        let dir = leftovers::new_directory()?;
        std::fs::create_dir_all(&dir)
            .map_err(|error| problem(format!("cannot create `{}`: {error}", dir.display())))?;
        let mut sandbox = Self {
            dir,
            database_url: database.url.clone(),
            token: String::new(),
        };
        let capabilities = sandbox.dir.join("capabilities");
        copy_yaml_files(&studio.capabilities_dir(), &capabilities)?;
        std::fs::write(
            capabilities.join(format!("{DRILL_CAPABILITY_ID}.yaml")),
            DRILL_CAPABILITY,
        )
        .map_err(|error| problem(error.to_string()))?;
        let mut policy = format!(
            "policy:\n  policies: {}\n  capabilities: capabilities\n  specs: {}\n  swarms: {}\n",
            quoted(&studio.policies_dir()),
            quoted(&studio.specs_dir()),
            quoted(&studio.swarms_dir()),
        );
        if studio.config.policy.state_model.is_some() {
            policy.push_str(&format!(
                "  state_model: {}\n",
                quoted(&studio.state_model_path())
            ));
        }
        if studio.config.policy.intake.is_some() {
            policy.push_str(&format!("  intake: {}\n", quoted(&studio.intake_path())));
        }
        let name = serde_json::to_string(&format!("{} (drill sandbox)", studio.config.studio.name))
            .unwrap_or_default();
        let zone = serde_json::to_string(&studio.config.studio.timezone).unwrap_or_default();
        std::fs::write(
            sandbox.dir.join("brain.yaml"),
            format!(
                "studio:\n  name: {name}\n  timezone: {zone}\ndata_dir: data\n{policy}\
                 store:\n  postgres:\n    url: {{ env: BRAIN_DATABASE_URL }}\n    connect_timeout: 1s\n{extra}"
            ),
        )
        .map_err(|error| problem(error.to_string()))?;
        let (ok, issued) = sandbox.cli_json(&["actor", "bootstrap"]).await?;
        sandbox.token = issued["token"]
            .as_str()
            .filter(|_| ok)
            .ok_or_else(|| problem(format!("the sandbox's bootstrap failed: {issued}")))?
            .to_string();
        Ok(sandbox)
    }

    /// The real binary, in the sandbox, on its database, with none of the caller's settings.
    fn command(&self) -> Result<Command, EngineError> {
        let exe = std::env::current_exe()
            .map_err(|error| problem(format!("cannot find the brain binary: {error}")))?;
        let mut command = Command::new(exe);
        command
            .current_dir(&self.dir)
            .arg("--config")
            .arg(self.dir.join("brain.yaml"))
            .env_remove("BRAIN_SERVER")
            .env_remove("BRAIN_TOKEN")
            .env_remove("BRAIN_CONFIG")
            .env("BRAIN_DATABASE_URL", &self.database_url)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        if !self.token.is_empty() {
            command.env("BRAIN_TOKEN", &self.token);
        }
        Ok(command)
    }

    /// `brain --format json ARGS` in the sandbox: whether it exited 0, and its JSON.
    pub async fn cli_json(&self, args: &[&str]) -> Result<(bool, Value), EngineError> {
        let mut command = self.command()?;
        command.args(["--format", "json"]).args(args);
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .map_err(|error| problem(error.to_string()))?
            .map_err(|error| problem(format!("cannot run brain: {error}")))?;
        let value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
            Value::String(String::from_utf8_lossy(&output.stderr).trim().to_string())
        });
        Ok((output.status.success(), value))
    }

    /// Start `brain serve` on a free loopback port and wait until it listens.
    pub async fn start_daemon(&self) -> Result<Daemon, EngineError> {
        let mut command = self.command()?;
        command
            .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
            // The daemon stops when this process does, even by `kill -9`: its stdin closes.
            .arg("--stop-when-stdin-closes")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .map_err(|error| problem(format!("cannot start brain serve: {error}")))?;
        let log = Arc::new(Mutex::new(String::new()));
        let (sender, receiver) = std::sync::mpsc::channel();
        if let Some(stderr) = child.stderr.take() {
            let sink = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(rest) = line.split("listening on http://").nth(1) {
                        let address: String = rest
                            .chars()
                            .take_while(|c| *c != '"' && !c.is_whitespace())
                            .collect();
                        let _ = sender.send(address);
                    }
                    if let Ok(mut log) = sink.lock() {
                        log.push_str(&line);
                        log.push('\n');
                    }
                }
            });
        }
        let mut daemon = Daemon {
            child,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
        };
        let started = Instant::now();
        loop {
            if let Ok(address) = receiver.try_recv() {
                daemon.address = address
                    .parse()
                    .map_err(|_| problem(format!("brain serve announced `{address}`")))?;
                return Ok(daemon);
            }
            let exited = daemon.child.try_wait().ok().flatten();
            if exited.is_some() || started.elapsed() > START_LIMIT {
                return Err(problem(format!(
                    "the sandbox's brain serve did not start:\n{}",
                    daemon.logs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A running `brain serve` of a sandbox; killed when dropped.
pub struct Daemon {
    child: Child,
    pub address: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Daemon {
    /// `http://ADDRESS`, for [`Client`].
    pub fn base(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Whether the process is still running (it was never restarted).
    pub fn still_running(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_none()
    }

    pub fn logs(&self) -> String {
        self.log.lock().map(|log| log.clone()).unwrap_or_default()
    }

    /// `kill -9`: no chance to release its lease or finish anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a request to a daemon came back with: the status (0 when no answer came) and the body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The status, the error body's code and its reason codes, as
    /// `503 store_unavailable (STORE_UNAVAILABLE)`.
    pub fn names_reason(&self, code: &str) -> bool {
        self.body["reason_codes"]
            .as_array()
            .is_some_and(|codes| codes.iter().any(|named| named == code))
    }

    pub fn refusal(&self) -> String {
        let error = &self.body;
        let reasons: Vec<&str> = error["reason_codes"]
            .as_array()
            .map(|codes| codes.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        format!(
            "{} {} ({})",
            self.status,
            error["code"].as_str().unwrap_or("no error code"),
            reasons.join(", ")
        )
    }
}

/// An HTTP client for the sandbox's daemons.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    token: String,
}

impl Client {
    pub fn new(token: &str) -> Result<Self, EngineError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| problem(error.to_string()))?;
        Ok(Self {
            http,
            token: token.to_string(),
        })
    }

    async fn answer(request: reqwest::RequestBuilder) -> Answer {
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                Answer {
                    status,
                    body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
                }
            }
            Err(error) => Answer {
                status: 0,
                body: Value::String(error.to_string()),
            },
        }
    }

    /// `GET base + path`; `base` is a daemon's [`Daemon::base`].
    pub async fn get(&self, base: &str, path: &str) -> Answer {
        Self::answer(
            self.http
                .get(format!("{base}{path}"))
                .bearer_auth(&self.token),
        )
        .await
    }

    pub async fn post(&self, base: &str, path: &str, body: &Value) -> Answer {
        Self::answer(
            self.http
                .post(format!("{base}{path}"))
                .bearer_auth(&self.token)
                .json(body),
        )
        .await
    }

    /// `POST /api/v1/proposals/{id}/{step}` (`approve`, `execute`) with an empty body.
    pub async fn step(&self, base: &str, id: &str, step: &str) -> Answer {
        self.post(
            base,
            &format!("/api/v1/proposals/{id}/{step}"),
            &serde_json::json!({}),
        )
        .await
    }

    /// Propose a drill note through `daemon`'s API.
    pub async fn propose(&self, base: &str, text: &str) -> Answer {
        self.post(
            base,
            "/api/v1/proposals",
            &serde_json::json!({
                "capability": DRILL_CAPABILITY_ID,
                "input": { "text": text },
                "rationale": format!("drill: {text}"),
            }),
        )
        .await
    }

    /// `GET /api/v1/audit/verify` through `daemon`: whether the chain verifies, and what it said.
    pub async fn chain_verifies(&self, base: &str) -> (bool, String) {
        let answer = self.get(base, "/api/v1/audit/verify").await;
        let report = &answer.body;
        let ok = answer.status == 200 && report["ok"] == true;
        let detail = if answer.status == 200 {
            format!(
                "{} events, {} problem(s)",
                report["events"],
                report["problems"].as_array().map_or(0, Vec::len)
            )
        } else {
            answer.refusal()
        };
        (ok, detail)
    }
}
