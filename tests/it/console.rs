//! The staff console through the router, without a browser or a port: sign-in with a token,
//! the session cookie's attributes, CSRF on every form, actions decided by the Engine with
//! refusals in words, the degraded banner, escaping, and no secret on any page; the StudioState
//! pages; the Drafts page (the demo studio's swarm drafts as cards and post previews, approve
//! and reject from it, filters, acceptance by rule, its empty, degraded and error states, the
//! read-only views) and the cockpit's Swarms panel.

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
        "/drafts",
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
        "/drafts",
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
    ("communityReports", 7),
    ("agentRequests", 5),
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
    // The cockpit's StudioState panel says there is nothing yet, then shows the same cards.
    let cockpit = bob.get("/").await;
    assert!(
        cockpit.html.contains("id=\"studio-state-empty\""),
        "{}",
        cockpit.html
    );
    let cloud = demo_cloud();
    let record = snapshot_of(&api, cloud.path()).await;
    let cockpit = bob.get("/").await;
    let panel = &cockpit.html[cockpit
        .html
        .find("<section id=\"studio-state\">")
        .expect("a StudioState panel")..];
    let panel = &panel[..panel.find("</section>").unwrap()];
    assert!(panel.contains("derived from cloud"), "{panel}");
    for (collection, count) in DEMO_QUEUES {
        assert!(
            card(panel, collection).contains(&format!("data-count=\"{count}\">{count}</span>")),
            "{collection} on the cockpit"
        );
    }
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
    assert!(card(&page.html, "communityReports").contains("2 high severity"));
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
        cloud.path().join("communityReports/cr-0199.json"),
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
    assert!(reports.contains("<strong>+1</strong> since the previous snapshot (was 7)"));
    assert!(reports.contains("3 high severity"));
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
        "88 documents read",
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

// ---- Drafts --------------------------------------------------------------------------------

use brain::server::console::esc;
use brain::swarms::runtime::RunReport;

/// Both swarms, owned by the studio's first admin.
const SWARMS: &str = "swarms:\n  ops:\n    agent: agent:ops-swarm\n    owner: staff:admin\n  marketing:\n    agent: agent:marketing-swarm\n    owner: staff:admin\n";

/// Let swarm `name` run, as `brain swarm enroll` does: its agent, and a delegation from its
/// owner covering its draft capability and the reads its rules need.
async fn enroll(api: &Api, name: &str) {
    let admin = api.engine.authenticate(&api.admin).await.unwrap();
    let settings = api.config.config.swarms.get(name).unwrap();
    let files = brain::swarms::runtime::SwarmFiles::load(&api.config)
        .unwrap()
        .0;
    let swarm = brain::swarms::runtime::build(&api.config, &settings, &files).unwrap();
    let scopes = brain::swarms::runtime::capabilities(&settings, swarm.as_ref());
    if api
        .engine
        .store()
        .actor(settings.agent)
        .await
        .unwrap()
        .is_none()
    {
        api.engine
            .add_actor(&admin, settings.agent, Some(settings.info.title))
            .await
            .unwrap();
    }
    api.engine
        .delegate(
            &admin,
            settings.agent,
            settings.owner,
            &scopes,
            brain::clock::now() + chrono::Duration::days(30),
        )
        .await
        .unwrap();
}

/// The demo studio's cloud, read as of today (its relative times then say what the swarms find:
/// a stalled batch, an overdue firing, a completed firing worth a post).
fn demo_source(cloud: &std::path::Path) -> std::sync::Arc<dyn brain::cloud::Source> {
    std::sync::Arc::new(brain::cloud::fixtures::FixtureSource::new(cloud))
}

/// Run swarm `name` once over `cloud`, as `brain swarm run NAME` does.
async fn run_swarm(api: &Api, cloud: &std::path::Path, name: &str) -> RunReport {
    let settings = api.config.config.swarms.get(name).unwrap();
    let files = brain::swarms::runtime::SwarmFiles::load(&api.config)
        .unwrap()
        .0;
    let swarm = brain::swarms::runtime::build(&api.config, &settings, &files).unwrap();
    brain::swarms::runtime::run(
        &api.engine,
        &settings,
        swarm,
        &[demo_source(cloud)],
        &brain::swarms::runtime::RunOptions {
            trigger: brain::swarms::runtime::Trigger::Manual,
            requested_by: "staff:admin".into(),
            dry_run: false,
        },
    )
    .await
    .unwrap()
}

/// A studio with both swarms enrolled, a snapshot of the demo cloud, and a run of each.
async fn studio_with_drafts(config: &str) -> (Api, RunReport, RunReport) {
    let api = Api::with_config(config).await;
    let cloud = demo_cloud();
    api.engine
        .take_snapshot(&[demo_source(cloud.path())], 0, |_, _| {})
        .await
        .unwrap();
    enroll(&api, "ops").await;
    enroll(&api, "marketing").await;
    let ops = run_swarm(&api, cloud.path(), "ops").await;
    let marketing = run_swarm(&api, cloud.path(), "marketing").await;
    assert_eq!(ops.outcome, "completed", "{ops:?}");
    assert_eq!(marketing.outcome, "completed", "{marketing:?}");
    (api, ops, marketing)
}

/// The proposal that `report` made for `rule` about `subject`.
fn proposed<'a>(
    report: &'a RunReport,
    rule: &str,
    subject: &str,
) -> &'a brain::swarms::runtime::Reported {
    report
        .findings
        .iter()
        .find(|reported| reported.finding.rule.id == rule && reported.finding.subject == subject)
        .unwrap_or_else(|| panic!("no `{rule}` finding about `{subject}` in {report:?}"))
}

fn proposal_id(report: &RunReport, rule: &str, subject: &str) -> String {
    proposed(report, rule, subject)
        .proposal_id
        .clone()
        .expect("the finding was proposed")
}

/// The draft card of proposal `id` (`<article ... id="draft-ID">...</article>`).
fn draft_card<'a>(html: &'a str, id: &str) -> &'a str {
    let marker = format!("id=\"draft-{id}\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no card for `{id}` in {html}"));
    let start = html[..at].rfind("<article").unwrap();
    let end = html[at..].find("</article>").unwrap() + at;
    &html[start..end]
}

/// The acceptance table's row of `swarm`'s `rule`.
fn acceptance_row<'a>(html: &'a str, swarm: &str, rule: &str) -> &'a str {
    let marker = format!("<tr id=\"acceptance-{swarm}-{rule}\">");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no acceptance row for `{swarm}/{rule}` in {html}"));
    let end = html[start..].find("</tr>").unwrap() + start;
    &html[start..end]
}

/// The numbers of an acceptance row: drafts, open, accepted, rejected, expired.
fn counts(row: &str) -> Vec<u64> {
    row.split("<td class=\"num\">")
        .skip(1)
        .take(5)
        .map(|cell| cell[..cell.find('<').unwrap()].parse().unwrap())
        .collect()
}

fn cards_on(html: &str) -> usize {
    html.matches("<article class=\"card draft-card").count()
}

