//! RDS IAM authentication, without RDS: rds-enrich's tokens are exactly botocore's
//! `generate_db_auth_token` for the same credentials, endpoint, user and second; and
//! MariaDB, with a PAM user whose login runs scripts/rds-token.py (the stand-in for RDS's
//! check: botocore's token for the token's own date, with the known key, under 15 minutes
//! old), lets rds-enrich in with a fresh token per connection, no password anywhere, and
//! refuses forged and stale tokens with a clear error.

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use e2e::credentials_endpoint::{CredentialsEndpoint, Served};
use e2e::{workspace_root, Function, Services};
use secrecy::ExposeSecret;
use serde_json::json;
use shared::iam_auth::IamAuth;

fn botocore(auth: &IamAuth, creds: &Credentials, at: u64) -> String {
    let mut cmd = Command::new("python3");
    cmd.arg(workspace_root().join("scripts/rds-token.py"))
        .args(["generate", "--host", &auth.host, "--user", &auth.user])
        .args(["--port", &auth.port.to_string(), "--region", &auth.region])
        .args(["--time", &at.to_string()])
        .env("AWS_ACCESS_KEY_ID", creds.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key())
        .env_remove("AWS_SESSION_TOKEN");
    if let Some(token) = creds.session_token() {
        cmd.env("AWS_SESSION_TOKEN", token);
    }
    let out = cmd.output().expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn tokens_are_botocores_to_the_byte() {
    let cases = [
        (
            "proxy.example.internal",
            3306,
            "app",
            "eu-west-1",
            Some("FwoGZXIvYXdzEJr//////////wEaDA+/x="),
        ),
        (
            "db.cluster-abc.us-east-1.rds.amazonaws.com",
            3307,
            "app_iam",
            "us-east-1",
            None,
        ),
        (
            "127.0.0.1",
            33306,
            "user.with-dots~",
            "ap-southeast-2",
            Some("short"),
        ),
    ];
    for (i, (host, port, user, region, session)) in cases.into_iter().enumerate() {
        let auth = IamAuth {
            host: host.into(),
            port,
            user: user.into(),
            region: region.into(),
        };
        let creds = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            session.map(String::from),
            None,
            "test",
        );
        let at = 1_790_000_000 + 86_400 * i as u64 + 7;
        let ours = auth
            .token(&creds, UNIX_EPOCH + Duration::from_secs(at))
            .unwrap();
        assert_eq!(
            ours.expose_secret(),
            botocore(&auth, &creds, at),
            "case {i}"
        );
    }
}

/// rds-enrich against the PAM user: IAM auth on, the test credentials, no password.
fn iam_env<'a>(services: &'a Services, secret: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("DATABASE_URL", services.var("DATABASE_URL_IAM")),
        ("DATABASE_CA_FILE", services.var("DATABASE_CA_FILE")),
        ("DATABASE_IAM_AUTH", "true"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", services.var("IAM_ACCESS_KEY_ID")),
        ("AWS_SECRET_ACCESS_KEY", secret),
    ]
}

#[test]
fn rds_enrich_logs_in_with_a_fresh_token_per_connection() {
    let services = Services::load();
    let _db = e2e::database_lock();
    let mut admin = e2e::Admin::connect(&services);
    let env = iam_env(&services, services.var("IAM_SECRET_ACCESS_KEY"));
    let f = Function::start(&services, "rds-enrich", &env);
    let reply = f.invoke(&json!({"id": 1}));
    assert_eq!(
        reply.body,
        json!({"id": 1, "name": "Ada Lovelace"}),
        "{}",
        f.logs()
    );
    let first = admin.connection_ids("app_iam");
    assert_eq!(first.len(), 1, "one kept connection, as app_iam");
    // A new connection (the kept one killed) logs in again, with a new token.
    admin.exec(&format!("KILL CONNECTION {}", first[0]));
    let reply = f.invoke(&json!({"id": 42}));
    assert_eq!(
        reply.body,
        json!({"id": 42, "name": "Douglas Adams"}),
        "{}",
        f.logs()
    );
    let second = admin.connection_ids("app_iam");
    assert_eq!(second.len(), 1);
    assert_ne!(second, first);
    // The token is a secret: not in the logs.
    assert!(!f.logs().contains("X-Amz-Signature"), "{}", f.logs());
}

#[test]
fn a_forged_token_is_a_database_auth_error_not_a_crash() {
    let services = Services::load();
    let _db = e2e::database_lock();
    // Signed with a key the server does not know: a forged token.
    let mut f = Function::start(
        &services,
        "rds-enrich",
        &iam_env(&services, "not-the-secret"),
    );
    let reply = f.invoke(&json!({"id": 1}));
    // The server's refusal names the user and the host: for the log only.
    f.assert_details_only_in_log(&reply, "DatabaseAuth", &["Access denied", "app_iam"]);
    assert!(!reply.body.to_string().contains("X-Amz-"), "{}", reply.body);
    f.call_fails_with("DatabaseAuth", &json!({"id": 1}));
    assert!(f.is_running(), "the process died:\n{}", f.logs());
}

