//! The staff console in a real headless Chromium, driven through ChromeDriver's WebDriver
//! protocol against a real `brain serve` on loopback: sign in, see a pending proposal, approve
//! and execute it, see a refusal with its reason, flip the kill switch and see the banner, and
//! a form post without its CSRF token refused; the StudioState page in each of its states
//! (no snapshot, cards with trend lines, the history, stale, partial); and the Drafts page (why
//! nothing is drafted yet, recommendation cards and post previews, approve and reject from the
//! page) with the cockpit's Swarms panel; and a proposal made from the New proposal page's
//! form (a problem shown beside its field, then proposed). Screenshots of each land in
//! `target/test-artifacts/console/`.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian's `chromium` and
//! `chromium-driver`, which `.ci/run` installs). Without them the test prints a notice and
//! passes, unless `BRAIN_REQUIRE_BROWSER` is set (as `.ci/run` does), when it fails.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::engine::{Backend, Studio};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A ChromeDriver process and one browser session, both ended on drop.
struct Driver {
    process: Child,
    client: reqwest::blocking::Client,
    base: String,
    session: String,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Driver {
    fn start() -> Option<Driver> {
        if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
            assert!(
                std::env::var_os("BRAIN_REQUIRE_BROWSER").is_none(),
                "BRAIN_REQUIRE_BROWSER is set but {CHROMIUM} or {CHROMEDRIVER} is missing: apt-get install chromium chromium-driver"
            );
            eprintln!("note: no Chromium/ChromeDriver here; skipping the browser tests");
            return None;
        }
        let port = free_port();
        let process = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.get(format!("{base}/status")).send().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                        format!("--user-data-dir={}", profile.path().display()),
                    ]
                }
            }}
        });
        let answer: Value = client
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .expect("new session")
            .json()
            .unwrap();
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {answer}"))
            .to_string();
        Some(Driver {
            process,
            client,
            base,
            session,
            _profile: profile,
        })
    }

    fn try_command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.client.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().unwrap().json().unwrap();
        match answer["value"].get("error") {
            Some(error) => Err(format!("{error}: {}", answer["value"]["message"])),
            None => Ok(answer["value"].clone()),
        }
    }

    fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_command(method, path, body)
            .unwrap_or_else(|error| panic!("webdriver {path}: {error}"))
    }

    /// Run `step` on the element `css`, finding it again while the page is still changing
    /// under it (a click's navigation leaves the old element stale; Chromium reports an element
    /// found just before the new document replaced the old one as not belonging to it).
    fn on_element(&self, css: &str, step: impl Fn(&str) -> Result<Value, String>) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let element = self.find(css);
            match step(&element) {
                Ok(value) => return value,
                Err(error)
                    if (error.contains("stale element")
                        || error.contains("does not belong to the document"))
                        && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(error) => panic!("webdriver on `{css}`: {error}"),
            }
        }
    }

    fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url })));
    }

    fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let url = format!("{}/session/{}/element", self.base, self.session);
            let answer: Value = self
                .client
                .post(url)
                .json(&json!({ "using": "css selector", "value": css }))
                .send()
                .unwrap()
                .json()
                .unwrap();
            if let Some(id) = answer["value"][ELEMENT].as_str() {
                return id.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no element `{css}` on the page: {}",
                self.source()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn click(&self, css: &str) {
        self.on_element(css, |element| {
            self.try_command(
                reqwest::Method::POST,
                &format!("/element/{element}/click"),
                Some(json!({})),
            )
        });
    }

    fn type_into(&self, css: &str, text: &str) {
        self.on_element(css, |element| {
            self.try_command(
                reqwest::Method::POST,
                &format!("/element/{element}/value"),
                Some(json!({ "text": text })),
            )
        });
    }

    fn clear(&self, css: &str) {
        self.on_element(css, |element| {
            self.try_command(
                reqwest::Method::POST,
                &format!("/element/{element}/clear"),
                Some(json!({})),
            )
        });
    }

    fn text(&self, css: &str) -> String {
        self.on_element(css, |element| {
            self.try_command(
                reqwest::Method::GET,
                &format!("/element/{element}/text"),
                None,
            )
        })
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// The text of `css` once it contains `expected` (a click's page load may still be on its
    /// way); the last text seen when it never does.
    fn wait_for_text(&self, css: &str, expected: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.text(css);
            if text.contains(expected) || Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn source(&self) -> String {
        self.command(reqwest::Method::GET, "/source", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn cookie(&self, name: &str) -> String {
        self.command(reqwest::Method::GET, &format!("/cookie/{name}"), None)["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Run `script` in the page (the test's own probe; the console itself has no script).
    fn script(&self, script: &str) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// A screenshot of the whole page, not only the window's height.
    fn screenshot_whole_page(&self, path: &Path) {
        let height = self
            .script("return document.documentElement.scrollHeight;")
            .as_u64()
            .unwrap_or(900)
            .clamp(900, 6_000);
        self.command(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({ "width": 1280, "height": height })),
        );
        self.screenshot(path);
        self.command(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({ "width": 1280, "height": 900 })),
        );
    }

    fn screenshot(&self, path: &Path) {
        self.save_screenshot(path, "/screenshot".to_string());
    }

    /// A screenshot of the element `css` alone.
    fn screenshot_element(&self, css: &str, path: &Path) {
        let element = self.find(css);
        // Chromium crops an element's screenshot to the window: bring all of it into view.
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({
                "script": "arguments[0].scrollIntoView({block: 'center'});",
                "args": [{ ELEMENT: element }],
            })),
        );
        self.save_screenshot(path, format!("/element/{element}/screenshot"));
    }

    fn save_screenshot(&self, path: &Path, command: String) {
        let data = self.command(reqwest::Method::GET, &command, None);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap())
            .unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self
            .client
            .delete(format!("{}/session/{}", self.base, self.session))
            .send();
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn artifacts() -> PathBuf {
    crate::support::repo().join("target/test-artifacts/console")
}

#[test]
fn staff_approve_execute_and_stop_everything_from_a_real_browser() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let mut studio = Studio::new(Backend::Sqlite, "");
    let bob = studio.add("staff:bob");
    let admin = studio.admin.clone();
    let id = studio.propose(
        &admin,
        "test.note.draft",
        r#"{"text": "Kiln 2 lid latch is loose"}"#,
    );
    let own = studio.propose(&bob, "test.note.draft", r#"{"text": "Glaze shelf is low"}"#);
    studio.through_daemon();
    let base = studio.daemon.as_ref().unwrap().url("");

    // Sign in with a token.
    driver.goto(&format!("{base}/login"));
    driver.type_into("#token", &bob);
    driver.click("#sign-in");
    assert!(driver.wait_for_text("h1", "Cockpit").contains("Cockpit"));
    assert_eq!(driver.text("#policy-mode"), "normal");
    assert!(driver.text("#pending-count").contains('2'));
    // The queue by risk tier and target, each a link to the filtered approvals page.
    let by = driver.text("#pending-by");
    assert!(by.contains("low 2") && by.contains("brain 2"), "{by}");
    assert_eq!(
        driver.script("return document.querySelector('#pending-by a').getAttribute('href');"),
        json!("/approvals?risk=low&state=pending_approval")
    );
    driver.screenshot(&artifacts().join("cockpit.png"));

    // The approvals queue shows the pending proposal; approve it and execute it.
    driver.goto(&format!("{base}/approvals"));
    assert!(driver.source().contains(&id));
    driver.screenshot(&artifacts().join("approvals.png"));
    driver.goto(&format!("{base}/proposals/{id}"));
    assert!(
        driver
            .text("#plan")
            .contains("record the draft inside brain")
    );
    driver.type_into("#comment", "checked the latch myself");
    driver.click("#approve");
    assert!(
        driver
            .wait_for_text("#flash", "approved")
            .contains("approved"),
        "{}",
        driver.source()
    );
    assert!(driver.text("#state").contains("approved"));
    driver.click("#execute");
    assert!(
        driver
            .wait_for_text("#flash", "succeeded")
            .contains("succeeded"),
        "{}",
        driver.source()
    );
    assert!(
        driver
            .wait_for_text("#state", "succeeded")
            .contains("succeeded")
    );

    // Approving one's own proposal is refused, with the reason in words.
    driver.goto(&format!("{base}/proposals/{own}"));
    driver.click("#approve");
    let refusal = driver.wait_for_text("#flash", "SELF_APPROVAL_FORBIDDEN");
    assert!(refusal.contains("SELF_APPROVAL_FORBIDDEN"), "{refusal}");
    assert!(
        refusal.contains("nobody approves what they asked for"),
        "{refusal}"
    );

    // One click (and a reason) turns the global kill switch on; the cockpit turns red.
    driver.goto(&format!("{base}/kill-switches"));
    driver.type_into("#on-reason", "smoke in the kiln room");
    driver.click("#global-on");
    assert!(driver.wait_for_text("#flash", "ON").contains("ON"));
    driver.goto(&format!("{base}/"));
    let banner = driver.text("#degraded");
    assert!(banner.contains("kill switch on: global"), "{banner}");
    // The policy mode names the switch, why it is on and who turned it on.
    let mode = driver.text("#policy-mode");
    assert!(mode.contains("global"), "{mode}");
    assert!(mode.contains("smoke in the kiln room"), "{mode}");
    assert!(mode.contains("staff:bob"), "{mode}");
    driver.screenshot(&artifacts().join("cockpit-kill-switch.png"));

    // A form post without its CSRF token is refused, even with the browser's own session.
    let session = driver.cookie("brain_session");
    assert!(!session.is_empty());
    let response = reqwest::blocking::Client::new()
        .post(format!("{base}/kill-switches"))
        .header("cookie", format!("brain_session={session}"))
        .form(&[("name", "global"), ("on", "false"), ("reason", "forged")])
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let (_, switches) = studio.json(&admin, &["kill-switch", "status"]);
    assert_eq!(
        switches["switches"][0]["on"], true,
        "the forged post changed nothing"
    );
    for name in ["cockpit.png", "approvals.png", "cockpit-kill-switch.png"] {
        assert!(artifacts().join(name).is_file(), "{name}");
    }
}

/// The StudioState page of a real `brain serve`, read in Chromium through every state it can be
/// in: no snapshot, cards with trend lines once two snapshots exist, the history, stale once
/// `snapshot_stale_after` passes, and partial when a collection cannot be read. Each state is
/// named on the page; none is a blank page.
#[test]
fn the_studio_state_page_shows_each_state_in_a_real_browser() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let stale_after = Duration::from_secs(10);
    let studio = Studio::new(Backend::Sqlite, "  snapshot_stale_after: 10s\n");
    let admin = studio.admin.clone();
    let cloud = crate::support::temp_dir();
    crate::support::copy_dir(
        &crate::support::repo().join("examples/studio/cloud"),
        cloud.path(),
    );
    let daemon = studio.start_daemon();
    let base = daemon.url("");
    let snapshot = |expected: i32| {
        let output = studio.run(
            Some(&admin),
            &[
                "snapshot",
                "run",
                "--source",
                "fixtures",
                "--dir",
                cloud.path().to_str().unwrap(),
            ],
        );
        assert_eq!(
            output.status.code(),
            Some(expected),
            "{}",
            studio.transcript(&output)
        );
    };
    let visible_text = || {
        driver
            .script("return document.querySelector('main').innerText;")
            .as_str()
            .unwrap_or_default()
            .to_string()
    };

    driver.goto(&format!("{base}/login"));
    driver.type_into("#token", &admin);
    driver.click("#sign-in");
    assert!(driver.wait_for_text("h1", "Cockpit").contains("Cockpit"));

    // No snapshot yet: said in words, with how to make one.
    driver.goto(&format!("{base}/studio-state"));
    assert_eq!(driver.text("h1"), "StudioState");
    assert!(driver.text("#no-snapshot").contains("No snapshot yet"));
    assert!(driver.text(".derived").contains("derived from cloud"));
    driver.screenshot(&artifacts().join("studio-state-empty.png"));

    // Two snapshots, the cloud changed in between and one value unknown to the state model:
    // a card per queue, each with a trend line.
    let draft = cloud.path().join("batches/b-2026-045.json");
    let text = std::fs::read_to_string(&draft).unwrap();
    std::fs::write(&draft, text.replace("\"DRAFT\"", "\"GLAZED\"")).unwrap();
    snapshot(0);
    driver.goto(&format!("{base}/studio-state"));
    assert!(driver.text("#card-batches .count").contains('5'));
    assert!(
        !driver.source().contains("class=\"chart sparkline\""),
        "no trend line from one snapshot"
    );
    let reservation = cloud.path().join("reservations/r-001.json");
    let text = std::fs::read_to_string(&reservation).unwrap();
    std::fs::write(&reservation, text.replace("\"REQUESTED\"", "\"CANCELLED\"")).unwrap();
    snapshot(0);
    let second_at = Instant::now();
    driver.goto(&format!("{base}/studio-state"));
    let cards = driver.script("return document.querySelectorAll('article.card').length;");
    assert_eq!(cards, json!(12), "{}", driver.source());
    assert_eq!(driver.text("#card-reservations .count"), "5");
    assert!(
        driver
            .text("#card-reservations .delta")
            .contains("since the previous snapshot (was 6)")
    );
    // Every card draws its trend: a visible SVG line with its numbers in words.
    let drawn = driver.script(
        "return Array.from(document.querySelectorAll('article.card svg.sparkline')).map(svg => { \
           const box = svg.getBoundingClientRect(); const line = svg.querySelector('.chart-line'); \
           return { width: box.width, height: box.height, line: line ? line.getTotalLength() : 0, \
                    label: svg.getAttribute('aria-label') }; });",
    );
    let drawn = drawn.as_array().unwrap();
    assert_eq!(drawn.len(), 12, "{drawn:?}");
    for chart in drawn {
        assert!(chart["width"].as_f64().unwrap() > 100.0, "{chart}");
        assert!(chart["height"].as_f64().unwrap() >= 30.0, "{chart}");
        assert!(chart["line"].as_f64().unwrap() > 50.0, "{chart}");
        assert!(
            chart["label"].as_str().unwrap().contains("2 snapshots"),
            "{chart}"
        );
    }
    let unclassified = driver.text("#unclassified-batches");
    assert!(unclassified.contains("GLAZED"), "{unclassified}");
    assert!(
        unclassified.contains("brain snapshot explain --collection batches"),
        "{unclassified}"
    );
    driver.screenshot_whole_page(&artifacts().join("studio-state-cards.png"));
    driver.screenshot_element(
        "#card-reservations",
        &artifacts().join("studio-state-card.png"),
    );

    // The history: both snapshots, the newer's changes field by field.
    driver.click("nav.subnav a[href='/studio-state/history']");
    assert!(
        driver
            .wait_for_text("#history-intro", "2 snapshots")
            .contains("2 snapshots")
    );
    assert!(driver.text("main").contains("Reservations: in the queue"));
    assert!(driver.text(".derived").contains("derived from cloud"));
    driver.screenshot_whole_page(&artifacts().join("studio-state-history.png"));

    // Once `snapshot_stale_after` has passed: stale, and why, before anything else.
    std::thread::sleep(stale_after.saturating_sub(second_at.elapsed()) + Duration::from_secs(1));
    driver.goto(&format!("{base}/studio-state"));
    let stale = driver.text("#state-stale");
    assert!(
        stale.contains("Stale: the newest snapshot is older than 10s"),
        "{stale}"
    );
    assert!(driver.text("#degraded").contains("StudioState is stale"));
    assert_eq!(driver.text("#card-reservations .count"), "5");
    driver.screenshot(&artifacts().join("studio-state-stale.png"));

    // A collection that cannot be read: partial, named, and its card says so.
    std::fs::remove_dir_all(cloud.path().join("kilnFirings")).unwrap();
    snapshot(1);
    driver.goto(&format!("{base}/studio-state"));
    let partial = driver.text("#state-partial");
    assert!(
        partial.contains("Partial: 1 collection not read"),
        "{partial}"
    );
    assert!(partial.contains("Kiln firings"), "{partial}");
    assert_eq!(driver.text("#card-kilnFirings .count"), "not read");
    assert!(visible_text().contains("derived from cloud"));
    driver.screenshot_whole_page(&artifacts().join("studio-state-partial.png"));

    for name in [
        "studio-state-empty.png",
        "studio-state-cards.png",
        "studio-state-card.png",
        "studio-state-history.png",
        "studio-state-stale.png",
        "studio-state-partial.png",
    ] {
        assert!(artifacts().join(name).is_file(), "{name}");
    }
    drop(daemon);
}

/// The Drafts page of a real `brain serve`, in Chromium: before any swarm may run it says why
/// nothing is drafted; after the demo studio's swarms ran it shows recommendation cards and
/// post previews; approving a draft and rejecting another with a reason from the page come back
/// to the page with the card gone from the open drafts and the acceptance rates moved; the
/// cockpit shows each swarm's last run and open drafts.
#[test]
fn drafts_are_reviewed_and_approved_from_the_drafts_page_in_a_real_browser() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let cloud = crate::support::temp_dir();
    crate::support::copy_dir(
        &crate::support::repo().join("examples/studio/cloud"),
        cloud.path(),
    );
    let studio = Studio::new(
        Backend::Sqlite,
        &format!(
            "swarms:\n  ops:\n    agent: agent:ops-swarm\n    owner: staff:admin\n  marketing:\n    agent: agent:marketing-swarm\n    owner: staff:admin\ncloud:\n  fixtures:\n    dir: {}\n",
            cloud.path().display()
        ),
    );
    crate::support::copy_dir(
        &crate::support::repo().join("swarms"),
        &studio.path().join("swarms"),
    );
    let admin = studio.admin.clone();
    let sign_in = |base: &str| {
        driver.goto(&format!("{base}/login"));
        driver.type_into("#token", &admin);
        driver.click("#sign-in");
        assert!(driver.wait_for_text("h1", "Cockpit").contains("Cockpit"));
    };

    // Nothing may run yet: the page says so, and what to do.
    let daemon = studio.start_daemon();
    let base = daemon.url("");
    sign_in(&base);
    driver.goto(&format!("{base}/drafts"));
    assert_eq!(driver.text("h1"), "Drafts");
    assert!(driver.text("#no-drafts").contains("brain swarm enroll ops"));
    assert!(
        driver
            .text("#swarm-ops-cannot-run")
            .contains("DELEGATION_MISSING")
    );
    driver.screenshot_whole_page(&artifacts().join("drafts-empty.png"));
    drop(daemon);

    // Enrolled, a snapshot, one run of each swarm.
    for name in ["ops", "marketing"] {
        let (code, enrolled) = studio.json(&admin, &["swarm", "enroll", name]);
        assert_eq!(code, 0, "{enrolled}");
    }
    let output = studio.run(Some(&admin), &["snapshot", "run"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        studio.transcript(&output)
    );
    let (code, ops) = studio.json(&admin, &["swarm", "run", "ops"]);
    assert_eq!(code, 0, "{ops}");
    let (code, marketing) = studio.json(&admin, &["swarm", "run", "marketing"]);
    assert_eq!(code, 0, "{marketing}");
    let proposal = |report: &Value, rule: &str, subject: &str| -> String {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|finding| finding["rule"]["id"] == rule && finding["subject"] == subject)
            .and_then(|finding| finding["proposal_id"].as_str())
            .unwrap_or_else(|| panic!("no proposed `{rule}` finding about `{subject}`: {report}"))
            .to_string()
    };
    let stalled = proposal(&ops, "stalled_batch", "batches/b-2026-041");
    let overdue = proposal(&ops, "overdue_firing", "kilnFirings/f-bisque-1202");
    let post = proposal(&marketing, "firing_completed", "kilnFirings/f-glaze-1201");
    let emitted = |report: &Value| -> u64 {
        report["rules"]
            .as_object()
            .unwrap()
            .values()
            .map(|tally| tally["emitted"].as_u64().unwrap())
            .sum()
    };
    let total = emitted(&ops) + emitted(&marketing);

    let daemon = studio.start_daemon();
    let base = daemon.url("");
    sign_in(&base);
    driver.goto(&format!("{base}/drafts"));
    let cards = driver.script("return document.querySelectorAll('article.draft-card').length;");
    assert_eq!(cards, json!(total), "{}", driver.source());
    assert!(
        driver
            .text(&format!("#draft-{stalled} h4"))
            .contains("Batch b-2026-041 (Stoneware mugs, member class) stalled in SUBMITTED")
    );
    assert!(
        driver
            .text(&format!("#draft-{stalled} ul.evidence"))
            .contains("batches/b-2026-041: state = SUBMITTED")
    );
    let preview = driver.text(&format!("#draft-{post} .post-preview"));
    assert!(preview.contains("Instagram post"), "{preview}");
    assert!(preview.contains("Skutt 1027"), "{preview}");
    // The post preview is laid out as a post: a visible box with its body in it.
    let shape = driver.script(&format!(
        "const body = document.querySelector('#draft-{post} .post-body').getBoundingClientRect(); \
         return {{ width: body.width, height: body.height }};"
    ));
    assert!(shape["width"].as_f64().unwrap() > 200.0, "{shape}");
    assert!(shape["height"].as_f64().unwrap() > 40.0, "{shape}");
    driver.screenshot_whole_page(&artifacts().join("drafts.png"));
    driver.screenshot_element(
        &format!("#draft-{stalled}"),
        &artifacts().join("drafts-recommendation.png"),
    );
    driver.screenshot_element(
        &format!("#draft-{post}"),
        &artifacts().join("drafts-post.png"),
    );

    // Approve one from its card: back on the Drafts page, its card gone from the open drafts.
    driver.click(&format!("#approve-{stalled}"));
    let flash = driver.wait_for_text("#flash", "approved");
    assert!(flash.contains(&format!("approved {stalled}")), "{flash}");
    assert_eq!(driver.script("return location.pathname;"), json!("/drafts"));
    let gone = format!("return document.getElementById('draft-{stalled}') === null;");
    assert_eq!(driver.script(&gone), json!(true));
    assert!(
        driver
            .text("#acceptance-ops-stalled_batch")
            .contains("100%")
    );
    // Reject another with a reason.
    driver.type_into(
        &format!("#reason-{overdue}"),
        "the firing ran; the log was late",
    );
    driver.click(&format!("#reject-{overdue}"));
    let flash = driver.wait_for_text("#flash", "rejected");
    assert!(flash.contains(&format!("rejected {overdue}")), "{flash}");
    let open = driver.script("return document.querySelectorAll('article.draft-card').length;");
    assert_eq!(open, json!(total - 2));
    driver.goto(&format!("{base}/drafts?state=rejected"));
    assert!(
        driver
            .text(&format!("#draft-{overdue} .draft-foot"))
            .contains("the firing ran; the log was late")
    );
    driver.goto(&format!("{base}/drafts"));
    driver.screenshot_element("#acceptance", &artifacts().join("drafts-acceptance.png"));

    // The cockpit's Swarms panel: last runs and open drafts, linking to the page.
    driver.goto(&format!("{base}/"));
    let panel = driver.text("#swarm-ops");
    assert!(panel.contains("completed"), "{panel}");
    assert!(
        panel.contains(&format!("{} open drafts", emitted(&ops) - 2)),
        "{panel}"
    );
    driver.click("#open-drafts-ops");
    assert!(
        driver
            .wait_for_text("#draft-count", "open")
            .contains("open")
    );
    assert_eq!(
        driver.script("return location.search;"),
        json!("?swarm=ops")
    );
    driver.goto(&format!("{base}/"));
    driver.screenshot(&artifacts().join("cockpit-swarms.png"));

    for name in [
        "drafts-empty.png",
        "drafts.png",
        "drafts-recommendation.png",
        "drafts-post.png",
        "drafts-acceptance.png",
        "cockpit-swarms.png",
    ] {
        assert!(artifacts().join(name).is_file(), "{name}");
    }
    drop(daemon);
}

/// The intake review queue in a real browser: empty, then a routed proposal with its banner,
/// overridden from the queue's form by another staff member.
#[test]
fn a_routed_proposal_is_reviewed_from_the_intake_queue_in_a_real_browser() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let studio = Studio::new(Backend::Sqlite, "");
    let admin = studio.admin.clone();
    let daemon = studio.start_daemon();
    let base = daemon.url("");
    driver.goto(&format!("{base}/login"));
    driver.type_into("#token", &admin);
    driver.click("#sign-in");
    assert!(driver.wait_for_text("h1", "Cockpit").contains("Cockpit"));
    driver.goto(&format!("{base}/intake"));
    assert_eq!(driver.text("h1"), "Intake review");
    assert!(
        driver
            .text("#nothing-routed")
            .contains("Nothing was routed to review")
    );
    driver.screenshot_whole_page(&artifacts().join("intake-empty.png"));

    let (_, bob) = studio.json(&admin, &["actor", "add", "staff:bob"]);
    let (code, routed) = studio.json(
        bob["token"].as_str().unwrap(),
        &[
            "propose",
            "test.note.draft",
            "--input",
            r#"{"text": "Copy the Pikachu design onto 50 mugs to sell, no licence needed"}"#,
            "--rationale",
            "a member asked at the counter",
        ],
    );
    assert_eq!(code, 0, "{routed}");
    let id = routed["id"].as_str().unwrap();
    driver.goto(&format!("{base}/proposals/{id}"));
    assert!(
        driver
            .text("#intake-banner")
            .contains("Routed to human review: ip infringement")
    );
    driver.screenshot_whole_page(&artifacts().join("intake-banner.png"));
    driver.goto(&format!("{base}/intake"));
    assert!(driver.text("#waiting").contains("Waiting for review (1)"));
    let slug: String = id
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() {
                character
            } else {
                '-'
            }
        })
        .collect();
    driver.type_into(&format!("#code-{slug}"), "LICENSED_DESIGN");
    driver.type_into(
        &format!("#note-{slug}"),
        "the studio holds a licence for this run",
    );
    driver.screenshot_whole_page(&artifacts().join("intake-queue.png"));
    driver.click(&format!("#grant-{slug}"));
    assert!(
        driver
            .wait_for_text("#decided", "Reviewed (1)")
            .contains("Reviewed (1)")
    );
    let (code, approved) = studio.json(&admin, &["approve", id]);
    assert_eq!(code, 0, "granted, it is approvable: {approved}");
}

