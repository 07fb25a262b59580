//! A configuration that cannot work fails the init: each function reports it to the Runtime
//! API's init error path (`/runtime/init/error`) with its `errorType`, logs the details, and
//! exits without asking for work. Lambda then fails the init before the environment takes
//! traffic (provisioned concurrency, Managed Instances), instead of every invocation
//! returning the same error. Against a Runtime API of the test's own: the emulator does not
//! record init errors.

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use e2e::runtime_api::{Extensions, RuntimeApi};
use e2e::{bootstrap, database_lock, spawn_bootstrap, workspace_root, Admin, Services};

/// `function` started with `env` against a Runtime API of its own.
fn start(function: &str, env: &[(&str, &str)], case: &str) -> (RuntimeApi, Child, PathBuf) {
    let api = RuntimeApi::start(Extensions::Accept);
    let logs = workspace_root().join("target/e2e/logs");
    std::fs::create_dir_all(&logs).unwrap();
    static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let log = logs.join(format!(
        "{function}-init-{case}-{}-{n}.log",
        std::process::id()
    ));
    let child = spawn_bootstrap(&bootstrap(function), &api.address(), function, env, &log);
    (api, child, log)
}

fn exited_within(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// `function` with `env` fails its init with `error_type`; `detail` is in its log only.
fn init_fails(function: &str, env: &[(&str, &str)], error_type: &str, detail: &str) {
    let (api, mut child, log) = start(function, env, error_type);
    let error = api.init_error(Duration::from_secs(5));
    let status = exited_within(&mut child, Duration::from_secs(2));
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    let error = error.unwrap_or_else(|| panic!("{function}: no init error\n{logs}"));
    assert_eq!(error.body["errorType"], error_type, "{function}: {error:?}");
    assert_eq!(error.header, "Runtime.InitError");
    assert_eq!(error.body["errorMessage"], functions::GENERIC_MESSAGE);
    assert!(!error.body.to_string().contains(detail), "{error:?}");
    let status = status.unwrap_or_else(|| panic!("{function}: still running\n{logs}"));
    // Exited, not aborted by a panic (which would show as a signal).
    assert_eq!(status.code(), Some(1), "{function}: {status}");
    assert_eq!(api.nexts(), 0, "{function} asked for work");
    assert!(logs.contains("init failed"), "{logs}");
    assert!(logs.contains(detail), "{detail:?} not logged:\n{logs}");
}

#[test]
fn a_database_url_without_tls_fails_the_init_unless_plain_tcp_is_allowed() {
    let services = Services::load();
    let url = services.var("DATABASE_URL"); // the local database over plain TCP
    for function in ["rds-enrich", "rds-enrich-naive"] {
        init_fails(
            function,
            &[("DATABASE_URL", url), ("DATABASE_ALLOW_PLAINTEXT", "false")],
            "DatabaseConfig",
            "require_ssl=true",
        );
    }
    // The control: allowed (as the harness allows it for the local database), init ends
    // with the runtime asking for work, and no init error.
    let (api, mut child, _) = start("rds-enrich", &[("DATABASE_URL", url)], "plaintext-allowed");
    let asked = api.wait_next(Duration::from_secs(5));
    let error = api.init_error(Duration::ZERO);
    let _ = child.kill();
    let _ = child.wait();
    assert!(asked && error.is_none(), "{error:?}");
}

/// The URL forms that would hand a man in the middle the IAM token (or the password).
#[test]
fn a_database_url_that_skips_verification_fails_the_init_and_nothing_connects() {
    let _db = database_lock();
    let services = Services::load();
    let mut admin = Admin::connect(&services);
    let before = admin.status("Connections");
    let iam = services.var("DATABASE_URL_IAM"); // …?require_ssl=true
    for (url, detail) in [
        (format!("{iam}&verify_ca=false"), "verify_ca=false"),
        (
            format!("{iam}&verify_identity=false"),
            "verify_identity=false",
        ),
    ] {
        init_fails(
            "rds-enrich",
            &[
                ("DATABASE_URL", &url),
                ("DATABASE_IAM_AUTH", "true"),
                ("AWS_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", services.var("IAM_ACCESS_KEY_ID")),
                (
                    "AWS_SECRET_ACCESS_KEY",
                    services.var("IAM_SECRET_ACCESS_KEY"),
                ),
            ],
            "DatabaseConfig",
            detail,
        );
    }
    assert_eq!(
        admin.status("Connections") - before,
        0,
        "something connected"
    );
}

#[test]
fn bad_database_settings_fail_the_init() {
    let _db = database_lock();
    let services = Services::load();
    let mut admin = Admin::connect(&services);
    let before = admin.status("Connections");
    let url = services.var("DATABASE_URL");
    let tls = services.var("DATABASE_URL_TLS");
    let not_pem = workspace_root().join("Cargo.toml");
    let not_pem = not_pem.to_str().unwrap();
    type Env<'a> = &'a [(&'a str, &'a str)];
    let cases: [(&str, Env, &str); 6] = [
        (
            "rds-enrich",
            &[
                ("DATABASE_URL", url),
                ("DB_MAX_CONNECTIONS", "18446744073709551615"),
            ],
            "DB_MAX_CONNECTIONS",
        ),
        (
            "rds-enrich",
            &[("DATABASE_URL", url), ("DB_MAX_CONNECTIONS", "1000000000")],
            "DB_MAX_CONNECTIONS",
        ),
        (
            "rds-enrich",
            &[
                ("DATABASE_URL", url),
                ("PEOPLE_TABLE", "people; DROP TABLE people"),
            ],
            "PEOPLE_TABLE",
        ),
        (
            "rds-enrich-naive",
            &[("DATABASE_URL", url), ("DB_QUERY_TIMEOUT_MS", "soon")],
            "DB_QUERY_TIMEOUT_MS",
        ),
        (
            "rds-enrich",
            &[
                ("DATABASE_URL", tls),
                ("DATABASE_CA_FILE", "/nonexistent/rds-ca.pem"),
            ],
            "DATABASE_CA_FILE",
        ),
        (
            "rds-enrich",
            &[("DATABASE_URL", tls), ("DATABASE_CA_FILE", not_pem)],
            "DATABASE_CA_FILE",
        ),
    ];
    for (function, env, detail) in cases {
        init_fails(function, env, "DatabaseConfig", detail);
    }
    assert_eq!(
        admin.status("Connections") - before,
        0,
        "something connected"
    );
}

#[test]
fn an_unusable_trust_store_fails_the_init_of_the_aws_functions() {
    let not_pem = workspace_root().join("Cargo.toml");
    // A certificate section that holds no certificate: the SDK `expect`s it to parse when
    // it builds its connector, which would abort the process (`panic = "abort"`).
    let empty_section = workspace_root().join("target/e2e/not-a-certificate.pem");
    std::fs::create_dir_all(empty_section.parent().unwrap()).unwrap();
    std::fs::write(
        &empty_section,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    for function in ["s3-get-object", "decrypt-env"] {
        for cert_file in [
            "/nonexistent/ca.pem",
            not_pem.to_str().unwrap(),
            empty_section.to_str().unwrap(),
        ] {
            init_fails(
                function,
                &[
                    ("AWS_REGION", "us-east-1"),
                    ("ENCRYPTED_KEY", "AAAA"),
                    ("SSL_CERT_FILE", cert_file),
                ],
                "InvalidTrustStore",
                "SSL_CERT_FILE",
            );
        }
    }
}

#[test]
fn a_credentials_endpoint_that_is_not_a_url_fails_the_init_instead_of_a_later_abort() {
    // aws-config's provider would `expect` on it at the first fetch (shared::credentials).
    for function in ["s3-get-object", "decrypt-env"] {
        init_fails(
            function,
            &[
                ("AWS_REGION", "us-east-1"),
                ("ENCRYPTED_KEY", "AAAA"),
                ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "127.0.0.1:9"),
            ],
            "InvalidCredentialsEndpoint",
            "127.0.0.1:9",
        );
    }
}

#[test]
fn a_plaintext_encrypted_variable_fails_the_init_of_decrypt_env() {
    // (A variable not set at all is a first deployment's: tests/decrypt_env.rs.)
    // A secret pasted in clear by mistake: not base64, and never echoed, even in the log.
    init_fails(
        "decrypt-env",
        &[("AWS_REGION", "us-east-1"), ("ENCRYPTED_KEY", "hunter2!")],
        "Config",
        "is not base64",
    );
}
