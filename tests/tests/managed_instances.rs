//! Lambda Managed Instances: one environment serves up to `AWS_LAMBDA_MAX_CONCURRENCY`
//! invocations at once. One bootstrap, the variable set to 8, polling the emulator (which
//! hands each concurrent `/next` poll a different event).

use std::time::{Duration, Instant};

use e2e::credentials_endpoint::{CredentialsEndpoint, Served};
use e2e::proxy::TestProxy;
use e2e::{database_lock, Admin, Function, Reply, Services};
use serde_json::{json, Value};

/// Sends `payloads` all at once, one thread each; the replies and the wall time.
fn at_once(f: &Function, payloads: &[Value]) -> (Vec<Reply>, Duration) {
    let start = Instant::now();
    let replies = std::thread::scope(|scope| {
        let calls: Vec<_> = payloads
            .iter()
            .map(|p| scope.spawn(move || f.invoke(p)))
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    (replies, start.elapsed())
}

fn ids(from: u64) -> Vec<Value> {
    (from..from + 8).map(|id| json!({ "id": id })).collect()
}

/// The local database `delay` away each way: the proxy (keep it alive) and the URL through it.
fn database_behind_proxy(services: &Services, delay: Duration) -> (TestProxy, String) {
    let mysql = format!("127.0.0.1:{}", services.var("MYSQL_PORT"));
    let proxy = TestProxy::with_delay(mysql.parse().unwrap(), delay);
    let url = format!("mysql://app:app-pass@{}/lambda", proxy.addr());
    (proxy, url)
}

/// rds-enrich at concurrency 8, with `url`; `extra` settings.
fn rds_enrich_at_8<'a>(
    services: &'a Services,
    url: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Function {
    let mut env = vec![("DATABASE_URL", url), ("AWS_LAMBDA_MAX_CONCURRENCY", "8")];
    env.extend_from_slice(extra);
    Function::start(services, "rds-enrich", &env)
}

#[test]
fn eight_invocations_at_once_overlap_on_their_own_connections() {
    let _db = database_lock();
    let services = Services::load();
    let mut admin = Admin::connect(&services);
    let (proxy, url) = database_behind_proxy(&services, Duration::from_millis(20));

    // One connection per invocation served at once (the default is fewer on a small host).
    let mut f = rds_enrich_at_8(&services, &url, &[("DB_MAX_CONNECTIONS", "8")]);
    f.call(&json!({"id": 1}));
    let start = Instant::now();
    f.call(&json!({"id": 2}));
    let one = start.elapsed();
    at_once(&f, &ids(100)); // opens the connections
    let (replies, took) = at_once(&f, &ids(200));
    for (i, r) in replies.iter().enumerate() {
        assert_eq!(r.body["name"], format!("Person {}", 200 + i), "{}", r.body);
    }
    // Eight queries side by side take about one query's time (at most 8 connections).
    assert!(took < one * 3, "8 at once took {took:?}, one {one:?}");
    let open = admin.connection_ids("app").len();
    assert!((2..=8).contains(&open), "{open} connections");
    assert_eq!(proxy.open_clients(), open);
    assert!(f.logs().contains(r#""concurrency":8"#), "{}", f.logs());

    // SIGTERM: every connection closed cleanly within 1 s.
    let aborted = admin.status("Aborted_clients");
    f.signal("TERM");
    let start = Instant::now();
    while !admin.connection_ids("app").is_empty() && start.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        admin.connection_ids("app").is_empty(),
        "connections left after SIGTERM"
    );
    assert!(f.wait_exit(Duration::from_secs(2)));
    assert_eq!(
        admin.status("Aborted_clients"),
        aborted,
        "closed with COM_QUIT"
    );
    drop(f); // one instance of a function at a time (the emulator's queue is per name)

    // Control: capped at one connection, the same eight queue behind each other.
    let f = rds_enrich_at_8(&services, &url, &[("DB_MAX_CONNECTIONS", "1")]);
    f.call(&json!({"id": 1}));
    let (replies, capped) = at_once(&f, &ids(300));
    assert!(replies.iter().all(|r| !r.failed));
    assert!(capped > took * 3, "capped {capped:?} against {took:?}");
    assert_eq!(admin.connection_ids("app").len(), 1);
}

/// SIGTERM 60 ms into eight invocations at once, the database `delay` away each way, with
/// `max_connections`: each of the eight answers, the process exits, and every connection is
/// closed with COM_QUIT (none cut by the exit). The connections that were open.
fn sigterm_during_eight_at_once(delay: Duration, max_connections: &str) -> usize {
    let _db = database_lock();
    let services = Services::load();
    let mut admin = Admin::connect(&services);
    let (_proxy, url) = database_behind_proxy(&services, delay);
    let mut f = rds_enrich_at_8(&services, &url, &[("DB_MAX_CONNECTIONS", max_connections)]);
    at_once(&f, &ids(100)); // opens the connections
    let open = admin.connection_ids("app").len();
    let aborted = admin.status("Aborted_clients");
    let (replies, _) = std::thread::scope(|scope| {
        let calls = scope.spawn(|| at_once(&f, &ids(200)));
        std::thread::sleep(Duration::from_millis(60)); // queries on the wire (or queued)
        f.signal("TERM");
        calls.join().unwrap()
    });
    for (i, r) in replies.iter().enumerate() {
        assert_eq!(r.body["name"], format!("Person {}", 200 + i), "{}", r.body);
    }
    assert!(
        f.wait_exit(Duration::from_secs(2)),
        "the process did not exit"
    );
    assert!(f.logs().contains("shutdown complete"), "{}", f.logs());
    let start = Instant::now();
    while !admin.connection_ids("app").is_empty() && start.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let left = admin.connection_ids("app").len();
    assert_eq!(left, 0, "connections left 1 s after the process exited");
    assert_eq!(
        admin.status("Aborted_clients"),
        aborted,
        "closed with COM_QUIT, not cut by the exit"
    );
    open
}

/// SIGTERM while eight invocations are in flight, the database 100 ms away (round trip),
/// one connection each.
#[test]
fn sigterm_with_eight_in_flight_lets_them_answer_and_closes_every_connection() {
    let open = sigterm_during_eight_at_once(Duration::from_millis(50), "8");
    assert!(open >= 2, "{open} connections");
}

/// SIGTERM while most of eight invocations wait for one of two connections (each query
/// 40 ms away): the waiting ones are served too, within the shutdown window, before the
/// connections are closed.
#[test]
fn sigterm_with_invocations_queued_for_a_connection_serves_them_all() {
    let open = sigterm_during_eight_at_once(Duration::from_millis(20), "2");
    assert!((1..=2).contains(&open), "{open} connections");
}

/// SIGTERM while the lowest slot's invocation outlasts the shutdown window (its reply held
/// back) and the other connections are idle: the idle ones are closed cleanly once the
/// drain gives up on it; only the busy one is cut when the process exits.
#[test]
fn sigterm_closes_the_idle_connections_even_while_one_is_busy() {
    let _db = database_lock();
    let services = Services::load();
    let mut admin = Admin::connect(&services);
    let (proxy, url) = database_behind_proxy(&services, Duration::from_millis(20));
    let extra = [("DB_MAX_CONNECTIONS", "8"), ("DB_QUERY_TIMEOUT_MS", "5000")];
    let mut f = rds_enrich_at_8(&services, &url, &extra);
    f.call(&json!({"id": 1})); // the first connection: the lowest slot's
    at_once(&f, &ids(100)); // and more beside it
    let open = admin.connection_ids("app").len();
    assert!(open >= 3, "{open} connections");
    let aborted = admin.status("Aborted_clients");

    proxy.silence_oldest_flow_after_result_header();
    let short = e2e::Invoker::with_timeout(&services, "rds-enrich", Duration::from_secs(3));
    std::thread::scope(|scope| {
        let busy = scope.spawn(|| short.invoke(&json!({"id": 2})));
        std::thread::sleep(Duration::from_millis(200)); // the query is in flight
        f.signal("TERM");
        let _ = busy.join(); // cut by the process's exit
    });
    assert!(
        f.wait_exit(Duration::from_secs(2)),
        "the process did not exit"
    );
    let start = Instant::now();
    while !admin.connection_ids("app").is_empty() && start.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        f.logs().contains("shutdown hook did not finish in time"),
        "{}",
        f.logs()
    );
    let cut = admin.status("Aborted_clients") - aborted;
    assert!(
        cut <= 1,
        "{cut} of {open} connections were aborted, not closed"
    );
}

#[test]
fn eight_cold_invocations_of_decrypt_env_make_one_kms_call() {
    let services = Services::load();
    let moto = format!("127.0.0.1:{}", services.var("MOTO_PORT"));
    let kms = TestProxy::counting(moto.parse().unwrap(), "TrentService.Decrypt");
    let kms_url = format!("http://{}", kms.addr());
    let f = Function::start(
        &services,
        "decrypt-env",
        &[
            ("AWS_LAMBDA_MAX_CONCURRENCY", "8"),
            ("AWS_ENDPOINT_URL", services.var("AWS_ENDPOINT_URL")),
            ("AWS_ENDPOINT_URL_KMS", &kms_url),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("ENCRYPTED_KEY", services.var("ENCRYPTED_KEY")),
            (
                "AWS_LAMBDA_FUNCTION_NAME",
                services.var("ENCRYPTED_KEY_FUNCTION_NAME"),
            ),
        ],
    );
    let secret = services.var("ENCRYPTED_KEY_PLAINTEXT");
    let payloads: Vec<Value> = (0..8)
        .map(|i| e2e::webhook::signed(secret, "{}", &format!("d-{i}")))
        .collect();
    let (replies, _) = at_once(&f, &payloads);
    for (i, reply) in replies.iter().enumerate() {
        let (status, body) = e2e::webhook::answer(&reply.body);
        assert_eq!(
            (status, &body["delivery"]),
            (200, &json!(format!("d-{i}"))),
            "{body}"
        );
    }
    assert_eq!(kms.matches(), 1, "KMS Decrypt calls for 8 cold invocations");
}

/// An endpoint serving credentials moto accepts to requests with `token`.
fn moto_credentials(token: &str) -> CredentialsEndpoint {
    let served = Served {
        access_key_id: "test".into(),
        secret_access_key: "test".into(),
        lifetime: Duration::from_secs(6 * 3600),
    };
    CredentialsEndpoint::start(token, served)
}

fn with_container_credentials<'a>(
    services: &'a Services,
    endpoint: &'a CredentialsEndpoint,
    token: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AWS_ENDPOINT_URL", services.var("AWS_ENDPOINT_URL")),
        ("AWS_REGION", "us-east-1"),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", token),
        ("ENCRYPTED_KEY", services.var("ENCRYPTED_KEY")),
        (
            "AWS_LAMBDA_FUNCTION_NAME",
            services.var("ENCRYPTED_KEY_FUNCTION_NAME"),
        ),
    ]
}