#[tokio::test]
async fn the_drafts_page_shows_recommendations_and_post_previews_and_approves_and_rejects_them() {
    let (api, ops, marketing) = studio_with_drafts(SWARMS).await;
    let stalled = proposal_id(&ops, "stalled_batch", "batches/b-2026-041");
    let overdue = proposal_id(&ops, "overdue_firing", "kilnFirings/f-bisque-1202");
    let reservation = proposal_id(&ops, "overdue_reservation", "reservations/r-006");
    let post = proposal_id(&marketing, "firing_completed", "kilnFirings/f-glaze-1201");
    let emitted = |report: &RunReport| {
        report
            .rules
            .values()
            .map(|tally| tally.emitted)
            .sum::<u64>()
    };
    let (ops_emitted, marketing_emitted) = (emitted(&ops), emitted(&marketing));
    let bob = Browser::sign_in(&api, &api.bob).await;

    let page = bob.get("/drafts").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(
        page.html
            .contains("<a href=\"/drafts\" aria-current=\"page\">Drafts</a>")
    );
    assert_eq!(cards_on(&page.html) as u64, ops_emitted + marketing_emitted);
    assert!(
        page.html
            .contains(&format!("{} open drafts", ops_emitted + marketing_emitted))
    );
    // By swarm, most severe first.
    let at = |id: &str| page.html.find(&format!("id=\"draft-{id}\"")).unwrap();
    let ops_section = page.html.find("id=\"drafts-ops\"").unwrap();
    let marketing_section = page.html.find("id=\"drafts-marketing\"").unwrap();
    assert!(ops_section < at(&stalled) && at(&stalled) < at(&reservation));
    assert!(at(&reservation) < marketing_section && marketing_section < at(&post));

    // A recommendation card: what, why, what to do, and the evidence it rests on.
    let card = draft_card(&page.html, &stalled);
    for text in [
        "draft-recommendation",
        "<span class=\"badge severity severity-medium\">medium</span>",
        "<code>stalled_batch</code>",
        "90% confident",
        "Batch b-2026-041 (Stoneware mugs, member class) stalled in SUBMITTED",
        "about <code class=\"subject\">batches/b-2026-041</code>",
        "the limit for SUBMITTED is 7 days",
        "<span class=\"label\">Recommendation</span> Check where batch b-2026-041 is",
        "<span class=\"source\">fixtures</span> <code>batches/b-2026-041</code>: <code class=\"field\">state</code> = <code class=\"value\">SUBMITTED</code>",
        "waiting for review, 6d 23h left",
        &format!("action=\"/proposals/{stalled}/approve\""),
        &format!("action=\"/proposals/{stalled}/reject\""),
        "name=\"return_to\" value=\"/drafts\"",
        &format!(
            "<button type=\"submit\" id=\"approve-{stalled}\" class=\"approve\" aria-describedby=\"title-{stalled}\">Approve</button>"
        ),
    ] {
        assert!(card.contains(text), "`{text}` in {card}");
    }
    assert!(
        !page.html.contains("console.firebase.google.com"),
        "fixture records have no Firestore console page"
    );
    // A post preview: the post as it would read, where it came from, what to check.
    let written = proposed(&marketing, "firing_completed", "kilnFirings/f-glaze-1201")
        .finding
        .post
        .clone()
        .unwrap();
    let card = draft_card(&page.html, &post);
    for text in [
        "draft-post",
        "<figure class=\"post-preview channel-instagram\">",
        "<span class=\"channel\">Instagram post</span>",
        "<span class=\"badge draft-status status-needs_review\">needs review</span>",
        &format!(
            "<blockquote class=\"post-body\">{}</blockquote>",
            esc(&written.body)
        ),
        "<dt>Template</dt><dd><code>firing-completed</code> v1</dd>",
        "<code>kilnFirings/f-glaze-1201</code>",
        &format!("<li>{}</li>", esc(&written.confidence_notes[0])),
        "Approve for publishing",
    ] {
        assert!(card.contains(text), "`{text}` in {card}");
    }
    assert!(written.body.contains("Skutt 1027"), "{}", written.body);

    // Approve one from the page: back on the page, its card gone from the open drafts.
    let approved = bob
        .post_raw(
            &format!("/proposals/{stalled}/approve"),
            &form(&[("return_to", "/drafts"), ("csrf", &bob.csrf)]),
        )
        .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.html);
    assert_eq!(approved.location.as_deref(), Some("/drafts"));
    let page = bob.get("/drafts").await;
    assert!(
        page.html
            .contains(&format!("approved {stalled}: it is approved"))
    );
    assert!(!page.html.contains(&format!("id=\"draft-{stalled}\"")));
    // Reject another with a reason, from a filtered view it comes back to.
    let page = bob
        .submit(
            &format!("/proposals/{overdue}/reject"),
            &[
                ("reason", "the firing ran; the log was late"),
                ("return_to", "/drafts?swarm=ops"),
            ],
        )
        .await;
    assert!(
        page.html.contains(&format!("rejected {overdue}")),
        "{}",
        page.html
    );
    assert!(!page.html.contains(&format!("id=\"draft-{overdue}\"")));
    assert!(
        !page.html.contains("data-swarm=\"marketing\""),
        "still filtered"
    );
    assert_eq!(cards_on(&page.html) as u64, ops_emitted - 2);

    // The acceptance rates: one accepted, one rejected, the rest open.
    let page = bob.get("/drafts").await;
    let row = acceptance_row(&page.html, "ops", "stalled_batch");
    assert_eq!(counts(row), [1, 0, 1, 0, 0], "{row}");
    assert!(
        row.contains(">100%</td>") && row.contains(">0.0 h</td>"),
        "{row}"
    );
    let row = acceptance_row(&page.html, "ops", "overdue_firing");
    assert_eq!(counts(row), [1, 0, 0, 1, 0], "{row}");
    assert!(row.contains(">0%</td>"), "{row}");
    let row = acceptance_row(&page.html, "ops", "aging_queue");
    assert_eq!(counts(row), [2, 2, 0, 0, 0], "{row}");
    assert!(
        row.contains("none decided") && row.contains(">—</td>"),
        "{row}"
    );
    let row = acceptance_row(&page.html, "marketing", "firing_completed");
    assert_eq!(counts(row), [1, 1, 0, 0, 0], "{row}");

    // The decided drafts under their states, with who decided and why, and nothing to act on.
    let rejected = bob.get("/drafts?state=rejected").await;
    assert_eq!(cards_on(&rejected.html), 1);
    let card = draft_card(&rejected.html, &overdue);
    assert!(
        card.contains(
            "rejected by staff:bob: <q class=\"reason\">the firing ran; the log was late</q>"
        ),
        "{card}"
    );
    assert!(!card.contains("<form"), "{card}");
    let accepted = bob.get("/drafts?state=accepted").await;
    assert_eq!(cards_on(&accepted.html), 1);
    assert!(draft_card(&accepted.html, &stalled).contains("accepted (approved)"));
    assert_eq!(
        cards_on(&bob.get("/drafts?state=all").await.html) as u64,
        ops_emitted + marketing_emitted
    );

    // Filters narrow the list.
    let page = bob.get("/drafts?swarm=marketing").await;
    assert_eq!(cards_on(&page.html) as u64, marketing_emitted);
    assert!(!page.html.contains("data-swarm=\"ops\""));
    assert!(page.html.contains("<option value=\"marketing\" selected>"));
    let page = bob.get("/drafts?rule=aging_queue").await;
    assert_eq!(cards_on(&page.html), 2);
    assert_eq!(page.html.matches("data-rule=\"aging_queue\"").count(), 2);
    let page = bob.get("/drafts?severity=low&swarm=ops").await;
    assert_eq!(cards_on(&page.html), 1, "the overdue reservation");
    assert!(page.html.contains(&format!("id=\"draft-{reservation}\"")));
    assert!(
        page.html
            .contains("name=\"return_to\" value=\"/drafts?swarm=ops&amp;severity=low\"")
    );
    let page = bob.get("/drafts?severity=high").await;
    assert!(page.html.contains("id=\"no-matches\""), "{}", page.html);
    let page = bob.get("/drafts?severity=urgent&state=maybe").await;
    assert!(page.html.contains("`urgent` is not a severity"));
    assert!(page.html.contains("`maybe` is not a state"));
    assert_eq!(
        cards_on(&page.html) as u64,
        ops_emitted + marketing_emitted - 2
    );

    // The cockpit: each swarm's last run, its findings and its open drafts.
    let cockpit = bob.get("/").await;
    let row = |swarm: &str| {
        let start = cockpit
            .html
            .find(&format!("<tr id=\"swarm-{swarm}\">"))
            .unwrap();
        let end = cockpit.html[start..].find("</tr>").unwrap() + start;
        cockpit.html[start..end].to_string()
    };
    let ops_row = row("ops");
    for text in [
        "Ops anomaly detector <code>ops</code>",
        "<span class=\"ok\">completed</span>",
        "(manual)",
        &format!("{ops_emitted} emitted, 0 suppressed"),
        &format!(
            "<a href=\"/drafts?swarm=ops\" id=\"open-drafts-ops\">{} open drafts</a>",
            ops_emitted - 2
        ),
        "<span class=\"ok\">ready</span>",
    ] {
        assert!(ops_row.contains(text), "`{text}` in {ops_row}");
    }
    assert!(row("marketing").contains(&format!("{marketing_emitted} open drafts")));
}