/// The cockpit's objectives in Chromium: tiles without data on a fresh studio, a tile turning
/// critical after a slow review, and under the global kill switch the degraded banner and the
/// read-only mode (no action control visible, the switches' own still there).
#[test]
fn the_cockpit_shows_objectives_and_the_read_only_mode_in_a_real_browser() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let mut studio = Studio::new(
        Backend::Sqlite,
        "slos:\n  heartbeat_gap: 1m\n  objectives:\n    - id: review-instant\n      indicator: review_median\n      title: Reviews at once\n      target: 0\n      critical: 0\n      owner: staff:admin\n      on_call: ask the front desk\n    - id: uptime\n      indicator: brain_uptime\n      target: 99\n      critical: 95\n      owner: staff:admin\n",
    );
    let bob = studio.add("staff:bob");
    let admin = studio.admin.clone();
    studio.through_daemon();
    let base = studio.daemon.as_ref().unwrap().url("");
    driver.goto(&format!("{base}/login"));
    driver.type_into("#token", &bob);
    driver.click("#sign-in");
    assert!(driver.wait_for_text("h1", "Cockpit").contains("Cockpit"));
    // Empty: no review yet, so no data rather than a number.
    let tile = driver.text("#slo-review-instant");
    assert!(tile.contains("no data"), "{tile}");
    assert!(tile.contains("no breach recorded"), "{tile}");
    assert!(driver.text("#slo-uptime").contains("ok"));
    assert!(driver.text("#timeline").contains("manage_actors"));
    driver.screenshot_whole_page(&artifacts().join("cockpit-objectives-empty.png"));

    // A review that took longer than zero: the tile turns critical.
    let id = studio.propose(&admin, "test.note.draft", r#"{"text": "Kiln 3 is loud"}"#);
    std::thread::sleep(Duration::from_millis(1_100));
    assert_eq!(studio.json(&bob, &["approve", &id]).0, 0);
    driver.goto(&format!("{base}/"));
    let tile = driver.text("#slo-review-instant");
    assert!(tile.contains("CRITICAL"), "{tile}");
    assert!(
        driver
            .text("#slos-summary")
            .contains("1 objective(s) breached")
    );
    driver.screenshot_element("#slos", &artifacts().join("cockpit-objectives-breach.png"));
    // The review is today's point on the review-time chart; the chart says it in words.
    assert_eq!(
        driver.script("return document.querySelector('#trend-review').dataset.points;"),
        json!("1")
    );
    let words = driver
        .script("return document.querySelector('#trend-review svg').getAttribute('aria-label');");
    assert!(words.as_str().unwrap().contains("hours"), "{words}");
    assert!(
        driver.text("#trend-freshness").contains("no"),
        "{}",
        driver.text("#trend-freshness")
    );
    driver.screenshot_element("#trends", &artifacts().join("cockpit-trends.png"));

    // Degraded and read-only: the global switch is on.
    let own = studio.propose(
        &admin,
        "test.note.draft",
        r#"{"text": "Glaze shelf is low"}"#,
    );
    assert_eq!(
        studio
            .json(
                &admin,
                &["kill-switch", "on", "--reason", "smoke in the kiln room"]
            )
            .0,
        0
    );
    driver.goto(&format!("{base}/"));
    assert!(driver.text("#degraded").contains("kill switch on: global"));
    assert!(driver.text("#read-only").contains("smoke in the kiln room"));
    driver.screenshot_whole_page(&artifacts().join("cockpit-read-only.png"));
    driver.goto(&format!("{base}/proposals/{own}"));
    let visible = driver.script(
        "return [...document.querySelectorAll('main form[method=post]')].filter(f => f.offsetParent !== null).length;",
    );
    assert_eq!(visible, json!(0), "{}", driver.source());
    driver.goto(&format!("{base}/kill-switches"));
    let visible =
        driver.script("return document.querySelector('#global-off').offsetParent !== null;");
    assert_eq!(visible, json!(true));
    for name in [
        "cockpit-objectives-empty.png",
        "cockpit-objectives-breach.png",
        "cockpit-read-only.png",
    ] {
        assert!(artifacts().join(name).is_file(), "{name}");
    }
}

