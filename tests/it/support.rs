//! Shared test helpers: run the real binary in a temp dir, normalise its output for snapshots,
//! start `brain serve` on an ephemeral port, and hand out fresh Postgres databases.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A temp dir that is removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("brain-test-")
        .tempdir()
        .expect("temp dir")
}

/// `brain` with a clean environment: no config from the caller, data under `data_dir`, no colour.
pub fn brain(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_brain"));
    command
        .current_dir(dir)
        .env_remove("BRAIN_CONFIG")
        .env_remove("BRAIN_LOG")
        .env_remove("RUST_LOG")
        .env_remove("FIRESTORE_EMULATOR_HOST")
        .env("BRAIN_DATA_DIR", dir.join("data"))
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .stdin(Stdio::null());
    command
}

/// Run to completion.
pub fn run(command: &mut Command) -> Output {
    command.output().expect("run brain")
}

/// Exit code, stdout and stderr as one text for snapshots, with temp paths and the version
/// replaced by placeholders.
pub fn transcript(output: &Output, dir: &Path) -> String {
    let code = output
        .status
        .code()
        .map_or_else(|| "signal".to_string(), |code| code.to_string());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    normalise(
        &format!("exit: {code}\n--- stdout\n{stdout}--- stderr\n{stderr}"),
        dir,
    )
}

/// Replace machine-specific text with placeholders.
pub fn normalise(text: &str, dir: &Path) -> String {
    let dir_text = dir.display().to_string();
    let canonical = dir
        .canonicalize()
        .map(|path| path.display().to_string())
        .unwrap_or_default();
    let repo_text = repo().display().to_string();
    let mut text = text.to_string();
    if !canonical.is_empty() {
        text = text.replace(&canonical, "[TMP]");
    }
    let text = text
        .replace(&dir_text, "[TMP]")
        .replace(&repo_text, "[REPO]")
        .replace(env!("CARGO_PKG_VERSION"), "[VERSION]");
    demo_hash_scrubbed(&text)
}