#[tokio::test]
async fn the_drafts_page_says_when_there_is_nothing_to_show_and_why_a_swarm_cannot_run() {
    // No swarm configured.
    let api = Api::new().await;
    let bob = Browser::sign_in(&api, &api.bob).await;
    let page = bob.get("/drafts").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("id=\"no-swarms\""), "{}", page.html);
    assert!(page.html.contains("No swarm is configured"));
    assert!(
        page.html
            .contains("<h2>Acceptance by rule</h2><p>No draft yet")
    );
    assert!(
        !page.html.contains("id=\"draft-filters\""),
        "nothing to filter"
    );
    assert!(
        bob.get("/")
            .await
            .html
            .contains("<p id=\"swarms\">No swarm is configured")
    );

    // Configured, nobody enrolled, one disabled: no drafts, and why nothing is drafted.
    let config = SWARMS.replace(
        "agent: agent:marketing-swarm\n",
        "agent: agent:marketing-swarm\n    enabled: false\n",
    );
    let api = Api::with_config(&config).await;
    let bob = Browser::sign_in(&api, &api.bob).await;
    let page = bob.get("/drafts").await;
    for text in [
        "id=\"no-drafts\"",
        "No drafts yet",
        "<code>brain swarm enroll ops</code>",
        "<code>brain swarm run ops</code>",
        "id=\"swarm-ops-cannot-run\"",
        "Ops anomaly detector (<code>ops</code>) cannot run",
        "DELEGATION_MISSING",
        "id=\"swarm-marketing-cannot-run\"",
        "disabled in brain.yaml (<code>enabled: false</code>)",
        "It proposes nothing until this is fixed.</p>",
    ] {
        assert!(page.html.contains(text), "`{text}` on {}", page.html);
    }
    let cockpit = bob.get("/").await;
    assert!(cockpit.html.contains("<td>never</td>"));
    assert!(cockpit.html.contains(
        "<span class=\"bad\">cannot run</span>: the agent <code>agent:ops-swarm</code> does not exist (DELEGATION_MISSING): it does not run until its owner delegates to it (<code>brain swarm enroll ops</code>)"
    ), "{}", cockpit.html);
    assert!(
        cockpit
            .html
            .contains("cannot run</span>: disabled in brain.yaml")
    );

    // A run without a delegation is denied: the cockpit names its reason.
    let cloud = demo_cloud();
    let denied = run_swarm(&api, cloud.path(), "ops").await;
    assert_eq!(denied.outcome, "denied");
    let cockpit = bob.get("/").await;
    let start = cockpit.html.find("<tr id=\"swarm-ops\">").unwrap();
    let row = &cockpit.html[start..start + cockpit.html[start..].find("</tr>").unwrap()];
    for text in [
        "<span class=\"bad\">denied</span>",
        "<code>DELEGATION_MISSING</code> — ",
        "<a href=\"/drafts?swarm=ops\" id=\"open-drafts-ops\">0 open drafts</a>",
    ] {
        assert!(row.contains(text), "`{text}` in {row}");
    }
    // An agent outside any delegation may not look: neither the page nor the panel shows more
    // than the refusal.
    let bot = Browser::sign_in(&api, &api.bot).await;
    let page = bot.get("/drafts").await;
    assert!(
        page.html.contains("Drafts are not shown to you"),
        "{}",
        page.html
    );
    assert!(!page.html.contains("cannot run"));
    let cockpit = bot.get("/").await;
    assert!(
        cockpit
            .html
            .contains("<h2>Swarms</h2><div id=\"swarms\"><div class=\"refused\"")
    );
    assert!(!cockpit.html.contains("id=\"swarm-ops\""));

    // Enrolled since, its last run still denied: the page says what stopped it.
    enroll(&api, "ops").await;
    let page = bob.get("/drafts").await;
    assert!(!page.html.contains("id=\"swarm-ops-cannot-run\""));
    assert!(
        page.html.contains("id=\"swarm-ops-last-run\""),
        "{}",
        page.html
    );
    assert!(
        page.html
            .contains("The last run of Ops anomaly detector (<code>ops</code>) was denied")
    );
}

#[tokio::test]
async fn a_wall_display_sees_the_drafts_but_cannot_act_and_neither_can_anyone_under_the_global_switch()
 {
    let config = format!("{SWARMS}server:\n  auth:\n    mode: none\n");
    let (api, ops, _) = studio_with_drafts(&config).await;
    let stalled = proposal_id(&ops, "stalled_batch", "batches/b-2026-041");
    let page = send(&api, Request::get("/drafts").body(Body::empty()).unwrap()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains(&format!("id=\"draft-{stalled}\"")));
    assert!(page.html.contains("id=\"no-actions\""));
    assert!(
        page.html
            .contains("read-only view: sign in to approve or reject")
    );
    for absent in [
        "action=\"/proposals/",
        "name=\"return_to\"",
        "name=\"reason\"",
    ] {
        assert!(
            !page.html.contains(absent),
            "`{absent}` on the wall display"
        );
    }
    // The action routes refuse without a session: nothing changes.
    let posted = send(
        &api,
        Request::post(format!("/proposals/{stalled}/approve"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("return_to=%2Fdrafts&csrf="))
            .unwrap(),
    )
    .await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER);
    assert_eq!(posted.location.as_deref(), Some("/login"));
    let state = api
        .engine
        .store()
        .proposal(&stalled)
        .await
        .unwrap()
        .unwrap()
        .state;
    assert_eq!(
        state,
        brain::engine::lifecycle::ProposalState::PendingApproval
    );

    // Signed in, but the global kill switch is on: no controls, and the page says why.
    let bob = Browser::sign_in(&api, &api.bob).await;
    assert!(
        bob.get("/drafts")
            .await
            .html
            .contains(&format!("action=\"/proposals/{stalled}/approve\""))
    );
    let admin = api.engine.authenticate(&api.admin).await.unwrap();
    api.engine
        .set_kill_switch(&admin, "global", true, "smoke in the kiln room")
        .await
        .unwrap();
    let page = bob.get("/drafts").await;
    assert!(
        page.html
            .contains("The global kill switch is on: drafts cannot be approved or rejected")
    );
    assert!(!page.html.contains("action=\"/proposals/"));
    assert!(
        page.html.contains(&format!("id=\"draft-{stalled}\"")),
        "still shown"
    );
}

#[tokio::test]
async fn an_action_comes_back_only_to_a_path_on_this_console() {
    let (api, ops, _) = studio_with_drafts(SWARMS).await;
    let stalled = proposal_id(&ops, "stalled_batch", "batches/b-2026-041");
    let bob = Browser::sign_in(&api, &api.bob).await;
    for away in [
        "//evil.example",
        "https://evil.example/drafts",
        "/\\evil.example",
        "/\t/evil.example",
        "drafts",
    ] {
        for action in ["approve", "reject"] {
            let posted = bob
                .post_raw(
                    &format!("/proposals/{stalled}/{action}"),
                    &form(&[("return_to", away), ("reason", "no"), ("csrf", &bob.csrf)]),
                )
                .await;
            assert_eq!(
                posted.status,
                StatusCode::BAD_REQUEST,
                "{action} to {away:?}"
            );
            assert_eq!(posted.location, None);
            assert!(
                posted
                    .html
                    .contains("`return_to` must be a path on this console")
            );
        }
    }
    let view = api
        .engine
        .store()
        .proposal(&stalled)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        view.state,
        brain::engine::lifecycle::ProposalState::PendingApproval,
        "nothing was acted on"
    );
    let posted = bob
        .post_raw(
            &format!("/proposals/{stalled}/approve"),
            &form(&[
                ("return_to", "/drafts?swarm=ops&state=all"),
                ("csrf", &bob.csrf),
            ]),
        )
        .await;
    assert_eq!(
        posted.location.as_deref(),
        Some("/drafts?swarm=ops&state=all")
    );
    // Without `return_to`, the proposal's own page as before.
    let overdue = proposal_id(&ops, "overdue_firing", "kilnFirings/f-bisque-1202");
    let posted = bob
        .post_raw(
            &format!("/proposals/{overdue}/reject"),
            &form(&[("reason", "ran fine"), ("csrf", &bob.csrf)]),
        )
        .await;
    assert_eq!(posted.location, Some(format!("/proposals/{overdue}")));
}