#[test]
fn the_cockpit_names_an_unreachable_store_and_comes_back_by_itself_in_a_real_browser() {
    let Some(database) = crate::support::PgDatabase::create() else {
        eprintln!(
            "note: BRAIN_TEST_DATABASE_URL is not set; the store-unreachable cockpit needs a store that can go away"
        );
        return;
    };
    let Some(driver) = Driver::start() else {
        return;
    };
    let mut studio = Studio::new(Backend::Postgres(database), "");
    let bob = studio.add("staff:bob");
    // The daemon reaches its database through a forwarder the test can cut.
    let (partition, through) =
        crate::support::Partition::to_database(studio.database_url.as_deref().unwrap());
    studio.database_url = Some(through);
    studio.through_daemon();
    let base = studio.daemon.as_ref().unwrap().url("");
    driver.goto(&format!("{base}/login"));
    driver.type_into("#token", &bob);
    driver.click("#sign-in");
    assert!(driver.wait_for_text("h1", "Cockpit").contains("Cockpit"));
    assert!(driver.text("#slos").contains("Objectives"));
    assert_eq!(
        driver.script("return !!document.querySelector('#slos-error');"),
        json!(false)
    );
    // The daemons panel: this one, leading, with its heartbeat.
    let daemons = crate::support::eventually(Duration::from_secs(10), || {
        driver.goto(&format!("{base}/"));
        driver.script("return !!document.querySelector('#cluster-members');") == json!(true)
    });
    assert!(daemons, "{}", driver.source());
    let members = driver.text("#cluster-members").to_lowercase();
    assert!(
        members.contains("this page") && members.contains("leader"),
        "{members}"
    );
    assert!(driver.text("#cluster-leader").contains("Leader"));

    partition.cut();
    driver.goto(&format!("{base}/"));
    let store = driver.wait_for_text("#store-state", "unreachable");
    assert!(store.contains("unreachable"), "{store}");
    assert!(
        driver
            .text("#degraded")
            .contains("the store is unreachable"),
        "{}",
        driver.source()
    );
    assert!(driver.text("#read-only").contains("store is unreachable"));
    assert!(
        driver
            .text("#policy-mode")
            .contains("treated as kill switch on")
    );
    for panel in [
        "slos",
        "studio-state",
        "connectors",
        "swarms",
        "trends",
        "drills",
        "cluster",
        "timeline",
    ] {
        let text = driver.text(&format!("#{panel}-error"));
        assert!(text.contains("does not answer"), "{panel}: {text}");
    }
    let visible = driver.script(
        "return [...document.querySelectorAll('form[method=post]')].filter(f => f.offsetParent !== null).length;",
    );
    assert_eq!(visible, json!(0), "no control acts while the store is down");
    driver.screenshot_whole_page(&artifacts().join("cockpit-store-unreachable.png"));
    let (status, _) = crate::support::get(&format!("{base}/readyz"));
    assert_eq!(status, 503);
    driver.goto(&format!("{base}/approvals"));
    assert!(driver.text("#page-error").contains("does not answer"));

    // The store answers again: the same session sees the cockpit, without a restart.
    partition.mend();
    let back = crate::support::eventually(Duration::from_secs(30), || {
        driver.goto(&format!("{base}/"));
        driver.script(
            "return !!document.querySelector('#slos') && !document.querySelector('#store-state');",
        ) == json!(true)
    });
    assert!(back, "{}", driver.source());
    assert!(driver.text("#policy-mode").contains("normal"));
    assert!(artifacts().join("cockpit-store-unreachable.png").is_file());
}

