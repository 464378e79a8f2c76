//! The staff console through the router, without a browser or a port: sign-in with a token,
//! the session cookie's attributes, CSRF on every form, actions decided by the Engine with
//! refusals in words, the degraded banner, escaping, and no secret on any page.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;
use tower::ServiceExt;

use crate::api::Api;

/// A signed-in browser: the session cookie and the page's CSRF token.
struct Browser<'a> {
    api: &'a Api,
    cookie: String,
    csrf: String,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    set_cookies: Vec<String>,
    html: String,
}

async fn send(api: &Api, request: Request<Body>) -> Page {
    let response = api.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|value| value.to_str().unwrap().to_string());
    let set_cookies = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_string())
        .collect();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    Page {
        status,
        location,
        set_cookies,
        html: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn value_of<'a>(html: &'a str, name: &str) -> &'a str {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no `{name}` field in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    &html[start..end]
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(key, value)| {
            format!(
                "{key}={}",
                value
                    .bytes()
                    .map(|byte| if byte.is_ascii_alphanumeric() {
                        char::from(byte).to_string()
                    } else {
                        format!("%{byte:02X}")
                    })
                    .collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

impl<'a> Browser<'a> {
    async fn sign_in(api: &'a Api, token: &str) -> Browser<'a> {
        let login = send(api, Request::get("/login").body(Body::empty()).unwrap()).await;
        assert_eq!(login.status, StatusCode::OK);
        let login_cookie = cookie_value(&login.set_cookies[0]);
        let csrf = value_of(&login.html, "csrf").to_string();
        let signed_in = send(
            api,
            Request::post("/login")
                .header(header::COOKIE, &login_cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form(&[("token", token), ("csrf", &csrf)])))
                .unwrap(),
        )
        .await;
        assert_eq!(
            signed_in.status,
            StatusCode::SEE_OTHER,
            "{}",
            signed_in.html
        );
        let session = signed_in
            .set_cookies
            .iter()
            .find(|cookie| cookie.starts_with("brain_session="))
            .expect("a session cookie")
            .clone();
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
            assert!(session.contains(attribute), "`{attribute}` in {session}");
        }
        let mut browser = Browser {
            api,
            cookie: cookie_value(&session),
            csrf: String::new(),
        };
        let cockpit = browser.get("/").await;
        browser.csrf = value_of(&cockpit.html, "csrf").to_string();
        browser
    }

    async fn get(&self, path: &str) -> Page {
        send(
            self.api,
            Request::get(path)
                .header(header::COOKIE, &self.cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    /// Submit a form with the session's CSRF token; follow the redirect to the next page.
    async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut fields = fields.to_vec();
        fields.push(("csrf", &self.csrf));
        let posted = self.post_raw(path, &form(&fields)).await;
        assert_eq!(
            posted.status,
            StatusCode::SEE_OTHER,
            "POST {path}: {}",
            posted.html
        );
        self.get(posted.location.as_deref().unwrap()).await
    }

    async fn post_raw(&self, path: &str, body: &str) -> Page {
        send(
            self.api,
            Request::post(path)
                .header(header::COOKIE, &self.cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }
}

#[tokio::test]
async fn pages_need_a_session_and_sign_in_needs_a_real_token_and_the_form_token() {
    let api = Api::new().await;
    for path in [
        "/",
        "/approvals",
        "/kill-switches",
        "/exemptions",
        "/audit",
        "/proposals/p_1",
    ] {
        let page = send(&api, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location.as_deref(), Some("/login"), "{path}");
    }
    let login = send(&api, Request::get("/login").body(Body::empty()).unwrap()).await;
    assert!(
        login.html.contains("type=\"password\""),
        "the token field hides what is typed"
    );
    let login_cookie = cookie_value(&login.set_cookies[0]);
    let csrf = value_of(&login.html, "csrf").to_string();
    let attempt = |body: String, cookie: Option<String>| {
        let mut request = Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request.body(Body::from(body)).unwrap()
    };
    // No form token, or one that does not match the login cookie: refused before anything.
    let page = send(
        &api,
        attempt(form(&[("token", &api.bob)]), Some(login_cookie.clone())),
    )
    .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = send(
        &api,
        attempt(
            form(&[("token", &api.bob), ("csrf", "0000")]),
            Some(login_cookie.clone()),
        ),
    )
    .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = send(
        &api,
        attempt(form(&[("token", &api.bob), ("csrf", &csrf)]), None),
    )
    .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    // A wrong token is refused without echoing it.
    let page = send(
        &api,
        attempt(
            form(&[("token", "brn_guess"), ("csrf", &csrf)]),
            Some(login_cookie.clone()),
        ),
    )
    .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.html.contains("not known"), "{}", page.html);
    assert!(!page.html.contains("brn_guess"));

    let browser = Browser::sign_in(&api, &api.bob).await;
    let cockpit = browser.get("/").await;
    assert_eq!(cockpit.status, StatusCode::OK);
    for text in [
        "Policy mode",
        "normal",
        "Pending approvals",
        "derived from cloud",
        "no snapshot yet",
        "none configured",
        "staff:bob",
    ] {
        assert!(cockpit.html.contains(text), "`{text}` on the cockpit");
    }
    assert!(
        !cockpit.html.contains("id=\"degraded\""),
        "a healthy brain shows no banner"
    );
    // Signing out ends the session.
    let out = browser
        .post_raw("/logout", &form(&[("csrf", &browser.csrf)]))
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.set_cookies[0].contains("Max-Age=0"));
    assert_eq!(browser.get("/").await.location.as_deref(), Some("/login"));
}

#[tokio::test]
async fn every_form_checks_csrf_and_every_action_is_the_engines_decision() {
    let api = Api::new().await;
    let id = api
        .propose(&api.admin, "kiln 2 <script>alert(1)</script> latch")
        .await;
    let bob = Browser::sign_in(&api, &api.bob).await;
    let admin = Browser::sign_in(&api, &api.admin).await;

    // Without the CSRF token, or with another session's, nothing happens.
    for body in [
        form(&[("comment", "sneaky")]),
        form(&[("comment", "sneaky"), ("csrf", &admin.csrf)]),
        form(&[("comment", "sneaky"), ("csrf", "")]),
    ] {
        let page = bob
            .post_raw(&format!("/proposals/{id}/approve"), &body)
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.html);
        assert!(page.html.contains("CSRF"));
    }
    for (path, fields) in [
        (
            "/kill-switches",
            form(&[("name", "global"), ("on", "true"), ("reason", "x")]),
        ),
        (
            "/exemptions",
            form(&[
                ("capability", "test.note.draft"),
                ("expires", "1h"),
                ("justification", "a long enough reason"),
                ("requested_by", "staff:admin"),
            ]),
        ),
        ("/logout", String::new()),
    ] {
        let page = bob.post_raw(path, &fields).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
    }
    let (_, view, _) = api
        .call(
            "GET",
            &format!("/api/v1/proposals/{id}"),
            Some(&api.bob),
            None,
        )
        .await;
    assert_eq!(
        view["state"], "pending_approval",
        "no approval slipped through"
    );
    assert!(api.engine.active_kill_switches().await.unwrap().is_empty());

    // The proposal page escapes what people typed.
    let detail = bob.get(&format!("/proposals/{id}")).await;
    assert!(
        detail
            .html
            .contains("&lt;script&gt;alert(1)&lt;/script&gt;")
    );
    assert!(!detail.html.contains("<script>alert(1)"));
    for text in [
        "test.note.draft",
        "risk tier",
        "Dry-run plan",
        "Input hash",
        "0 of 1 valid",
        "left",
    ] {
        assert!(detail.html.contains(text), "`{text}` on the proposal page");
    }

    // Self-approval is refused with its reason in words.
    let page = admin
        .submit(&format!("/proposals/{id}/approve"), &[("comment", "mine")])
        .await;
    assert!(
        page.html.contains("SELF_APPROVAL_FORBIDDEN"),
        "{}",
        page.html
    );
    assert!(page.html.contains("nobody approves what they asked for"));
    assert!(page.html.contains("approval.no-self-approval"));
    // Bob approves, then executes.
    let page = bob
        .submit(
            &format!("/proposals/{id}/approve"),
            &[("comment", "checked it")],
        )
        .await;
    assert!(page.html.contains("approved"), "{}", page.html);
    // Before executing, the page shows again what executing now would do.
    let detail = bob.get(&format!("/proposals/{id}")).await;
    assert!(
        detail.html.contains("id=\"execution-plan\""),
        "{}",
        detail.html
    );
    assert!(detail.html.contains("would be allowed"), "{}", detail.html);
    let page = bob.submit(&format!("/proposals/{id}/execute"), &[]).await;
    assert!(page.html.contains("succeeded"), "{}", page.html);

    // A human may look but not turn switches; staff can, and the banner says so.
    let hana = Browser::sign_in(&api, &api.hana).await;
    let page = hana
        .submit(
            "/kill-switches",
            &[("name", "global"), ("on", "true"), ("reason", "smoke")],
        )
        .await;
    assert!(page.html.contains("NO_PERMIT"), "{}", page.html);
    let page = bob
        .submit(
            "/kill-switches",
            &[
                ("name", "global"),
                ("on", "true"),
                ("reason", "smoke in the kiln room"),
            ],
        )
        .await;
    assert!(
        page.html.contains("kill switch global is ON"),
        "{}",
        page.html
    );
    let cockpit = bob.get("/").await;
    assert!(cockpit.html.contains("id=\"degraded\""), "the banner shows");
    assert!(cockpit.html.contains("kill switch on: global"));
    let page = bob
        .submit(
            "/kill-switches",
            &[("name", "global"), ("on", "false"), ("reason", "all clear")],
        )
        .await;
    assert!(page.html.contains("kill switch global is off"));
    assert!(!bob.get("/").await.html.contains("id=\"degraded\""));

    // Exemptions: granted by someone other than the requester, listed, revoked.
    let page = bob
        .submit(
            "/exemptions",
            &[
                ("capability", "test.note.draft"),
                ("expires", "2h"),
                ("justification", "firing day, notes go out fast"),
                ("requested_by", "staff:admin"),
            ],
        )
        .await;
    assert!(page.html.contains("granted"), "{}", page.html);
    assert!(page.html.contains("in force"));
    let exemption = page
        .html
        .split("/exemptions/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let page = bob
        .submit(
            &format!("/exemptions/{exemption}/revoke"),
            &[("reason", "over")],
        )
        .await;
    assert!(page.html.contains("revoked"), "{}", page.html);

    // A proposer cancels their own proposal from its page.
    let mine = api.propose(&api.bob, "no longer needed").await;
    let page = bob
        .submit(
            &format!("/proposals/{mine}/cancel"),
            &[("reason", "fixed it myself")],
        )
        .await;
    assert!(
        page.html.contains(&format!("cancelled {mine}")),
        "{}",
        page.html
    );
    assert!(page.html.contains("state-cancelled"));

    // The audit page pages and filters; every step above is there, and verify passes.
    let audit = bob.get("/audit?decision=deny").await;
    assert!(audit.html.contains("SELF_APPROVAL_FORBIDDEN"));
    assert!(audit.html.contains("id=\"verify\""));
    assert!(audit.html.contains("check out"));
    let approvals = bob.get("/approvals").await;
    assert!(approvals.html.contains(&id));

    // No page ever shows a token.
    for path in [
        "/",
        "/approvals",
        &format!("/proposals/{id}"),
        "/kill-switches",
        "/exemptions",
        "/audit",
    ] {
        let page = bob.get(path).await;
        for token in [&api.admin, &api.bob, &api.hana, &api.bot] {
            assert!(!page.html.contains(token.as_str()), "a token on {path}");
        }
    }
    let _ = json!({});
}

#[tokio::test]
async fn a_revoked_actor_loses_its_console_session_at_once() {
    let api = Api::new().await;
    let hana = Browser::sign_in(&api, &api.hana).await;
    assert_eq!(hana.get("/").await.status, StatusCode::OK);
    let admin = api.engine.authenticate(&api.admin).await.unwrap();
    api.engine.revoke_actor(&admin, "human:hana").await.unwrap();
    assert_eq!(hana.get("/").await.location.as_deref(), Some("/login"));
}

#[tokio::test]
async fn a_wall_display_without_authentication_may_look_but_not_act() {
    let api = Api::with_config("server:\n  auth:\n    mode: none\n").await;
    let id = api.propose(&api.admin, "visible on the wall").await;
    let cockpit = send(&api, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(cockpit.status, StatusCode::OK, "{}", cockpit.html);
    assert!(cockpit.html.contains("human:wall-display"));
    let approvals = send(
        &api,
        Request::get("/approvals").body(Body::empty()).unwrap(),
    )
    .await;
    assert!(approvals.html.contains(&id));
    // Posting needs a session, which a wall display does not have.
    let posted = send(
        &api,
        Request::post("/kill-switches")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("name=global&on=true&reason=x&csrf="))
            .unwrap(),
    )
    .await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER);
    assert_eq!(posted.location.as_deref(), Some("/login"));
    assert!(api.engine.active_kill_switches().await.unwrap().is_empty());
    // The API still needs a token.
    let (status, _, _) = api.call("GET", "/api/v1/proposals", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// The demo studio's cloud, its relative times read at one fixed moment, so every count is the
/// same whenever the test runs.
fn demo_cloud() -> tempfile::TempDir {
    let cloud = crate::support::temp_dir();
    crate::support::copy_dir(
        &crate::support::repo().join("examples/studio/cloud"),
        cloud.path(),
    );
    cloud
}

fn fixed_now() -> chrono::DateTime<chrono::Utc> {
    brain::clock::parse_time("2026-12-01T12:00:00Z").unwrap()
}

async fn snapshot_of(api: &Api, cloud: &std::path::Path) -> brain::store::SnapshotRecord {
    let source: std::sync::Arc<dyn brain::cloud::Source> =
        std::sync::Arc::new(brain::cloud::fixtures::FixtureSource::new(cloud).at(fixed_now()));
    api.engine
        .take_snapshot(&[source], 0, |_, _| {})
        .await
        .unwrap()
}

/// The card of `collection` (`<article ... id="card-NAME">...</article>`).
fn card<'a>(html: &'a str, collection: &str) -> &'a str {
    let marker = format!("id=\"card-{collection}\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no card for `{collection}` in {html}"));
    let start = html[..at].rfind("<article").unwrap();
    let end = html[at..].find("</article>").unwrap() + at;
    &html[start..end]
}

/// The queue counts of the demo studio's fixtures, by card.
const DEMO_QUEUES: &[(&str, u64)] = &[
    ("batches", 6),
    ("reservations", 6),
    ("kilnFirings", 4),
    ("kilns", 2),
    ("communityReports", 3),
    ("agentRequests", 2),
    ("materialsOrders", 2),
    ("stripe-payment_intents", 4),
    ("stripe-payouts", 0),
    ("stripe-charges", 0),
    ("stripe-refunds", 0),
    ("stripe-checkout_sessions", 2),
];

#[tokio::test]
async fn the_studio_state_page_shows_the_snapshot_as_derived_from_cloud() {
    let api = Api::new().await;
    let bob = Browser::sign_in(&api, &api.bob).await;
    for path in ["/studio-state", "/studio-state/history"] {
        let empty = bob.get(path).await;
        assert_eq!(empty.status, StatusCode::OK);
        for text in [
            "id=\"no-snapshot\"",
            "No snapshot yet",
            "derived from cloud",
        ] {
            assert!(empty.html.contains(text), "`{text}` on the empty {path}");
        }
    }
    let cloud = demo_cloud();
    let record = snapshot_of(&api, cloud.path()).await;
    let page = bob.get("/studio-state").await;
    for text in [
        "derived from cloud",
        record.id.as_str(),
        "id=\"state-fresh\"",
        "fixtures",
        "Freshness and completeness",
        "<code>studio-os-portal</code> v1",
        "Sources",
        "id=\"no-drift\"",
        "The first snapshot: nothing to compare with",
    ] {
        assert!(page.html.contains(text), "`{text}` on the StudioState page");
    }
    assert!(
        !page.html.contains("oldest_since") && !page.html.contains("id=\"studio-state\""),
        "no JSON dump"
    );
    // One card per queue, with its count.
    for (collection, count) in DEMO_QUEUES {
        let card = card(&page.html, collection);
        assert!(
            card.contains(&format!("data-count=\"{count}\">{count}</span>")),
            "{collection}: {card}"
        );
        assert!(card.contains("first snapshot"), "{collection}: {card}");
        assert!(card.contains("The trend appears from the second snapshot"));
    }
    let batches = card(&page.html, "batches");
    for text in [
        "Batches <code>batches</code>",
        "oldest waiting",
        "datetime=\"2026-11-11T00:00:00.000000Z\"",
        "4 open · 2 in progress · 2 closed · 8 records read",
    ] {
        assert!(batches.contains(text), "`{text}` in {batches}");
    }
    assert!(card(&page.html, "communityReports").contains("1 high severity"));
    assert!(card(&page.html, "kilnFirings").contains("starting in the next 24h"));
    assert!(card(&page.html, "stripe-payment_intents").contains("279.00 USD in the queue"));
    assert!(card(&page.html, "stripe-payouts").contains("created in the last 7d"));
    assert!(card(&page.html, "stripe-payouts").contains("queue empty"));
    assert!(
        !page.html.contains("class=\"chart sparkline\""),
        "no trend from one snapshot"
    );
    assert!(!page.html.contains("id=\"unclassified-"));
    let cockpit = bob.get("/").await;
    assert!(
        cockpit.html.contains(&record.id),
        "the cockpit links the newest snapshot"
    );
    assert!(!cockpit.html.contains("no snapshot yet"));

    // The cloud changes: a reservation is cancelled, a high-severity report arrives.
    let reservation = cloud.path().join("reservations/r-001.json");
    let text = std::fs::read_to_string(&reservation).unwrap();
    std::fs::write(&reservation, text.replace("\"REQUESTED\"", "\"CANCELLED\"")).unwrap();
    std::fs::write(
        cloud.path().join("communityReports/cr-0103.json"),
        r#"{"note": "Kiln vent fan stopped", "severity": "high", "status": "open", "createdAt": "2026-12-01T08:00:00Z"}"#,
    )
    .unwrap();
    let second = snapshot_of(&api, cloud.path()).await;
    let page = bob.get("/studio-state").await;
    assert_eq!(
        page.html.matches("class=\"chart sparkline\"").count(),
        DEMO_QUEUES.len(),
        "a trend line on every card from the second snapshot"
    );
    let reservations = card(&page.html, "reservations");
    assert!(reservations.contains("data-count=\"5\""), "{reservations}");
    assert!(
        reservations.contains("<strong>\u{2212}1</strong> since the previous snapshot (was 6)")
    );
    assert!(reservations.contains("aria-label=\"Reservations in the queue: 2 snapshots from"));
    assert!(reservations.contains("first 6, latest 5, lowest 5, highest 6\""));
    let reports = card(&page.html, "communityReports");
    assert!(reports.contains("<strong>+1</strong> since the previous snapshot (was 3)"));
    assert!(reports.contains("2 high severity"));
    assert!(card(&page.html, "batches").contains("no change since the previous snapshot"));
    for text in [
        "Reservations: in the queue",
        "Community reports: high severity in the queue",
        "<code class=\"field\">collections.reservations.queue.count</code>",
    ] {
        assert!(page.html.contains(text), "`{text}` in the latest changes");
    }

    // The history: both snapshots, newest first, each with its diff field by field.
    let history = bob.get("/studio-state/history").await;
    assert_eq!(history.status, StatusCode::OK);
    let newer = history.html.find(&format!("id=\"snapshot-{}\"", second.id));
    let older = history.html.find(&format!("id=\"snapshot-{}\"", record.id));
    assert!(
        newer.is_some() && older.is_some() && newer < older,
        "{}",
        history.html
    );
    for text in [
        "derived from cloud",
        "The 2 snapshots newest first",
        "The first snapshot: nothing to compare with",
        "Community reports: records with value “open”",
        "81 documents read",
    ] {
        assert!(history.html.contains(text), "`{text}` in the history");
    }
    let newest = bob.get("/studio-state/history?limit=1").await;
    assert!(newest.html.contains(&second.id) && !newest.html.contains(&record.id));
    assert!(
        newest
            .html
            .contains("href=\"/studio-state/history?limit=2\" id=\"more\"")
    );
    let unreadable = bob.get("/studio-state/history?limit=many").await;
    assert!(unreadable.html.contains(&record.id), "the default number");
}

#[tokio::test]
async fn the_studio_state_page_names_unclassified_values_and_collections_not_read() {
    let api = Api::new().await;
    let bob = Browser::sign_in(&api, &api.bob).await;
    let cloud = demo_cloud();
    let draft = cloud.path().join("batches/b-2026-045.json");
    let text = std::fs::read_to_string(&draft).unwrap();
    std::fs::write(&draft, text.replace("\"DRAFT\"", "\"GLAZED\"")).unwrap();
    std::fs::remove_dir_all(cloud.path().join("kilnFirings")).unwrap();
    let record = snapshot_of(&api, cloud.path()).await;
    assert!(!record.complete);
    let page = bob.get("/studio-state").await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "id=\"state-partial\"",
        "Partial: 1 collection not read",
        "<strong>Kiln firings</strong> (<code>kilnFirings</code>, fixtures): no fixture folder",
        "<span class=\"bad\">partial</span>: not read <code>kilnFirings</code>",
    ] {
        assert!(page.html.contains(text), "`{text}` on the partial page");
    }
    assert!(!page.html.contains("id=\"state-fresh\""));
    let firings = card(&page.html, "kilnFirings");
    assert!(firings.contains("card-not-read"), "{firings}");
    assert!(firings.contains(">not read</span>"), "{firings}");
    assert!(
        !firings.contains("data-count"),
        "a collection not read has no number: {firings}"
    );
    // The unknown value: counted nowhere, named on its card with how to check it.
    let batches = card(&page.html, "batches");
    for text in [
        "data-count=\"5\"",
        "id=\"unclassified-batches\"",
        "1 record unclassified",
        "the state model puts these values in no class",
        "<td><code>GLAZED</code></td><td>1</td><td>b-2026-045</td>",
        "brain snapshot explain --collection batches",
    ] {
        assert!(batches.contains(text), "`{text}` in {batches}");
    }
    assert!(
        page.html
            .contains("<a href=\"#card-batches\">1 record</a> in Batches")
    );
    assert!(!card(&page.html, "reservations").contains("unclassified"));
}

