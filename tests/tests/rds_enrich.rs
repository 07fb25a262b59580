//! rds-enrich and rds-enrich-naive against a real MariaDB, through the Lambda runtime API.
//!
//! Every test here takes `database_lock()`: the server's `Connections` counter is global,
//! so tests that count connections must not overlap with others that connect.

use e2e::{database_lock, Admin, Function, Services};
use serde_json::{json, Value};

fn plain_env(services: &Services) -> Vec<(&str, &str)> {
    vec![("DATABASE_URL", services.var("DATABASE_URL"))]
}

fn tls_env(services: &Services) -> Vec<(&str, &str)> {
    vec![
        ("DATABASE_URL", services.var("DATABASE_URL_TLS")),
        ("DATABASE_CA_FILE", services.var("DATABASE_CA_FILE")),
    ]
}

/// Invokes `function` `n` times with valid ids and returns how many connections the
/// server accepted meanwhile.
fn connections_made(function: &str, env: &[(&str, &str)], n: u64) -> u64 {
    let services = Services::load();
    let mut admin = Admin::connect(&services);
    let before = admin.status("Connections");
    let f = Function::start(&services, function, env);
    for i in 0..n {
        let id = 100 + i;
        let out = f.call(&json!({ "id": id }));
        assert_eq!(out["name"], format!("Person {id}"));
    }
    drop(f);
    admin.status("Connections") - before
}

#[test]
fn returns_the_seeded_names() {
    let _db = database_lock();
    let services = Services::load();
    let f = Function::start(&services, "rds-enrich", &plain_env(&services));
    for (id, name) in [
        (1, "Ada Lovelace"),
        (2, "Grace Hopper"),
        (42, "Douglas Adams"),
        (4999, "Person 4999"),
    ] {
        let out = f.call(&json!({ "id": id, "request": "r-1" }));
        assert_eq!(out, json!({ "id": id, "request": "r-1", "name": name }));
    }
    // One report per invocation, like Lambda's REPORT line: only the first is cold.
    let reports: Vec<Value> = f
        .logs()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"]["message"] == "invocation report")
        .map(|line| line["fields"].clone())
        .collect();
    let cold: Vec<bool> = reports
        .iter()
        .map(|r| r["cold"].as_bool().unwrap())
        .collect();
    assert_eq!(cold, [true, false, false, false]);
    for r in &reports {
        assert_eq!(r["ok"], true);
        assert_eq!(r["pid"], f.pid());
        assert!(r["duration_us"].as_u64().unwrap() > 0);
    }
}