/// The New proposal page in Chromium: pick a capability, fill the form its input schema makes,
/// see a field's problem shown beside it with every value kept, fix it and propose; the
/// proposal's page says it is waiting for approval.
#[test]
fn a_proposal_is_made_from_the_new_proposal_form_in_a_real_browser() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let mut studio = Studio::new(Backend::Sqlite, "");
    let bob = studio.add("staff:bob");
    studio.through_daemon();
    let base = studio.daemon.as_ref().unwrap().url("");

    driver.goto(&format!("{base}/login"));
    driver.type_into("#token", &bob);
    driver.click("#sign-in");
    assert!(driver.wait_for_text("h1", "Cockpit").contains("Cockpit"));
    driver.click("header nav a[href='/proposals/new']");
    assert!(
        driver
            .wait_for_text("h1", "New proposal")
            .contains("New proposal")
    );
    driver.click("#capability option[value='marketing.post.draft']");
    driver.click("#choose");
    assert!(
        driver
            .wait_for_text("#propose-form", "Rationale")
            .contains("Rationale")
    );
    driver.click("#field-channel option[value='newsletter']");
    driver.type_into(
        "#field-body",
        "Glaze night is back on Friday: bring a bisqued piece, we bring the glazes.",
    );
    driver.type_into("#field-confidence", "0.9");
    // Not JSON: the form comes back with the problem beside the field and the values kept.
    driver.type_into("#field-rule", "{id: glaze-night");
    driver.type_into("#rationale", "The newsletter goes out on Thursday");
    driver.screenshot_whole_page(&artifacts().join("proposal-new-form.png"));
    driver.click("#propose");
    let problem = driver.wait_for_text("#problem-field-rule", "not valid JSON");
    assert!(problem.contains("not valid JSON"), "{}", driver.source());
    let kept = driver.script(
        "return [document.querySelector('#field-body').value, document.querySelector('#field-channel').value, document.querySelector('#rationale').value];",
    );
    assert_eq!(
        kept,
        json!([
            "Glaze night is back on Friday: bring a bisqued piece, we bring the glazes.",
            "newsletter",
            "The newsletter goes out on Thursday"
        ])
    );
    driver.screenshot_whole_page(&artifacts().join("proposal-new-problem.png"));
    driver.clear("#field-rule");
    driver.click("#propose");
    let flash = driver.wait_for_text("#flash", "proposed");
    assert!(flash.contains("it is pending approval"), "{flash}");
    assert!(driver.text("#state").contains("pending approval"));
    let source = driver.source();
    assert!(source.contains("Glaze night is back on Friday"), "{source}");
    driver.screenshot_whole_page(&artifacts().join("proposal-new-done.png"));
    let (_, listed) = studio.json(&studio.admin, &["proposals"]);
    let proposals = listed.as_array().unwrap();
    assert_eq!(proposals.len(), 1, "{listed}");
    assert_eq!(proposals[0]["proposer"], "staff:bob");
    assert_eq!(proposals[0]["input"]["channel"], "newsletter");
    for name in [
        "proposal-new-form.png",
        "proposal-new-problem.png",
        "proposal-new-done.png",
    ] {
        assert!(artifacts().join(name).is_file(), "{name}");
    }
}