/// A snapshot of the demo studio recorded as if computed `age` ago under `model`.
async fn insert_old_snapshot(api: &Api, age: chrono::Duration, model: brain::snapshot::ModelRef) {
    use brain::snapshot::{Builder, Provenance, SourceProvenance};
    let cloud = demo_cloud();
    let source = brain::cloud::fixtures::FixtureSource::new(cloud.path()).at(fixed_now());
    let mut builder = Builder::new(
        fixed_now(),
        std::sync::Arc::new(brain::snapshot::Model::built_in()),
    );
    for collection in brain::cloud::Source::collections(&source) {
        builder.begin(&collection);
        let mut each = |record: brain::snapshot::Record| builder.add(&collection, &record);
        brain::cloud::Source::read(&source, &collection, &mut each)
            .await
            .unwrap();
    }
    let state = builder.finish();
    let computed_at = brain::clock::format_time(brain::clock::now() - age);
    let provenance = Provenance {
        sources: vec![SourceProvenance {
            source: "fixtures".into(),
            location: "old".into(),
            read_time: computed_at.clone(),
            documents_read: 43,
            completeness: "full".into(),
            ..SourceProvenance::default()
        }],
        content_hash: brain::snapshot::content_hash(&state),
        model: Some(model),
    };
    let record = brain::store::SnapshotRecord {
        id: "s_0000000000aa".into(),
        computed_at,
        schema_version: 2,
        complete: true,
        content_hash: provenance.content_hash.clone(),
        state: serde_json::to_value(&state).unwrap(),
        provenance: serde_json::to_value(&provenance).unwrap(),
        previous_id: None,
        diff: json!([]),
        drift: json!([]),
    };
    let mut tx = api.engine.store().begin().await.unwrap();
    tx.insert_snapshot(&record).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_stale_snapshot_says_so_and_a_model_change_is_a_note_in_the_history() {
    let api = Api::new().await;
    let bob = Browser::sign_in(&api, &api.bob).await;
    let older_model = brain::snapshot::ModelRef {
        id: "studio-os-portal".into(),
        version: 0,
        hash: "0".repeat(64),
    };
    insert_old_snapshot(&api, chrono::Duration::hours(2), older_model).await;
    let page = bob.get("/studio-state").await;
    for text in [
        "id=\"state-stale\"",
        "Stale: the newest snapshot is older than 30m",
        "computed 2h 0m ago",
        "capabilities that need fresh state are denied",
        "brain now uses <code>studio-os-portal</code> v1",
    ] {
        assert!(page.html.contains(text), "`{text}` on the stale page");
    }
    assert!(
        card(&page.html, "batches").contains("data-count=\"6\""),
        "a stale snapshot's numbers are still shown"
    );

    // The next snapshot, under the current model: its diff starts with the model change.
    let record = snapshot_of(&api, demo_cloud().path()).await;
    let page = bob.get("/studio-state").await;
    assert!(page.html.contains("id=\"state-fresh\""));
    assert!(page.html.contains("The state model changed"));
    assert!(card(&page.html, "batches").contains("(the state model changed too)"));
    let history = bob.get("/studio-state/history").await;
    let entry = &history.html[history
        .html
        .find(&format!("id=\"snapshot-{}\"", record.id))
        .unwrap()..];
    let note = "<p class=\"note model-change\" role=\"note\"><strong>The state model changed</strong> from <code>studio-os-portal</code> v0";
    assert!(entry.contains(note), "{entry}");
    assert!(entry.contains("counts below changed partly because the rules did"));
    assert!(
        !entry.contains("<code class=\"field\">(state model)</code>"),
        "the model change is a note, not a field"
    );
}

#[tokio::test]
async fn the_studio_state_page_names_an_unreachable_store() {
    let api = Api::with_config("server:\n  auth:\n    mode: none\n").await;
    snapshot_of(&api, demo_cloud().path()).await;
    api.engine.store().close().await;
    for path in ["/studio-state", "/studio-state/history"] {
        let page = send(&api, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        for text in [
            "id=\"state-error\"",
            "StudioState cannot be read",
            "the store is unavailable",
            "derived from cloud",
            "id=\"degraded\"",
        ] {
            assert!(
                page.html.contains(text),
                "`{text}` on {path}: {}",
                page.html
            );
        }
    }
}