#[test]
fn without_key_variables_the_container_credentials_endpoint_is_used() {
    let services = Services::load();
    let endpoint = moto_credentials("the-token");
    let env = with_container_credentials(&services, &endpoint, "the-token");

    let f = Function::start(&services, "s3-get-object", &env);
    let bucket = services.var("S3_BUCKET");
    let out = f.call(&e2e::s3_event(&[(bucket, "plain.txt")]));
    assert_eq!(out[0]["content_type"], "text/plain");
    let after_s3 = endpoint.requests();
    assert!(after_s3 >= 1);
    f.call(&e2e::s3_event(&[(bucket, "plain.txt")]));
    assert_eq!(endpoint.requests(), after_s3, "cached, not fetched again");
    drop(f);

    let f = Function::start(&services, "decrypt-env", &env);
    let secret = services.var("ENCRYPTED_KEY_PLAINTEXT");
    let accepted = f.call(&e2e::webhook::signed(secret, "{}", "d-1"));
    assert_eq!(e2e::webhook::answer(&accepted).0, 200, "{accepted}");
    assert!(endpoint.requests() > after_s3);
}

#[test]
fn a_wrong_container_token_is_a_clear_error_not_a_crash() {
    let services = Services::load();
    let endpoint = moto_credentials("the-token");
    let env = with_container_credentials(&services, &endpoint, "not-the-token");
    let f = Function::start(&services, "s3-get-object", &env);
    let bucket = services.var("S3_BUCKET");
    for _ in 0..2 {
        let reply = f.invoke(&e2e::s3_event(&[(bucket, "plain.txt")]));
        f.assert_details_only_in_log(&reply, "S3RequestFailed", &["credentials", bucket]);
    }
    // Both answered by the same process: it did not abort.
    let pids: Vec<_> = f.reports().iter().map(|r| r["pid"].clone()).collect();
    assert_eq!(pids.len(), 2);
    assert_eq!(pids[0], pids[1]);
    assert!(endpoint.requests() >= 1);
}