#[tokio::test]
async fn firestore_evidence_links_to_the_document_in_the_firestore_console() {
    let credentials = crate::support::temp_dir();
    let key = credentials.path().join("key.json");
    std::fs::write(&key, "{}").unwrap();
    let config = format!(
        "{SWARMS}cloud:\n  firestore:\n    project_id: studio-os-prod\n    credentials: {{ file: {} }}\n",
        key.display()
    );
    let api = Api::with_config(&config).await;
    enroll(&api, "ops").await;
    let finding = json!({
        "rule": { "id": "stalled_batch", "version": 1 },
        "subject": "batches/b-2026-041",
        "severity": "high",
        "confidence": 0.9,
        "title": "Batch b-2026-041 stalled in SHELVED",
        "rationale": "Shelved for 9 days; the limit is 7.",
        "recommendation": "Find it on the shelf.",
        "evidence": [
            { "source": "firestore", "path": "batches/b-2026-041", "field": "state", "value": "SHELVED", "update_time": "2026-11-24T09:00:00.000000Z" },
            { "source": "connector:hubitat", "path": "connector:hubitat/4", "field": "temperature", "value": 91.5, "update_time": null },
        ],
        "swarm": "ops",
    });
    let agent = brain::engine::Caller {
        id: "agent:ops-swarm".into(),
        actor_type: brain::capability::ActorType::Agent,
        name: "ops-swarm".into(),
    };
    let view = api
        .engine
        .propose(
            &agent,
            &brain::engine::ProposeRequest {
                capability: "ops.recommendation.draft".into(),
                input: finding,
                rationale: "Shelved for 9 days; the limit is 7.".into(),
                idempotency_key: None,
                owner: Some("staff:admin".into()),
                draft: false,
                swarm: Some(brain::engine::swarms::SwarmProposal {
                    swarm: "ops".into(),
                    rule: "stalled_batch".into(),
                    rule_version: 1,
                    subject: "batches/b-2026-041".into(),
                    severity: "high".into(),
                    confidence: 0.9,
                    run_id: "r_manual".into(),
                    cooldown: chrono::Duration::days(1),
                }),
            },
        )
        .await
        .unwrap();
    let bob = Browser::sign_in(&api, &api.bob).await;
    let page = bob.get("/drafts").await;
    let card = draft_card(&page.html, &view.proposal.id);
    for text in [
        "<span class=\"badge severity severity-high\">high</span>",
        "<a href=\"https://console.firebase.google.com/project/studio-os-prod/firestore/databases/-default-/data/~2Fbatches~2Fb-2026-041\" rel=\"noreferrer\"",
        ">batches/b-2026-041</a>: <code class=\"field\">state</code> = <code class=\"value\">SHELVED</code> <small>updated <time datetime=\"2026-11-24T09:00:00.000000Z\">2026-11-24 09:00 UTC</time></small>",
        "<span class=\"source\">connector:hubitat</span> <code>connector:hubitat/4</code>: <code class=\"field\">temperature</code> = <code class=\"value\">91.5</code></li>",
    ] {
        assert!(card.contains(text), "`{text}` in {card}");
    }
}

#[tokio::test]
async fn the_drafts_page_names_an_unreachable_store() {
    let config = format!("{SWARMS}server:\n  auth:\n    mode: none\n");
    let (api, _, _) = studio_with_drafts(&config).await;
    api.engine.store().close().await;
    let page = send(&api, Request::get("/drafts").body(Body::empty()).unwrap()).await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    for text in [
        "id=\"drafts-error\"",
        "Drafts cannot be read",
        "the store is unavailable",
        "id=\"degraded\"",
        "<h1>Drafts</h1>",
    ] {
        assert!(page.html.contains(text), "`{text}` on {}", page.html);
    }
    let cockpit = send(&api, Request::get("/").body(Body::empty()).unwrap()).await;
    assert!(
        cockpit.html.contains("The swarms' standing cannot be read"),
        "{}",
        cockpit.html
    );
}

/// The intake review queue and the banner on a routed proposal: empty, waiting, overridden by a
/// signed-in staff member other than the proposer, and refused to the proposer.
#[tokio::test]
async fn the_intake_queue_and_banner_let_another_staff_member_override_the_gate() {
    let api = Api::new().await;
    let admin = Browser::sign_in(&api, &api.admin).await;
    let empty = admin.get("/intake").await;
    assert!(
        empty.html.contains("id=\"nothing-routed\""),
        "{}",
        empty.html
    );
    assert!(
        empty
            .html
            .contains("<a href=\"/intake\" aria-current=\"page\">Intake</a>")
    );

    let bob = api.engine.authenticate(&api.bob).await.unwrap();
    let routed = api
        .engine
        .propose(
            &bob,
            &brain::engine::ProposeRequest {
                capability: "test.note.draft".into(),
                input: serde_json::json!({ "text": "Make 200 ceramic grenade shells" }),
                rationale: "a member asked".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let id = routed.proposal.id.clone();
    let proposal = admin.get(&format!("/proposals/{id}")).await;
    assert!(
        proposal.html.contains("id=\"intake-banner\""),
        "{}",
        proposal.html
    );
    assert!(
        proposal
            .html
            .contains("Routed to human review: weaponization")
    );
    let queue = admin.get("/intake").await;
    assert!(
        queue.html.contains("Waiting for review (1)"),
        "{}",
        queue.html
    );
    assert!(queue.html.contains("<q>grenade</q>"));
    assert!(
        !queue.html.contains("ceramic grenade shells"),
        "the queue shows what matched, not the text"
    );
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
    assert!(queue.html.contains(&format!("id=\"grant-{slug}\"")));

    // The proposer cannot override the gate on their own proposal.
    let proposer = Browser::sign_in(&api, &api.bob).await;
    let refused = proposer
        .submit(
            "/intake/override",
            &[
                ("subject", &id),
                ("decision", "grant"),
                ("reason_code", "PROP_ONLY"),
                ("note", "it is mine"),
            ],
        )
        .await;
    assert!(
        refused.html.contains("SELF_APPROVAL_FORBIDDEN"),
        "{}",
        refused.html
    );

    let granted = admin
        .submit(
            "/intake/override",
            &[
                ("subject", &id),
                ("decision", "grant"),
                ("reason_code", "PROP_ONLY"),
                ("note", "inert film prop"),
            ],
        )
        .await;
    assert!(
        granted.html.contains("override granted for"),
        "{}",
        granted.html
    );
    assert!(granted.html.contains("Reviewed (1)"));
    let proposal = admin.get(&format!("/proposals/{id}")).await;
    assert!(
        proposal.html.contains("risk-banner risk-cleared"),
        "{}",
        proposal.html
    );
    // A wall display sees the queue without the form.
    let wall = Api::with_config("server:\n  auth:\n    mode: none\n").await;
    let page = send(&wall, Request::get("/intake").body(Body::empty()).unwrap()).await;
    assert!(page.html.contains("id=\"no-actions\""), "{}", page.html);
    assert!(!page.html.contains("action=\"/intake/override\""));
}

/// The tile of objective `id` on the cockpit.
fn slo_tile<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"slo-{id}\""))
        .unwrap_or_else(|| panic!("no tile for `{id}` in {html}"));
    let end = html[start..]
        .find("</div>")
        .map_or(html.len(), |end| start + end);
    &html[start..end]
}

#[tokio::test]
async fn the_cockpit_shows_each_objective_without_data_then_breached_with_the_timeline() {
    let api = Api::new().await;
    let bob = Browser::sign_in(&api, &api.bob).await;
    let cockpit = bob.get("/").await;
    assert_eq!(cockpit.status, StatusCode::OK);
    // A fresh studio: every default objective as a tile, none with a made-up number.
    for id in [
        "snapshot-freshness",
        "review-median-low",
        "audit-completeness",
        "brain-uptime",
        "cloud-writes-while-down",
    ] {
        let tile = slo_tile(&cockpit.html, id);
        assert!(tile.contains("data-status=\"no_data\""), "{tile}");
        assert!(tile.contains("no data"), "{tile}");
        assert!(tile.contains("no breach recorded"), "{tile}");
    }
    assert!(cockpit.html.contains("No objective is breached."));
    // The timeline names the events so far (the actors added).
    assert!(cockpit.html.contains("id=\"timeline\""), "{}", cockpit.html);
    assert!(cockpit.html.contains("manage_actors"));

    // The daemon started and stopped at once: down ever since, uptime critical.
    let run = api.engine.daemon_started().await.unwrap();
    api.engine.daemon_heartbeat(&run, true).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let cockpit = bob.get("/").await;
    let tile = slo_tile(&cockpit.html, "brain-uptime");
    assert!(tile.contains("data-status=\"critical\""), "{tile}");
    assert!(tile.contains("CRITICAL"), "{tile}");
    assert!(
        tile.contains("target 99%; warning under 99%, critical under 95%"),
        "{tile}"
    );
    assert!(
        slo_tile(&cockpit.html, "cloud-writes-while-down").contains("data-status=\"ok\""),
        "{}",
        cockpit.html
    );
    assert!(
        cockpit.html.contains("objective(s) breached"),
        "{}",
        cockpit.html
    );
}

