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

#[tokio::test]
async fn the_studio_state_page_shows_the_snapshot_as_derived_from_cloud() {
    let api = Api::new().await;
    let bob = Browser::sign_in(&api, &api.bob).await;
    let empty = bob.get("/studio-state").await;
    assert!(empty.html.contains("id=\"no-snapshot\""));
    let source: std::sync::Arc<dyn brain::cloud::Source> =
        std::sync::Arc::new(brain::cloud::fixtures::FixtureSource::new(
            &crate::support::repo().join("examples/studio/cloud"),
        ));
    let record = api
        .engine
        .take_snapshot(&[source], 0, |_, _| {})
        .await
        .unwrap();
    let page = bob.get("/studio-state").await;
    for text in [
        "derived from cloud",
        record.id.as_str(),
        "fresh",
        "fixtures",
        "oldest_since",
        "Changes",
    ] {
        assert!(page.html.contains(text), "`{text}` on the StudioState page");
    }
    let cockpit = bob.get("/").await;
    assert!(
        cockpit.html.contains(&record.id),
        "the cockpit links the newest snapshot"
    );
    assert!(!cockpit.html.contains("no snapshot yet"));
}
