//! Accounts over real HTTP: registration, login, refresh rotation, logout
//! revocation, role checks and input errors.

mod common;

use clinicall_protocol::rest::{Account, NewUser, RefreshRequest, TokenPair};
use clinicall_protocol::{ErrorCode, Role};
use clinicall_signaling_server::auth::TokenKeys;
use common::*;
use std::time::Duration;

fn new_patient(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        password: PASSWORD.into(),
        display_name: "Pat".into(),
        role: None,
    }
}

#[tokio::test]
async fn patient_registers_logs_in_and_reads_own_account() {
    let server = TestServer::start().await;
    let resp = server
        .post(
            "/api/v1/auth/register",
            None,
            &new_patient(" Pat@Example.ORG "),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let account: Account = resp.json().await.unwrap();
    assert_eq!(
        (account.role, account.email.as_str()),
        (Role::Patient, "pat@example.org")
    );

    let tokens = server.login("PAT@example.org", PASSWORD).await;
    assert_eq!(tokens.account.id, account.id);
    let me: Account = server
        .get("/api/v1/me", Some(&tokens.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me, account);

    // Same email again, any case: refused, with the field named.
    let resp = server
        .post(
            "/api/v1/auth/register",
            None,
            &new_patient("pat@EXAMPLE.org"),
        )
        .await;
    assert_eq!(resp.status(), 409);
    let body: clinicall_protocol::rest::ErrorBody = resp.json().await.unwrap();
    assert_eq!(
        (body.error.code, body.error.field.as_deref()),
        (ErrorCode::EmailTaken, Some("email"))
    );
}

#[tokio::test]
async fn registration_validates_every_field() {
    let server = TestServer::start().await;
    let cases = [
        (
            NewUser {
                email: "not-an-email".into(),
                ..new_patient("")
            },
            "email",
        ),
        (
            NewUser {
                password: "short".into(),
                ..new_patient("a@b.test")
            },
            "password",
        ),
        (
            NewUser {
                display_name: "   ".into(),
                ..new_patient("a@b.test")
            },
            "display_name",
        ),
    ];
    for (body, field) in cases {
        let resp = server.post("/api/v1/auth/register", None, &body).await;
        assert_eq!(resp.status(), 422, "{field}");
        let body: clinicall_protocol::rest::ErrorBody = resp.json().await.unwrap();
        assert_eq!(body.error.code, ErrorCode::InvalidField);
        assert_eq!(body.error.field.as_deref(), Some(field));
    }
    // Nothing was created by the failures.
    let admin = server.admin_token().await;
    let accounts: Vec<Account> = server
        .get("/api/v1/admin/users", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(accounts.len(), 1, "only the bootstrap admin: {accounts:?}");
}

#[tokio::test]
async fn malformed_and_oversized_bodies_get_json_errors() {
    let server = TestServer::start().await;
    let resp = server
        .http
        .post(server.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{\"email\":")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, ErrorCode::BadJson);

    let resp = server
        .post("/api/v1/auth/login", None, &serde_json::json!({"email": 5}))
        .await;
    assert_eq!(resp.status(), 422);
    assert_eq!(error_code(resp).await, ErrorCode::InvalidMessage);

    let huge = NewUser {
        display_name: "x".repeat(64 * 1024),
        ..new_patient("big@x.test")
    };
    let resp = server.post("/api/v1/auth/register", None, &huge).await;
    assert_eq!(resp.status(), 413);
    assert_eq!(error_code(resp).await, ErrorCode::PayloadTooLarge);

    let resp = server.get("/api/v1/nowhere", None).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(error_code(resp).await, ErrorCode::NotFound);
}

#[tokio::test]
async fn wrong_password_and_unknown_email_look_the_same() {
    let server = TestServer::start().await;
    server
        .post("/api/v1/auth/register", None, &new_patient("p@x.test"))
        .await;
    for (email, password) in [("p@x.test", "wrong-password"), ("nobody@x.test", PASSWORD)] {
        let resp = server
            .post(
                "/api/v1/auth/login",
                None,
                &serde_json::json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(resp.status(), 401);
        assert_eq!(error_code(resp).await, ErrorCode::InvalidCredentials);
    }
}

#[tokio::test]
async fn refresh_rotates_and_a_spent_token_is_refused_and_ends_the_login() {
    let server = TestServer::start().await;
    server
        .post("/api/v1/auth/register", None, &new_patient("r@x.test"))
        .await;
    let first = server.login("r@x.test", PASSWORD).await;

    let resp = server
        .post(
            "/api/v1/auth/refresh",
            None,
            &RefreshRequest {
                refresh_token: first.refresh_token.clone(),
            },
        )
        .await;
    assert_eq!(resp.status(), 200);
    let second: TokenPair = resp.json().await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(
        server
            .get("/api/v1/me", Some(&second.access_token))
            .await
            .status(),
        200
    );

    // The old refresh token is spent.
    let resp = server
        .post(
            "/api/v1/auth/refresh",
            None,
            &RefreshRequest {
                refresh_token: first.refresh_token,
            },
        )
        .await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, ErrorCode::InvalidRefreshToken);
    // Reuse looks like theft: the whole login ended, newest tokens included.
    let resp = server.get("/api/v1/me", Some(&second.access_token)).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, ErrorCode::SessionRevoked);
    let resp = server
        .post(
            "/api/v1/auth/refresh",
            None,
            &RefreshRequest {
                refresh_token: second.refresh_token,
            },
        )
        .await;
    assert_eq!(error_code(resp).await, ErrorCode::InvalidRefreshToken);
}

#[tokio::test]
async fn logout_revokes_that_login_only() {
    let server = TestServer::start().await;
    server
        .post("/api/v1/auth/register", None, &new_patient("l@x.test"))
        .await;
    let laptop = server.login("l@x.test", PASSWORD).await;
    let phone = server.login("l@x.test", PASSWORD).await;

    let resp = server
        .post(
            "/api/v1/auth/logout",
            None,
            &RefreshRequest {
                refresh_token: laptop.refresh_token.clone(),
            },
        )
        .await;
    assert_eq!(resp.status(), 204);

    let resp = server.get("/api/v1/me", Some(&laptop.access_token)).await;
    assert_eq!(error_code(resp).await, ErrorCode::SessionRevoked);
    let resp = server
        .post(
            "/api/v1/auth/refresh",
            None,
            &RefreshRequest {
                refresh_token: laptop.refresh_token,
            },
        )
        .await;
    assert_eq!(error_code(resp).await, ErrorCode::InvalidRefreshToken);
    // The other device stays signed in.
    assert_eq!(
        server
            .get("/api/v1/me", Some(&phone.access_token))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn expired_forged_and_missing_tokens_are_refused() {
    let server = TestServer::start().await;
    let user = server.user(Role::Patient, "Pat").await;
    let keys = TokenKeys::new(SECRET.as_bytes(), Duration::from_secs(60));
    let claims = keys.verify(&user.token).unwrap();
    let expired = keys.issue(user.id(), claims.sid, Role::Patient, 1_000_000);
    let resp = server.get("/api/v1/me", Some(&expired)).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, ErrorCode::TokenExpired);

    // Signed with another secret, claiming to be an admin.
    let forged = TokenKeys::new(
        b"some-other-secret-some-other-secret",
        Duration::from_secs(60),
    )
    .issue(user.id(), claims.sid, Role::Admin, clinicall_now());
    let resp = server.get("/api/v1/admin/users", Some(&forged)).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, ErrorCode::Unauthenticated);

    let resp = server.get("/api/v1/me", None).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, ErrorCode::Unauthenticated);
}

fn clinicall_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn only_admins_create_doctors_and_admins() {
    let server = TestServer::start().await;
    let patient = server.user(Role::Patient, "Pat").await;
    let doctor = server.user(Role::Doctor, "Doc").await;
    let new_doctor = NewUser {
        role: Some(Role::Doctor),
        ..new_patient("d2@x.test")
    };

    // Not through self-registration...
    let resp = server
        .post("/api/v1/auth/register", None, &new_doctor)
        .await;
    assert_eq!(resp.status(), 403);
    assert_eq!(error_code(resp).await, ErrorCode::Forbidden);
    // ...nor by a patient or a doctor...
    for who in [&patient, &doctor] {
        let resp = server
            .post("/api/v1/admin/users", Some(&who.token), &new_doctor)
            .await;
        assert_eq!(resp.status(), 403);
        let resp = server.get("/api/v1/admin/users", Some(&who.token)).await;
        assert_eq!(resp.status(), 403);
    }
    // ...only by an admin, who must name the role.
    let admin = server.admin_token().await;
    let resp = server
        .post("/api/v1/admin/users", Some(&admin), &new_doctor)
        .await;
    assert_eq!(resp.status(), 201);
    let account: Account = resp.json().await.unwrap();
    assert_eq!(account.role, Role::Doctor);
    let resp = server
        .post(
            "/api/v1/admin/users",
            Some(&admin),
            &NewUser {
                role: None,
                ..new_patient("x@x.test")
            },
        )
        .await;
    assert_eq!(resp.status(), 422);
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited_per_address() {
    let server = TestServer::start_with(|c| c.limits.auth_requests_per_minute = 5).await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let resp = server
            .post(
                "/api/v1/auth/login",
                None,
                &serde_json::json!({"email": "a@b.test", "password": "whatever1"}),
            )
            .await;
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(&statuses[..5], &[401; 5]);
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let server = TestServer::start().await;
    assert_eq!(
        server.get("/healthz", None).await.text().await.unwrap(),
        "ok"
    );
    assert_eq!(server.get("/readyz", None).await.status(), 200);
    // An error is counted.
    server.get("/api/v1/me", None).await;
    let metrics = server.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains("clinicall_errors_total{code=\"unauthenticated\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn every_rest_error_is_json_and_admin_routes_check_the_role_first() {
    let server = TestServer::start().await;
    let patient = server.user(Role::Patient, "Pat").await;
    // A non-admin gets 403 even with a body that would not parse.
    let resp = server
        .http
        .post(server.url("/api/v1/admin/users"))
        .bearer_auth(&patient.token)
        .header("content-type", "application/json")
        .body("{broken")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(error_code(resp).await, ErrorCode::Forbidden);

    let resp = server
        .http
        .delete(server.url("/api/v1/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(error_code(resp).await, ErrorCode::InvalidMessage);

    let resp = server
        .get("/api/v1/calls?limit=lots", Some(&patient.token))
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, ErrorCode::InvalidField);

    // A plain GET of the WebSocket endpoint, without the upgrade headers.
    let resp = server.get("/api/v1/ws", None).await;
    assert!(resp.status().is_client_error());
    assert_eq!(error_code(resp).await, ErrorCode::InvalidMessage);
}

async fn login_from(server: &TestServer, forwarded_for: &str) -> u16 {
    server
        .http
        .post(server.url("/api/v1/auth/login"))
        .header("x-forwarded-for", forwarded_for)
        .json(&serde_json::json!({"email": "a@b.test", "password": "whatever1"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_sign_in_budget() {
    // The test client connects from 127.0.0.1, which plays the proxy. The
    // forwarded addresses are header values only; nothing is sent to them.
    let server = TestServer::start_with(|c| {
        c.limits.auth_requests_per_minute = 2;
        c.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    assert_eq!(login_from(&server, "192.0.2.1").await, 401);
    assert_eq!(login_from(&server, "192.0.2.1").await, 401);
    assert_eq!(login_from(&server, "192.0.2.1").await, 429);
    // Another client behind the same proxy is not locked out...
    assert_eq!(login_from(&server, "192.0.2.2").await, 401);
    // ...and a client cannot dodge its limit by prepending a forged hop.
    assert_eq!(login_from(&server, "203.0.113.9, 192.0.2.1").await, 429);
}

#[tokio::test]
async fn forwarded_headers_from_untrusted_peers_are_ignored() {
    let server = TestServer::start_with(|c| c.limits.auth_requests_per_minute = 2).await;
    assert_eq!(login_from(&server, "192.0.2.1").await, 401);
    assert_eq!(login_from(&server, "192.0.2.2").await, 401);
    assert_eq!(login_from(&server, "192.0.2.3").await, 429);
}