#[test]
fn the_server_side_check_refuses_stale_tokens_and_accepts_fresh_ones() {
    let services = Services::load();
    // Its logins are app_iam connections too, while PAM checks them: not during a test
    // that counts them.
    let _db = e2e::database_lock();
    let auth = IamAuth {
        host: "127.0.0.1".into(),
        port: services.var("MYSQL_PORT").parse().unwrap(),
        user: "app_iam".into(),
        region: "us-east-1".into(),
    };
    let creds = Credentials::new(
        services.var("IAM_ACCESS_KEY_ID"),
        services.var("IAM_SECRET_ACCESS_KEY"),
        None,
        None,
        "test",
    );
    let login = |age: Duration| {
        let token = auth.token(&creds, SystemTime::now() - age).unwrap();
        Command::new("mariadb")
            .args(["--no-defaults", "-h", "127.0.0.1", "-u", "app_iam", "--ssl"])
            .arg(format!("--port={}", auth.port))
            .arg(format!("--ssl-ca={}", services.var("DATABASE_CA_FILE")))
            .arg(format!("--password={}", token.expose_secret()))
            .args(["-e", "SELECT 1"])
            .output()
            .expect("the mariadb client")
    };
    let fresh = login(Duration::from_secs(5));
    assert!(
        fresh.status.success(),
        "{}",
        String::from_utf8_lossy(&fresh.stderr)
    );
    // Past its 15 minutes: what RDS refuses, the stand-in refuses too.
    let stale = login(Duration::from_secs(16 * 60));
    assert!(!stale.status.success());
    assert!(String::from_utf8_lossy(&stale.stderr).contains("Access denied"));
}

/// rds-enrich with IAM auth and no key variables: its credentials come only from a container
/// credentials endpoint, with its token in a file (`AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`).
fn from_endpoint(
    services: &Services,
    lifetime: Duration,
    token: &str,
) -> (CredentialsEndpoint, Function) {
    let served = Served {
        access_key_id: services.var("IAM_ACCESS_KEY_ID").into(),
        secret_access_key: services.var("IAM_SECRET_ACCESS_KEY").into(),
        lifetime,
    };
    let endpoint = CredentialsEndpoint::start("the-token", served);
    let dir = workspace_root().join("target/e2e");
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join(format!("container-token-{}-{}", std::process::id(), token));
    std::fs::write(&token_file, token).unwrap();
    let env = [
        ("DATABASE_URL", services.var("DATABASE_URL_IAM")),
        ("DATABASE_CA_FILE", services.var("DATABASE_CA_FILE")),
        ("DATABASE_IAM_AUTH", "true"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url.as_str()),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            token_file.to_str().unwrap(),
        ),
    ];
    let f = Function::start(services, "rds-enrich", &env);
    (endpoint, f)
}

#[test]
fn tokens_are_signed_with_credentials_from_the_container_endpoint_kept_until_near_expiry() {
    let services = Services::load();
    let _db = e2e::database_lock();
    let mut admin = e2e::Admin::connect(&services);
    let (endpoint, f) = from_endpoint(&services, Duration::from_secs(3600), "the-token");
    assert_eq!(
        f.call(&json!({"id": 1}))["name"],
        "Ada Lovelace",
        "{}",
        f.logs()
    );
    assert_eq!(endpoint.requests(), 1);
    // A new connection signs a new token with the kept credentials: no second fetch.
    let first = admin.connection_ids("app_iam");
    admin.exec(&format!("KILL CONNECTION {}", first[0]));
    assert_eq!(
        f.call(&json!({"id": 42}))["name"],
        "Douglas Adams",
        "{}",
        f.logs()
    );
    assert_ne!(admin.connection_ids("app_iam"), first);
    assert_eq!(endpoint.requests(), 1, "the credentials were fetched again");
}

#[test]
fn credentials_near_their_expiry_are_fetched_again_before_signing() {
    let services = Services::load();
    let _db = e2e::database_lock();
    let mut admin = e2e::Admin::connect(&services);
    // Each answer expires 2 s after CachedCredentials' 5-minute refresh margin.
    let lifetime = shared::credentials::REFRESH_MARGIN + Duration::from_secs(2);
    let (endpoint, f) = from_endpoint(&services, lifetime, "the-token");
    assert_eq!(
        f.call(&json!({"id": 1}))["name"],
        "Ada Lovelace",
        "{}",
        f.logs()
    );
    assert_eq!(endpoint.requests(), 1);
    std::thread::sleep(Duration::from_millis(2500)); // now within the margin
    let first = admin.connection_ids("app_iam");
    admin.exec(&format!("KILL CONNECTION {}", first[0]));
    assert_eq!(
        f.call(&json!({"id": 2}))["name"],
        "Grace Hopper",
        "{}",
        f.logs()
    );
    assert_eq!(endpoint.requests(), 2, "stale credentials were used");
}

#[test]
fn a_wrong_container_token_is_a_database_auth_error_not_a_crash() {
    let services = Services::load();
    let _db = e2e::database_lock();
    let (endpoint, f) = from_endpoint(&services, Duration::from_secs(3600), "not-the-token");
    let reply = f.assert_answers(&json!({"id": 1}));
    f.assert_details_only_in_log(&reply, "DatabaseAuth", &["no AWS credentials"]);
    assert!(endpoint.requests() >= 1);
    assert_eq!(
        f.assert_answers(&json!({"id": 1})).error_type(),
        "DatabaseAuth"
    );
}