#[tokio::test]
async fn a_read_only_console_shows_no_action_and_refuses_every_action_route() {
    let api = Api::with_config("server:\n  console:\n    read_only: true\n").await;
    let id = api.propose(&api.admin, "Kiln 2 lid latch is loose").await;
    let bob = Browser::sign_in(&api, &api.bob).await;
    let cockpit = bob.get("/").await;
    assert!(
        cockpit.html.contains("id=\"read-only\""),
        "{}",
        cockpit.html
    );
    assert!(cockpit.html.contains("<body class=\"read-only locked\">"));
    // The action routes refuse, the kill switches' too; signing out still works.
    for (path, fields) in [
        (format!("/proposals/{id}/approve"), vec![]),
        (format!("/proposals/{id}/reject"), vec![("reason", "no")]),
        (
            "/kill-switches".to_string(),
            vec![("name", "global"), ("on", "true"), ("reason", "x")],
        ),
    ] {
        let mut fields = fields;
        fields.push(("csrf", &bob.csrf));
        let refused = bob.post_raw(&path, &form(&fields)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path}");
        assert!(refused.html.contains("read-only"), "{}", refused.html);
    }
    let state = api
        .engine
        .store()
        .proposal(&id)
        .await
        .unwrap()
        .unwrap()
        .state;
    assert_eq!(
        state,
        brain::engine::lifecycle::ProposalState::PendingApproval
    );
    assert!(api.engine.active_kill_switches().await.unwrap().is_empty());
    let out = bob.post_raw("/logout", &form(&[("csrf", &bob.csrf)])).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn under_the_global_switch_only_the_switches_can_be_changed() {
    let api = Api::new().await;
    let id = api.propose(&api.admin, "Glaze shelf is low").await;
    let bob = Browser::sign_in(&api, &api.bob).await;
    let page = bob
        .submit(
            "/kill-switches",
            &[("name", "global"), ("on", "true"), ("reason", "smoke")],
        )
        .await;
    assert!(
        page.html.contains("kill switch global is ON"),
        "{}",
        page.html
    );
    let cockpit = bob.get("/").await;
    assert!(cockpit.html.contains("<body class=\"read-only\">"));
    assert!(
        cockpit
            .html
            .contains("Read-only while the global kill switch is on")
    );
    let refused = bob
        .post_raw(
            &format!("/proposals/{id}/approve"),
            &form(&[("csrf", &bob.csrf)]),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.html.contains("smoke"), "{}", refused.html);
    // The switches page keeps its controls: that is how the mode ends.
    let switches = bob.get("/kill-switches").await;
    assert!(switches.html.contains("class=\"action switch-control\""));
    let page = bob
        .submit(
            "/kill-switches",
            &[("name", "global"), ("on", "false"), ("reason", "all clear")],
        )
        .await;
    assert!(page.html.contains("kill switch global is off"));
    assert!(!bob.get("/").await.html.contains("id=\"read-only\""));
}

/// The tile of drill `scenario` on the cockpit.
fn drill_tile<'a>(html: &'a str, scenario: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"drill-{scenario}\""))
        .unwrap_or_else(|| panic!("no tile for drill `{scenario}` in {html}"));
    let end = html[start..]
        .find("</div>")
        .map_or(html.len(), |end| start + end);
    &html[start..end]
}

#[tokio::test]
async fn the_cockpit_shows_the_newest_run_of_each_drill_and_the_ones_never_run() {
    let api = Api::new().await;
    let bob = Browser::sign_in(&api, &api.bob).await;
    let cockpit = bob.get("/").await;
    assert!(
        cockpit.html.contains("id=\"drills-empty\""),
        "{}",
        cockpit.html
    );
    for scenario in brain::drill::SCENARIOS {
        assert!(drill_tile(&cockpit.html, scenario.name).contains("never run"));
    }
    let admin = api.engine.authenticate(&api.admin).await.unwrap();
    let report = |outcome: &str, passed: bool| {
        serde_json::json!({
            "scenario": "kill-switch",
            "started_at": "2026-12-03T10:00:00.000000Z",
            "finished_at": "2026-12-03T10:00:02.000000Z",
            "outcome": outcome,
            "recovery_seconds": 1.5,
            "checks": [
                {"name": "nothing executes after the switch", "passed": passed, "detail": "0 executed"},
                {"name": "the chain verifies", "passed": true, "detail": "ok"},
            ],
        })
    };
    api.engine
        .record_drill(&admin, "kill-switch", false, report("failed", false))
        .await
        .unwrap();
    let tile = drill_tile(&bob.get("/").await.html, "kill-switch").to_string();
    assert!(tile.contains("data-outcome=\"failed\""), "{tile}");
    assert!(tile.contains("nothing executes after the switch"), "{tile}");
    // The newest run is the one shown.
    let event = api
        .engine
        .record_drill(&admin, "kill-switch", true, report("passed", true))
        .await
        .unwrap();
    let cockpit = bob.get("/").await;
    let tile = drill_tile(&cockpit.html, "kill-switch");
    assert!(tile.contains("data-outcome=\"passed\""), "{tile}");
    assert!(tile.contains("2 checks passed"), "{tile}");
    assert!(tile.contains("recovered in 1.5 s"), "{tile}");
    assert!(
        tile.contains(&format!("audit event {}", event.seq)),
        "{tile}"
    );
    assert!(!cockpit.html.contains("id=\"drills-empty\""));
    assert!(drill_tile(&cockpit.html, "token-compromise").contains("never run"));
    // Nobody without the audit area sees the history: a delegated agent's caller is refused.
    let bot = api.engine.authenticate(&api.bot).await.unwrap();
    assert!(api.engine.drill_history(&bot).await.is_err());
}

#[tokio::test]
async fn the_cockpit_charts_review_time_and_names_each_connector() {
    let api = Api::with_config(
        "connectors:\n  - id: hubitat\n    kind: hubitat\n    base_url: sim://hubitat\n",
    )
    .await;
    let bob = Browser::sign_in(&api, &api.bob).await;
    let cockpit = bob.get("/").await;
    assert_eq!(cockpit.status, StatusCode::OK, "{}", cockpit.html);
    // Fourteen days, none with a review yet: the chart says so instead of drawing a line.
    assert!(
        cockpit
            .html
            .contains("id=\"trend-review\" data-points=\"0\""),
        "{}",
        cockpit.html
    );
    assert!(
        cockpit.html.contains("id=\"trend-connector-hubitat\""),
        "{}",
        cockpit.html
    );
    assert!(
        cockpit.html.contains("id=\"connector-tile-hubitat\""),
        "{}",
        cockpit.html
    );
    let id = api.propose(&api.admin, "kiln 2 is loud").await;
    let bob_caller = api.engine.authenticate(&api.bob).await.unwrap();
    api.engine.approve(&bob_caller, &id, None).await.unwrap();
    let cockpit = bob.get("/").await;
    assert!(
        cockpit
            .html
            .contains("id=\"trend-review\" data-points=\"1\""),
        "{}",
        cockpit.html
    );
    assert!(cockpit.html.contains("14 days"), "{}", cockpit.html);
}

// ---- New proposal ------------------------------------------------------------------------

/// The field of property `name` on a New proposal form (`<div ... id="wrap-field-NAME">...`).
fn field<'a>(html: &'a str, name: &str) -> &'a str {
    let marker = format!("id=\"wrap-field-{name}\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no field `{name}` in {html}"));
    let end = html[start..].find("</div>").unwrap() + start;
    &html[start..end]
}