/// The embedded demo unpacks under `data/demo/<hash of its files>/`: the hash changes with any
/// edit to `examples/`, which says nothing about the output being tested.
fn demo_hash_scrubbed(text: &str) -> String {
    const MARK: &str = "data/demo/";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(MARK) {
        let (head, tail) = rest.split_at(at + MARK.len());
        out.push_str(head);
        let hash_len = tail.bytes().take_while(u8::is_ascii_hexdigit).count();
        if hash_len == 16 && tail[hash_len..].starts_with('/') {
            out.push_str("[DEMO]");
            rest = &tail[hash_len..];
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// A fresh, empty Postgres database when `BRAIN_TEST_DATABASE_URL` is set; dropped on drop.
pub struct PgDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl PgDatabase {
    pub fn create() -> Option<Self> {
        let admin_url = std::env::var("BRAIN_TEST_DATABASE_URL")
            .ok()
            .filter(|url| !url.is_empty())?;
        let name = format!("brain_test_{}", random_suffix());
        psql(&admin_url, &format!("CREATE DATABASE {name}"));
        let url = replace_database(&admin_url, &name);
        Some(Self {
            url,
            admin_url,
            name,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        psql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// Run one SQL statement with psql; panics with psql's message on failure.
pub fn psql(url: &str, sql: &str) {
    run_psql(url, sql, "-q");
}

/// The first column of the rows one query returns, with psql; panics on failure.
pub fn psql_column(url: &str, sql: &str) -> Vec<String> {
    String::from_utf8_lossy(&run_psql(url, sql, "-qtA"))
        .lines()
        .map(str::to_string)
        .collect()
}

/// psql with `flags` on one statement: its standard output; panics with its message on failure.
fn run_psql(url: &str, sql: &str, flags: &str) -> Vec<u8> {
    let output = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", flags, "-c", sql])
        .output()
        .expect("psql is installed");
    assert!(
        output.status.success(),
        "psql `{sql}`: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// `postgres://u@h:p/db?x` with the database replaced.
pub fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(base, query)| (base, Some(query)));
    let scheme_end = base.find("://").map_or(0, |index| index + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

pub fn random_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A running `brain serve`, killed on drop.
pub struct Daemon {
    pub child: Child,
    pub address: SocketAddr,
    pub stderr: Arc<Mutex<String>>,
}

impl Daemon {
    /// Start `brain serve --listen 127.0.0.1:0` in `dir` with `extra` arguments (before `serve`)
    /// and wait until it listens.
    pub fn start(dir: &Path, global_args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut command = brain(dir);
        command.args(global_args).args([
            "--log-format",
            "json",
            "serve",
            "--listen",
            "127.0.0.1:0",
        ]);
        for (key, value) in envs {
            command.env(key, value);
        }
        Self::spawn(command)
    }

    /// Spawn `command`, a `brain --log-format json serve` on an ephemeral port, with its
    /// stderr captured, and wait until it listens.
    pub fn spawn(mut command: Command) -> Self {
        command.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn brain serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (sender, receiver) = std::sync::mpsc::channel();
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
                sink.lock().unwrap().push_str(&line);
                sink.lock().unwrap().push('\n');
            }
        });
        let address = match receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(address) => address.parse().expect("address"),
            Err(_) => {
                let _ = child.kill();
                panic!("brain serve did not start:\n{}", log.lock().unwrap());
            }
        };
        Self {
            child,
            address,
            stderr: log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Send SIGTERM and wait for the exit status.
    pub fn terminate(self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        self.exit_status("SIGTERM")
    }

    /// Wait up to 30 s for the daemon to exit after `cause`; its exit status.
    pub fn exit_status(mut self, cause: &str) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "brain serve did not stop after {cause}:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Send SIGTERM, wait for the exit status, and hand back everything the daemon logged.
    pub fn terminate_with_logs(self) -> (std::process::ExitStatus, String) {
        let stderr = self.stderr.clone();
        let status = self.terminate();
        // The reader thread sees the end of the pipe right after the exit; give it a moment.
        eventually(Duration::from_secs(5), || {
            stderr.lock().unwrap().contains("shut down cleanly")
        });
        let logs = stderr.lock().unwrap().clone();
        (status, logs)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Poll `check` until it returns true or `timeout` passes.
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    check()
}

/// A blocking HTTP GET on loopback: status and body.
pub fn get(url: &str) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        match client.get(url).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.text().await.unwrap_or_default())
            }
            Err(error) => (0, error.to_string()),
        }
    })
}

/// Replace what differs between runs (tokens, times, hashes, signatures, generated ids, seconds
/// left) with stable placeholders; ids are numbered by first appearance (`[p1]`, `[a1]`, ...).
pub fn scrub(text: &str) -> String {
    use std::collections::HashMap;
    let token = regex::Regex::new(r"brn_[0-9a-f]{64}").unwrap();
    let time = regex::Regex::new(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
        .unwrap();
    let signature = regex::Regex::new(r"\b[0-9a-f]{128}\b").unwrap();
    let hash = regex::Regex::new(r"\b[0-9a-f]{64}\b").unwrap();
    let id = regex::Regex::new(r"\b([padx])_[0-9a-f]{12}\b").unwrap();
    let short_hash = regex::Regex::new(r"\(([0-9a-f]{16})\)").unwrap();
    let seconds = regex::Regex::new(r#""(seconds_left|retry_after)": \d+"#).unwrap();
    let left = regex::Regex::new(r"\b(in|after:) (\d+d \d+h|\d+h \d+m|\d+m|\d+s)\b").unwrap();
    let left_over = regex::Regex::new(r"\b(\d+d \d+h|\d+h \d+m|\d+m|\d+s) left\b").unwrap();
    // The built-in demo is written under a directory named by its content's hash.
    let demo = regex::Regex::new(r"demo/[0-9a-f]{16}/").unwrap();
    let text = token.replace_all(text, "[TOKEN]");
    let text = demo.replace_all(&text, "demo/[DEMO]/");
    let text = time.replace_all(&text, "[TIME]");
    let text = signature.replace_all(&text, "[SIGNATURE]");
    let text = hash.replace_all(&text, "[HASH]");
    let text = short_hash.replace_all(&text, "([SHORT HASH])");
    let text = seconds.replace_all(&text, "\"$1\": [SECONDS]");
    let text = left.replace_all(&text, "$1 [DURATION]");
    let text = left_over.replace_all(&text, "[DURATION] left");
    let mut numbering: HashMap<String, String> = HashMap::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    id.replace_all(&text, |captures: &regex::Captures| {
        let whole = captures[0].to_string();
        numbering
            .entry(whole)
            .or_insert_with(|| {
                let prefix = captures[1].to_string();
                let count = counts.entry(prefix.clone()).or_insert(0);
                *count += 1;
                format!("[{prefix}{count}]")
            })
            .clone()
    })
    .into_owned()
}

/// Copy a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

/// A TCP forwarder to `target` that a test can cut (every open connection dropped, new ones
/// closed as they arrive) and mend: a network partition between brain and its database.
pub struct Partition {
    pub port: u16,
    cut: Arc<std::sync::atomic::AtomicBool>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    open: Arc<Mutex<Vec<std::net::TcpStream>>>,
}

impl Partition {
    pub fn start(target: &str) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<std::net::TcpStream>>> = Arc::default();
        let (target, accept_cut, accept_stop, accept_open) =
            (target.to_string(), cut.clone(), stop.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if accept_stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                if accept_cut.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(&target) else {
                    continue;
                };
                let mut streams = accept_open.lock().unwrap();
                for (from, to) in [(&client, &server), (&server, &client)] {
                    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
                        continue;
                    };
                    streams.push(from.try_clone().unwrap());
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Self {
            port,
            cut,
            stop,
            open,
        }
    }

    /// A forwarder to the server of `url` (a `postgres://` URL), and the URL through it.
    pub fn to_database(url: &str) -> (Self, String) {
        let (start, end) = host_span(url);
        let partition = Self::start(&url[start..end]);
        let through = format!(
            "{}127.0.0.1:{}{}",
            &url[..start],
            partition.port,
            &url[end..]
        );
        (partition, through)
    }

    /// Drop every open connection and close new ones as they arrive.
    pub fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Forward new connections again.
    pub fn mend(&self) {
        self.cut.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.cut();
        // Wake the accepting thread so it sees `stop`.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Where `host:port` is in a `scheme://user@host:port/path` URL.
fn host_span(url: &str) -> (usize, usize) {
    let scheme_end = url.find("://").map_or(0, |index| index + 3);
    let authority_end = url[scheme_end..]
        .find(['/', '?'])
        .map_or(url.len(), |end| scheme_end + end);
    let start = url[scheme_end..authority_end]
        .rfind('@')
        .map_or(scheme_end, |at| scheme_end + at + 1);
    (start, authority_end)
}

fn no_redirects() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Sign in to the console of `daemon` with `token`: the session cookie.
pub fn sign_in(daemon: &Daemon, token: &str) -> String {
    let login = no_redirects().get(daemon.url("/login")).send().unwrap();
    let login_cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .expect("a login cookie")
        .to_string();
    let csrf = login_cookie.split('=').nth(1).unwrap().to_string();
    let signed_in = no_redirects()
        .post(daemon.url("/login"))
        .header("cookie", &login_cookie)
        .form(&[("token", token), ("csrf", csrf.as_str())])
        .send()
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 303);
    signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("brain_session="))
        .and_then(|value| value.split(';').next())
        .expect("a session cookie")
        .to_string()
}

/// A console page of `daemon` as the holder of session `cookie`: status and HTML.
pub fn console_page(daemon: &Daemon, cookie: &str, path: &str) -> (u16, String) {
    let response = no_redirects()
        .get(daemon.url(path))
        .header("cookie", cookie)
        .send()
        .unwrap();
    (
        response.status().as_u16(),
        response.text().unwrap_or_default(),
    )
}