#[test]
fn eight_s3_invocations_at_once_share_one_client_without_queueing() {
    let services = Services::load();
    let moto = format!("127.0.0.1:{}", services.var("MOTO_PORT"));
    // S3 50 ms away each way: a HeadObject takes at least 100 ms.
    let s3 = TestProxy::with_delay(moto.parse().unwrap(), Duration::from_millis(50));
    let endpoint = format!("http://{}", s3.addr());
    let f = Function::start(
        &services,
        "s3-get-object",
        &[
            ("AWS_LAMBDA_MAX_CONCURRENCY", "8"),
            ("AWS_ENDPOINT_URL", &endpoint),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ],
    );
    let bucket = services.var("S3_BUCKET");
    let event = e2e::s3_event(&[(bucket, "plain.txt")]);
    f.call(&event);
    let start = Instant::now();
    f.call(&event);
    let one = start.elapsed();
    let payloads: Vec<Value> = (0..8).map(|_| event.clone()).collect();
    let (replies, took) = at_once(&f, &payloads);
    assert!(replies
        .iter()
        .all(|r| r.body[0]["content_type"] == "text/plain"));
    // The shared client's pool opens connections as needed: the eight overlap.
    assert!(took < one * 3, "8 at once took {took:?}, one {one:?}");
    // On connections of their own (moto closes each after its answer, so none stay open).
    assert!(
        s3.peak_clients() >= 4,
        "at most {} connections at once",
        s3.peak_clients()
    );
}