async fn proposals_of(api: &Api, capability: &str) -> Vec<brain::store::Proposal> {
    api.engine
        .store()
        .proposals(&brain::store::ProposalFilter {
            capability: Some(capability.into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn the_new_proposal_form_is_generated_from_the_capabilitys_input_schema() {
    let api = Api::new().await;
    let admin = Browser::sign_in(&api, &api.admin).await;
    let cockpit = admin.get("/").await;
    assert!(
        cockpit
            .html
            .contains("<a href=\"/proposals/new\">New proposal</a>"),
        "the nav links the page: {}",
        cockpit.html
    );
    let picker = admin.get("/proposals/new").await;
    assert_eq!(picker.status, StatusCode::OK, "{}", picker.html);
    for id in [
        "marketing.post.draft",
        "test.note.draft",
        "firestore.ops_note.append",
    ] {
        assert!(
            picker.html.contains(&format!("<option value=\"{id}\"")),
            "`{id}` can be picked: {}",
            picker.html
        );
    }
    // Reads are what connectors do; they are not offered.
    assert!(
        !picker
            .html
            .contains("<option value=\"hubitat.devices.read\"")
    );
    assert!(!picker.html.contains("id=\"propose-form\""));

    let page = admin
        .get("/proposals/new?capability=marketing.post.draft")
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let html = &page.html;
    assert!(
        html.contains("<option value=\"marketing.post.draft\" selected>"),
        "{html}"
    );
    assert!(html.contains("id=\"capability-facts\""), "{html}");
    // An enum is a select, long text a textarea, a bounded number a number input, nested
    // objects and arrays JSON textareas.
    let channel = field(html, "channel");
    assert!(
        channel.contains("<select id=\"field-channel\" name=\"input.channel\""),
        "{channel}"
    );
    for option in ["newsletter", "instagram", "website"] {
        assert!(
            channel.contains(&format!("<option value=\"{option}\">")),
            "{channel}"
        );
    }
    let body = field(html, "body");
    assert!(
        body.contains("<textarea id=\"field-body\" name=\"input.body\" rows=\"6\" minlength=\"1\" maxlength=\"4000\">"),
        "{body}"
    );
    let confidence = field(html, "confidence");
    assert!(
        confidence.contains("type=\"number\" id=\"field-confidence\" name=\"input.confidence\" value=\"\" step=\"any\" min=\"0\" max=\"1\""),
        "{confidence}"
    );
    for nested in ["rule", "post", "evidence", "snapshot"] {
        let nested_field = field(html, nested);
        assert!(
            nested_field.contains("data-kind=\"JSON\""),
            "{nested_field}"
        );
        assert!(nested_field.contains("class=\"json\""), "{nested_field}");
    }
    assert!(
        html.contains("id=\"rationale\" name=\"rationale\""),
        "{html}"
    );
    assert!(
        html.contains("<button type=\"submit\" id=\"propose\">"),
        "{html}"
    );
    assert!(html.contains(&format!("name=\"csrf\" value=\"{}\"", admin.csrf)));

    // A required property is marked so.
    let page = admin.get("/proposals/new?capability=test.note.draft").await;
    let text = field(&page.html, "text");
    assert!(
        text.contains("<span class=\"required\">required</span>"),
        "{text}"
    );
    assert!(text.contains(" required aria-required=\"true\""), "{text}");
    // A schema without properties is one JSON field for the whole input.
    let page = admin
        .get("/proposals/new?capability=test.critical.draft")
        .await;
    assert!(
        page.html
            .contains("<textarea id=\"field-input\" name=\"input\""),
        "{}",
        page.html
    );

    // An unknown capability is named, with the nearest one.
    let page = admin
        .get("/proposals/new?capability=test.note.drafts")
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.html.contains("id=\"propose-refused\""),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("<code>test.note.draft</code>"),
        "{}",
        page.html
    );
}

#[tokio::test]
async fn a_proposal_made_from_the_console_is_the_engines_decision_and_is_audited() {
    let api = Api::new().await;
    let bob = Browser::sign_in(&api, &api.bob).await;
    let form_page = bob
        .get("/proposals/new?capability=marketing.post.draft")
        .await;
    let key = value_of(&form_page.html, "idempotency_key").to_string();
    let fields = [
        ("capability", "marketing.post.draft"),
        ("idempotency_key", key.as_str()),
        ("input.channel", "newsletter"),
        (
            "input.body",
            "Open studio night on Friday: wheels free from 6pm.",
        ),
        ("input.severity", ""),
        ("input.confidence", "0.8"),
        ("input.rule", ""),
        ("rationale", "The newsletter goes out on Thursday"),
    ];
    let mut with_csrf = fields.to_vec();
    with_csrf.push(("csrf", &bob.csrf));
    let posted = bob.post_raw("/proposals/new", &form(&with_csrf)).await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.html);
    let location = posted.location.unwrap();
    let id = location.strip_prefix("/proposals/").unwrap().to_string();
    let page = bob.get(&location).await;
    assert!(
        page.html
            .contains(&format!("proposed {id}: it is pending approval")),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("Open studio night on Friday"),
        "{}",
        page.html
    );
    let proposal = api.engine.store().proposal(&id).await.unwrap().unwrap();
    assert_eq!(proposal.proposer, "staff:bob");
    assert_eq!(
        proposal.input,
        json!({"channel": "newsletter", "body": "Open studio night on Friday: wheels free from 6pm.", "confidence": 0.8})
    );
    assert_eq!(proposal.rationale, "The newsletter goes out on Thursday");
    // The audit log has the Engine's decision.
    let audit = bob.get("/audit?capability=marketing.post.draft").await;
    let row = audit
        .html
        .split("<tr>")
        .find(|row| row.contains(&format!("/proposals/{id}\"")))
        .unwrap_or_else(|| panic!("no audit event for {id}: {}", audit.html));
    assert!(row.contains("<td>propose</td>"), "{row}");
    assert!(row.contains("class=\"decision-allow\""), "{row}");
    assert!(row.contains("staff:bob"), "{row}");
    // Posting the same form again (a reload, a double click) finds the same proposal.
    let again = bob.post_raw("/proposals/new", &form(&with_csrf)).await;
    assert_eq!(again.location.as_deref(), Some(location.as_str()));
    assert_eq!(proposals_of(&api, "marketing.post.draft").await.len(), 1);
}

#[tokio::test]
async fn an_invalid_proposal_comes_back_with_the_problem_named_and_the_values_kept() {
    let api = Api::new().await;
    let bob = Browser::sign_in(&api, &api.bob).await;
    // A schema violation: the Engine refuses it (INPUT_INVALID, audited), the form comes back.
    let page = bob
        .post_raw(
            "/proposals/new",
            &form(&[
                ("capability", "marketing.post.draft"),
                ("input.channel", "website"),
                ("input.body", "Glaze <night> & more"),
                ("input.confidence", "2"),
                ("rationale", "Fill the Tuesday class"),
                ("csrf", &bob.csrf),
            ]),
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.html
    );
    let html = &page.html;
    assert!(html.contains("id=\"propose-refused\""), "{html}");
    assert!(html.contains("<code>INPUT_INVALID</code>"), "{html}");
    assert!(
        html.contains("the proposal input does not satisfy the capability&#39;s input schema"),
        "{html}"
    );
    assert!(html.contains("`/confidence`"), "{html}");
    assert!(
        field(html, "confidence").contains("aria-invalid=\"true\""),
        "{html}"
    );
    assert!(field(html, "confidence").contains("value=\"2\""), "{html}");
    assert!(
        field(html, "channel").contains("<option value=\"website\" selected>"),
        "{html}"
    );
    assert!(
        field(html, "body").contains(">Glaze &lt;night&gt; &amp; more</textarea>"),
        "{html}"
    );
    assert!(
        html.contains(">Fill the Tuesday class</textarea>"),
        "{html}"
    );
    assert!(
        html.contains("<header>"),
        "the console frame is kept: {html}"
    );
    let refusal = api
        .engine
        .store()
        .audit_filtered(&brain::store::AuditFilter {
            capability: Some("marketing.post.draft".into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(refusal[0].decision, "deny");
    assert_eq!(refusal[0].reason_codes, ["INPUT_INVALID"]);

    // Text that is not a value of its field's kind is named before anything is sent.
    let page = bob
        .post_raw(
            "/proposals/new",
            &form(&[
                ("capability", "marketing.post.draft"),
                ("input.channel", "website"),
                ("input.body", "Glaze night"),
                ("input.rule", "{\"id\": "),
                ("input.confidence", "high"),
                ("rationale", "Fill the Tuesday class"),
                ("csrf", &bob.csrf),
            ]),
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.html
    );
    assert!(page.html.contains("id=\"form-problems\""), "{}", page.html);
    let rule = field(&page.html, "rule");
    assert!(rule.contains("this is not valid JSON"), "{rule}");
    assert!(rule.contains(">{&quot;id&quot;: </textarea>"), "{rule}");
    assert!(field(&page.html, "confidence").contains("`high` is not a number"));
    // A missing rationale is the Engine's refusal too, in words.
    let page = bob
        .post_raw(
            "/proposals/new",
            &form(&[
                ("capability", "test.note.draft"),
                ("input.text", "Kiln 3 thermocouple reads 40° high"),
                ("rationale", " "),
                ("csrf", &bob.csrf),
            ]),
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.html
    );
    assert!(
        page.html.contains("a proposal needs a rationale"),
        "{}",
        page.html
    );
    assert!(field(&page.html, "text").contains("value=\"Kiln 3 thermocouple reads 40° high\""));
    assert!(proposals_of(&api, "marketing.post.draft").await.is_empty());
    assert!(proposals_of(&api, "test.note.draft").await.is_empty());
}

#[tokio::test]
async fn a_denied_proposal_names_the_reason_and_who_may_not_propose_sees_why() {
    let api = Api::new().await;
    let bob = Browser::sign_in(&api, &api.bob).await;
    // No snapshot yet: a capability that needs fresh StudioState is refused at the decision.
    let page = bob
        .post_raw(
            "/proposals/new",
            &form(&[
                ("capability", "test.fresh.draft"),
                ("input", "{\"note\": \"reorder clay\"}"),
                ("rationale", "Stock is low"),
                ("csrf", &bob.csrf),
            ]),
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.html);
    assert!(
        page.html.contains("<code>SNAPSHOT_STALE</code>"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("run `brain snapshot run`"),
        "{}",
        page.html
    );
    assert!(
        page.html
            .contains("{&quot;note&quot;: &quot;reorder clay&quot;}</textarea>"),
        "{}",
        page.html
    );
    assert!(page.html.contains(">Stock is low</textarea>"));

    // A person (not staff) may propose low-risk capabilities only, and sees why not the rest.
    let hana = Browser::sign_in(&api, &api.hana).await;
    let picker = hana.get("/proposals/new").await;
    assert!(
        picker.html.contains("<option value=\"test.note.draft\""),
        "{}",
        picker.html
    );
    assert!(
        !picker
            .html
            .contains("<option value=\"test.critical.draft\"")
    );
    let refused = picker
        .html
        .split("id=\"refused-test.critical.draft\"")
        .nth(1)
        .unwrap_or_else(|| panic!("test.critical.draft is listed as refused: {}", picker.html));
    assert!(refused.contains("<code>NO_PERMIT</code>"), "{refused}");
    let page = hana
        .get("/proposals/new?capability=test.critical.draft")
        .await;
    assert!(
        page.html
            .contains("You may not propose <code>test.critical.draft</code>"),
        "{}",
        page.html
    );
    assert!(!page.html.contains("id=\"propose-form\""));
    // Posting it anyway is the Engine's refusal, named.
    let page = hana
        .post_raw(
            "/proposals/new",
            &form(&[
                ("capability", "test.critical.draft"),
                ("input", "{}"),
                ("rationale", "Move the glaze firing"),
                ("csrf", &hana.csrf),
            ]),
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.html);
    assert!(
        page.html.contains("<code>NO_PERMIT</code>"),
        "{}",
        page.html
    );
    // An agent without a delegation may not even look, and is told why in the console's frame.
    let bot = Browser::sign_in(&api, &api.bot).await;
    let picker = bot.get("/proposals/new").await;
    assert!(
        picker.html.contains("<h1>New proposal</h1>"),
        "{}",
        picker.html
    );
    assert!(
        picker.html.contains("<code>DELEGATION_MISSING</code>"),
        "{}",
        picker.html
    );
    assert!(
        !picker.html.contains("id=\"pick-capability\""),
        "{}",
        picker.html
    );
    // With a delegation that covers only a read, it may look but propose nothing, and sees why.
    let admin = api.engine.authenticate(&api.admin).await.unwrap();
    api.engine
        .delegate(
            &admin,
            "agent:bot",
            "staff:admin",
            &["hubitat.devices.read".to_string()],
            brain::clock::now() + chrono::Duration::days(1),
        )
        .await
        .unwrap();
    let picker = bot.get("/proposals/new").await;
    assert!(
        picker.html.contains("id=\"cannot-propose\""),
        "{}",
        picker.html
    );
    assert!(
        !picker.html.contains("id=\"pick-capability\""),
        "{}",
        picker.html
    );
    assert!(
        picker.html.contains("<details id=\"not-proposable\" open>"),
        "{}",
        picker.html
    );
    assert!(
        picker.html.contains("<code>DELEGATION_SCOPE</code>"),
        "{}",
        picker.html
    );
    // Widened to a draft capability, that one can be proposed under the delegation.
    api.engine
        .delegate(
            &admin,
            "agent:bot",
            "staff:admin",
            &["test.note.draft".to_string()],
            brain::clock::now() + chrono::Duration::days(1),
        )
        .await
        .unwrap();
    let picker = bot.get("/proposals/new").await;
    assert!(
        picker.html.contains("<option value=\"test.note.draft\""),
        "{}",
        picker.html
    );
    assert!(
        !picker
            .html
            .contains("<option value=\"test.critical.draft\"")
    );
}

#[tokio::test]
async fn a_new_proposal_without_its_csrf_token_is_refused() {
    let api = Api::new().await;
    let bob = Browser::sign_in(&api, &api.bob).await;
    for body in [
        form(&[
            ("capability", "test.note.draft"),
            ("input.text", "Kiln 2 lid latch is loose"),
            ("rationale", "safety"),
        ]),
        form(&[
            ("capability", "test.note.draft"),
            ("input.text", "Kiln 2 lid latch is loose"),
            ("rationale", "safety"),
            ("csrf", "0123456789abcdef0123456789abcdef"),
        ]),
    ] {
        let page = bob.post_raw("/proposals/new", &body).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.html);
        assert!(
            page.html.contains("CSRF token is missing or wrong"),
            "{}",
            page.html
        );
    }
    assert!(proposals_of(&api, "test.note.draft").await.is_empty());
}

#[tokio::test]
async fn a_read_only_console_shows_the_form_without_its_submit_control_and_refuses_the_post() {
    for config in ["server:\n  console:\n    read_only: true\n", ""] {
        let api = Api::with_config(config).await;
        let bob = Browser::sign_in(&api, &api.bob).await;
        if config.is_empty() {
            // Read-only while the global kill switch is on.
            bob.submit(
                "/kill-switches",
                &[("name", "global"), ("on", "true"), ("reason", "kiln alarm")],
            )
            .await;
        }
        let page = bob.get("/proposals/new?capability=test.note.draft").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.html.contains("id=\"no-submit\""), "{}", page.html);
        assert!(page.html.contains("<fieldset disabled>"), "{}", page.html);
        assert!(!page.html.contains("id=\"propose\""), "{}", page.html);
        assert!(
            !page
                .html
                .contains("action=\"/proposals/new\" class=\"propose-form\"")
        );
        let refused = bob
            .post_raw(
                "/proposals/new",
                &form(&[
                    ("capability", "test.note.draft"),
                    ("input.text", "Kiln 2 lid latch is loose"),
                    ("rationale", "safety"),
                    ("csrf", &bob.csrf),
                ]),
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);
        assert!(refused.html.contains("read-only"), "{}", refused.html);
        assert!(proposals_of(&api, "test.note.draft").await.is_empty());
    }
}

// ---- Queue filters -----------------------------------------------------------------------

/// The proposal ids listed in the Approvals page's tables.
fn listed(html: &str) -> Vec<String> {
    html.split("<tr data-proposal=\"")
        .skip(1)
        .map(|row| row[..row.find('"').unwrap()].to_string())
        .collect()
}

#[tokio::test]
async fn the_queues_filter_by_severity_target_and_state_and_explain_bad_values() {
    let (api, ops, marketing) = studio_with_drafts(SWARMS).await;
    let stalled = proposal_id(&ops, "stalled_batch", "batches/b-2026-041");
    let post = proposal_id(&marketing, "firing_completed", "kilnFirings/f-glaze-1201");
    let stalled_severity = proposed(&ops, "stalled_batch", "batches/b-2026-041")
        .finding
        .severity
        .as_str();
    let note = api.propose(&api.admin, "Kiln 2 lid latch is loose").await;
    // A proposal on another system: an ops note in Firestore (a snapshot exists).
    let (status, view, _) = api
        .call(
            "POST",
            "/api/v1/proposals",
            Some(&api.admin),
            Some(json!({
                "capability": "firestore.ops_note.append",
                "input": { "text": "Kiln 2 is back in service" },
                "rationale": "tell the studio",
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let ops_note = view["id"].as_str().unwrap().to_string();
    let bob = Browser::sign_in(&api, &api.bob).await;
    bob.submit(
        &format!("/proposals/{note}/reject"),
        &[("reason", "fixed already")],
    )
    .await;

    let page = bob.get("/approvals").await;
    let all = listed(&page.html);
    for id in [&stalled, &post, &note, &ops_note] {
        assert!(all.contains(id), "{id} in {all:?}");
    }
    assert!(page.html.contains("<th>Age</th>"), "{}", page.html);
    assert!(
        page.html.contains(" ago</time>"),
        "ages are shown: {}",
        page.html
    );
    assert!(
        page.html
            .contains("<a href=\"/proposals/new\" id=\"new-proposal\">")
    );

    // Target: only the Firestore note.
    let page = bob.get("/approvals?target=firestore").await;
    assert_eq!(listed(&page.html), [ops_note.as_str()], "{}", page.html);
    assert!(
        page.html
            .contains("1 proposal matches target <code>firestore</code>"),
        "{}",
        page.html
    );
    assert!(page.html.contains("<option value=\"firestore\" selected>"));
    // Severity: only swarm drafts of that severity.
    let page = bob
        .get(&format!("/approvals?severity={stalled_severity}"))
        .await;
    let shown = listed(&page.html);
    assert!(shown.contains(&stalled), "{shown:?}");
    assert!(
        !shown.contains(&note) && !shown.contains(&ops_note),
        "{shown:?}"
    );
    // State: only the rejected note.
    let page = bob.get("/approvals?state=rejected").await;
    assert_eq!(listed(&page.html), [note.as_str()], "{}", page.html);
    let page = bob
        .get("/approvals?state=pending_approval&target=brain")
        .await;
    let shown = listed(&page.html);
    assert!(
        shown.contains(&stalled) && shown.contains(&post),
        "{shown:?}"
    );
    assert!(
        !shown.contains(&note) && !shown.contains(&ops_note),
        "{shown:?}"
    );
    // Nothing matches: said so, with a way back.
    let page = bob.get("/approvals?target=firestore&state=rejected").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(listed(&page.html).is_empty());
    assert!(
        page.html.contains("No proposals match target <code>firestore</code>, state <code>rejected</code>. <a href=\"/approvals\">Clear filters</a>"),
        "{}",
        page.html
    );
    // Bad values are named on the page, which still renders with every proposal.
    let page = bob
        .get("/approvals?severity=urgent&target=mars&state=waiting&risk=extreme")
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(
        page.html.contains("id=\"filter-problems\""),
        "{}",
        page.html
    );
    for problem in [
        "`urgent` is not a severity (low, medium, high)",
        "no capability acts on `mars`",
        "`waiting` is not a state (open, all, draft, pending_approval",
        "`extreme` is not a risk tier",
    ] {
        assert!(page.html.contains(problem), "`{problem}` in {}", page.html);
    }
    assert_eq!(listed(&page.html).len(), all.len());

    // The Drafts page: by target, with bad values named and an empty result said so.
    let drafts = bob.get("/drafts?target=brain&state=all").await;
    assert_eq!(
        cards_on(&drafts.html),
        cards_on(&bob.get("/drafts?state=all").await.html)
    );
    assert!(
        drafts.html.contains("<option value=\"brain\" selected>"),
        "{}",
        drafts.html
    );
    let drafts = bob.get("/drafts?target=firestore").await;
    assert_eq!(cards_on(&drafts.html), 0);
    assert!(
        drafts.html.contains("No open drafts match target <code>firestore</code>. <a href=\"/drafts\">Clear filters</a>"),
        "{}",
        drafts.html
    );
    let drafts = bob.get("/drafts?target=mars&severity=urgent").await;
    assert_eq!(drafts.status, StatusCode::OK);
    assert!(
        drafts.html.contains("no capability acts on `mars`"),
        "{}",
        drafts.html
    );
    assert!(
        drafts.html.contains("`urgent` is not a severity"),
        "{}",
        drafts.html
    );
    assert!(
        cards_on(&drafts.html) > 0,
        "bad filters are left out: {}",
        drafts.html
    );
}

/// A signed-in browser over real HTTP: the session cookie and CSRF token of a `brain serve`.
struct HttpSession {
    client: reqwest::blocking::Client,
    base: String,
    cookie: String,
    csrf: String,
}

impl HttpSession {
    fn sign_in(base: &str, token: &str) -> HttpSession {
        let client = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let login = client.get(format!("{base}/login")).send().unwrap();
        let login_cookie = cookie_value(
            login.headers()[header::SET_COOKIE.as_str()]
                .to_str()
                .unwrap(),
        );
        let csrf = value_of(&login.text().unwrap(), "csrf").to_string();
        let signed_in = client
            .post(format!("{base}/login"))
            .header(header::COOKIE.as_str(), login_cookie)
            .header(
                header::CONTENT_TYPE.as_str(),
                "application/x-www-form-urlencoded",
            )
            .body(form(&[("token", token), ("csrf", &csrf)]))
            .send()
            .unwrap();
        assert_eq!(signed_in.status().as_u16(), 303);
        let cookie = signed_in
            .headers()
            .get_all(header::SET_COOKIE.as_str())
            .iter()
            .map(|value| cookie_value(value.to_str().unwrap()))
            .find(|cookie| cookie.starts_with("brain_session="))
            .unwrap();
        let mut session = HttpSession {
            client,
            base: base.to_string(),
            cookie,
            csrf: String::new(),
        };
        session.csrf = value_of(&session.get("/").1, "csrf").to_string();
        session
    }

    fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header(header::COOKIE.as_str(), &self.cookie)
            .send()
            .unwrap();
        (response.status().as_u16(), response.text().unwrap())
    }

    /// POST a form; the status, the redirect's target and the page.
    fn post(&self, path: &str, body: &str) -> (u16, Option<String>, String) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header(header::COOKIE.as_str(), &self.cookie)
            .header(
                header::CONTENT_TYPE.as_str(),
                "application/x-www-form-urlencoded",
            )
            .body(body.to_string())
            .send()
            .unwrap();
        let location = response
            .headers()
            .get(header::LOCATION.as_str())
            .map(|value| value.to_str().unwrap().to_string());
        (
            response.status().as_u16(),
            location,
            response.text().unwrap(),
        )
    }
}

/// The New proposal page of a real `brain serve`, on SQLite and (with
/// `BRAIN_TEST_DATABASE_URL`) Postgres: the form from the schema, a valid proposal made and
/// audited, an invalid one back with its problem, a post without its CSRF token refused.
#[test]
fn proposals_are_made_from_the_console_of_a_real_daemon_on_every_backend() {
    for mut studio in crate::engine::Studio::all() {
        let bob = studio.add("staff:bob");
        studio.through_daemon();
        let base = studio.daemon.as_ref().unwrap().url("");
        let label = studio.label();
        let session = HttpSession::sign_in(&base, &bob);
        let (status, page) = session.get("/proposals/new?capability=test.note.draft");
        assert_eq!(status, 200, "{label}: {page}");
        assert!(
            field(&page, "text").contains("name=\"input.text\""),
            "{label}: {page}"
        );
        let key = value_of(&page, "idempotency_key").to_string();

        let (status, _, page) = session.post(
            "/proposals/new",
            &form(&[
                ("capability", "test.note.draft"),
                ("idempotency_key", &key),
                ("input.text", ""),
                ("rationale", "the latch"),
                ("csrf", &session.csrf),
            ]),
        );
        assert_eq!(status, 422, "{label}: {page}");
        assert!(
            page.contains("<code>INPUT_INVALID</code>"),
            "{label}: {page}"
        );
        assert!(
            page.contains("&quot;text&quot; is a required property"),
            "{label}: {page}"
        );
        assert!(page.contains(">the latch</textarea>"), "{label}: {page}");

        let (status, location, page) = session.post(
            "/proposals/new",
            &form(&[
                ("capability", "test.note.draft"),
                ("idempotency_key", &key),
                ("input.text", "Kiln 2 lid latch is loose"),
                ("rationale", "the latch"),
                ("csrf", &session.csrf),
            ]),
        );
        assert_eq!(status, 303, "{label}: {page}");
        let location = location.unwrap();
        let id = location.strip_prefix("/proposals/").unwrap();
        let (_, page) = session.get(&location);
        assert!(
            page.contains(&format!("proposed {id}: it is pending approval")),
            "{label}: {page}"
        );
        let (code, listed) = studio.json(&studio.admin, &["audit", "tail", "--proposal", id]);
        assert_eq!(code, 0, "{label}: {listed}");
        let events = listed.as_array().unwrap_or_else(|| panic!("{listed}"));
        assert!(
            events.iter().any(|event| event["action"] == "propose"
                && event["decision"] == "allow"
                && event["actor"] == "staff:bob"),
            "{label}: {listed}"
        );

        let (status, _, page) = session.post(
            "/proposals/new",
            &form(&[
                ("capability", "test.note.draft"),
                ("input.text", "forged"),
                ("rationale", "forged"),
            ]),
        );
        assert_eq!(status, 403, "{label}: {page}");
        let (_, proposals) = studio.json(&studio.admin, &["proposals"]);
        assert_eq!(
            proposals.as_array().map(Vec::len),
            Some(1),
            "{label}: {proposals}"
        );
    }
}