#[test]
fn errors_are_clear_and_the_same_process_keeps_serving() {
    let _db = database_lock();
    let services = Services::load();
    let f = Function::start(&services, "rds-enrich", &plain_env(&services));
    f.call(&json!({"id": 1}));

    let reply = f.assert_answers(&json!({"id": 987654}));
    assert!(reply.failed);
    assert_eq!(reply.error_type(), "NotFound");
    assert_eq!(reply.error_message(), "no person with id 987654");

    let overflow: Value = serde_json::from_str(r#"{"id": 18446744073709551616}"#).unwrap();
    let bad = [
        json!({}),
        json!({"id": "1"}),
        json!({"id": 1.5}),
        json!({"id": -3}),
        json!({"id": 0}),
        overflow,
        json!([1]),
    ];
    for payload in bad {
        // Answered (with an error) by this function's own process: it did not abort.
        let reply = f.assert_answers(&payload);
        assert!(reply.failed, "{payload} succeeded: {}", reply.body);
        assert_eq!(
            reply.error_type(),
            "InvalidPayload",
            "{payload}: {}",
            reply.body
        );
        assert!(
            reply.error_message().starts_with("invalid payload:"),
            "{}",
            reply.body
        );
    }
    // A number no f64 holds: the function's own error, not the runtime's.
    let reply = f.invoke_raw(r#"{"id": 1e400}"#);
    assert_eq!(reply.error_type(), "InvalidPayload", "{}", reply.body);
    assert!(
        reply.error_message().contains("number out of range"),
        "{}",
        reply.body
    );
    // And the same process serves the next request.
    let reply = f.assert_answers(&json!({"id": 2}));
    assert_eq!(reply.body["name"], "Grace Hopper");
}

#[test]
fn the_global_connection_is_made_once_for_fifty_invocations() {
    let _db = database_lock();
    let services = Services::load();
    assert_eq!(connections_made("rds-enrich", &plain_env(&services), 50), 1);
}

#[test]
fn the_naive_variant_connects_on_every_invocation() {
    let _db = database_lock();
    let services = Services::load();
    assert_eq!(
        connections_made("rds-enrich-naive", &plain_env(&services), 50),
        50
    );
}

#[test]
fn over_tls_the_global_connection_is_made_once() {
    let _db = database_lock();
    let services = Services::load();
    let mut admin = Admin::connect(&services);
    let tls_before = admin.status("Ssl_accepts");
    assert_eq!(connections_made("rds-enrich", &tls_env(&services), 50), 1);
    assert_eq!(
        admin.status("Ssl_accepts") - tls_before,
        1,
        "one TLS handshake"
    );
}

#[test]
fn over_tls_the_naive_variant_connects_every_time() {
    let _db = database_lock();
    let services = Services::load();
    let mut admin = Admin::connect(&services);
    let tls_before = admin.status("Ssl_accepts");
    assert_eq!(
        connections_made("rds-enrich-naive", &tls_env(&services), 50),
        50
    );
    assert_eq!(
        admin.status("Ssl_accepts") - tls_before,
        50,
        "a TLS handshake each time"
    );
}

#[test]
fn tls_with_an_untrusted_server_certificate_is_a_clear_error() {
    let _db = database_lock();
    let services = Services::load();
    // No CA file: the test CA is not a public root, so the server's certificate is refused.
    let f = Function::start(
        &services,
        "rds-enrich",
        &[("DATABASE_URL", services.var("DATABASE_URL_TLS"))],
    );
    let reply = f.invoke(&json!({"id": 1}));
    f.assert_details_only_in_log(&reply, "DatabaseUnavailable", &["could not connect"]);
    assert_eq!(
        f.assert_answers(&json!({"id": 1})).error_type(),
        "DatabaseUnavailable"
    );
}

#[test]
fn names_that_are_not_text_are_clear_errors_and_the_process_lives_on() {
    let _db = database_lock();
    let services = Services::load();
    // (table, id, errorType, message). odd_names is a nullable VARBINARY column holding
    // 'Ada Lovelace' (id 1), NULL (2) and the bytes FF FE 41 (3).
    let cases = [
        ("odd_names", 2, "NullName", "the name of person 2 is NULL"),
        (
            "odd_names",
            3,
            "NameNotUtf8",
            "the name of person 3 is not UTF-8 text (3 bytes)",
        ),
        (
            "number_names",
            1,
            "NameNotText",
            "the name of person 1 is not text: the column is LONG",
        ),
        (
            "blob_names",
            1,
            "NameNotText",
            "the name of person 1 is not text: the column is BLOB",
        ),
    ];
    for (table, id, kind, message) in cases {
        let f = Function::start(
            &services,
            "rds-enrich",
            &[
                ("DATABASE_URL", services.var("DATABASE_URL")),
                ("PEOPLE_TABLE", table),
            ],
        );
        let reply = f.invoke(&json!({ "id": id }));
        // What the database holds is not the caller's to read: only the kind.
        f.assert_details_only_in_log(&reply, kind, &[message]);
        let pid = f.last_reported_pid().unwrap();
        // The same process answers the next invocation (after an abort nobody would poll).
        let next = if table == "odd_names" { 1 } else { id };
        let reply = f.invoke(&json!({ "id": next }));
        assert_eq!(f.reports().len(), 2, "{}", f.logs());
        assert_eq!(
            f.last_reported_pid(),
            Some(pid),
            "{table}/{id}: {}",
            reply.body
        );
        if table == "odd_names" {
            assert_eq!(
                reply.body["name"], "Ada Lovelace",
                "a VARBINARY name in UTF-8 is fine"
            );
        }
    }
}

#[test]
fn nothing_is_sent_that_would_pin_an_rds_proxy_session() {
    let _db = database_lock();
    let services = Services::load();
    let mut admin = Admin::connect(&services);
    // RDS Proxy pins sessions that prepare statements or change session state (SET).
    let counters = [
        "Com_select",
        "Com_stmt_prepare",
        "Com_stmt_execute",
        "Com_set_option",
    ];
    for function in ["rds-enrich", "rds-enrich-naive"] {
        let before = admin.show_status(&counters);
        let f = Function::start(&services, function, &plain_env(&services));
        for id in 1..=5 {
            f.call(&json!({ "id": id }));
        }
        drop(f);
        let after = admin.show_status(&counters);
        let moved = |name: &str| after[name] - before[name];
        assert_eq!(
            moved("Com_stmt_prepare"),
            0,
            "{function}: prepared statements"
        );
        assert_eq!(moved("Com_stmt_execute"), 0, "{function}");
        assert_eq!(moved("Com_set_option"), 0, "{function}");
        // One SELECT per invocation and nothing else: connecting sends no settings query.
        assert_eq!(moved("Com_select"), 5, "{function}");
    }
}
