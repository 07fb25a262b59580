//! The cold invocation, end to end: exec of `bootstrap` → end of init → the first
//! invocation's response (which builds what each function keeps: the first connect, the
//! first KMS call, the first HeadObject's connection), then one warm invocation to compare.
//! This is what a user's first request sees, less Lambda's own overhead.

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use e2e::{s3_event, spawn_bootstrap, Services};
use serde::Serialize;
use serde_json::json;

use crate::fake_runtime::{FakeRuntime, Mark};
use crate::process::{function_env, Container};
use crate::stats::Summary;
use crate::tls_front::TlsFront;
use crate::Result;

/// Cold starts per variant.
pub(crate) const COLD_STARTS: usize = 15;

#[derive(Serialize)]
pub(crate) struct ColdRow {
    pub(crate) function: String,
    /// What the first invocation builds.
    pub(crate) first_use: String,
    /// exec → end of init (the first `/next`, and every registered extension's poll).
    pub(crate) init: Summary,
    /// First event handed out → its response.
    pub(crate) first: Summary,
    /// exec → first response: init + first invocation + the runtime API round trips.
    pub(crate) cold_total: Summary,
    /// The second invocation, same process.
    pub(crate) warm: Summary,
}

struct Variant {
    function: &'static str,
    first_use: &'static str,
    database_url: &'static str,
    extra_env: Vec<(String, String)>,
    event: String,
}

pub(crate) fn cold_starts(root: &std::path::Path, services: &Services) -> Result<Vec<ColdRow>> {
    let runtime = FakeRuntime::start()?;
    let front = TlsFront::start(services)?;
    let ca = services.var("DATABASE_CA_FILE").to_string();
    let s3 = s3_event(&[(services.var("S3_BUCKET"), "plain.txt")]).to_string();
    let id = json!({"id": 1}).to_string();
    let secret = services.var("ENCRYPTED_KEY_PLAINTEXT");
    let delivery = e2e::webhook::signed(secret, r#"{"ref":"refs/heads/main"}"#, "d-1").to_string();
    let plain = |function, first_use, event: &str| Variant {
        function,
        first_use,
        database_url: "DATABASE_URL",
        extra_env: vec![],
        event: event.to_string(),
    };
    let variants = [
        plain("hello-floor", "nothing (echoes the event)", "{}"),
        plain("rds-enrich", "a MySQL connection (TCP)", &id),
        Variant {
            database_url: "DATABASE_URL_TLS",
            ..plain("rds-enrich", "a MySQL connection (TLS)", &id)
        },
        plain("rds-enrich-naive", "nothing: connects every time", &id),
        plain("decrypt-env", "the KMS client + Decrypt (HTTP)", &delivery),
        plain("s3-get-object", "an S3 connection (HTTP)", &s3),
        Variant {
            extra_env: vec![
                ("AWS_ENDPOINT_URL".into(), front.url.clone()),
                ("SSL_CERT_FILE".into(), ca.clone()),
            ],
            ..plain("s3-get-object", "an S3 connection (TLS)", &s3)
        },
    ];
    let mut rows = Vec::new();
    for (index, variant) in variants.iter().enumerate() {
        rows.push(measure(root, services, &runtime, index, variant)?);
    }
    Ok(rows)
}

fn measure(
    root: &std::path::Path,
    services: &Services,
    runtime: &FakeRuntime,
    index: usize,
    variant: &Variant,
) -> Result<ColdRow> {
    let mut env = function_env(services, variant.database_url);
    // The environment's own endpoint first: a later duplicate would not override it.
    env.retain(|(k, _)| !variant.extra_env.iter().any(|(e, _)| e == k));
    env.extend(
        variant
            .extra_env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let binary = e2e::bootstrap(variant.function);
    let (mut init, mut first, mut total, mut warm) = (vec![], vec![], vec![], vec![]);
    for i in 0..COLD_STARTS {
        let log = root.join(format!(
            "target/bench/logs/cold-{index}-{}-{i}.log",
            variant.function
        ));
        let marks = runtime.expect_invocations(vec![variant.event.clone(); 2]);
        let start = Instant::now();
        let _container = Container(spawn_bootstrap(
            &binary,
            &runtime.url(),
            variant.function,
            &env,
            &log,
        ));
        // The fifth mark is the process polling again, with no event left: after it,
        // nothing of this process can reach the next cold start's script.
        let [next1, response1, next2, response2, _idle] = timeline(&marks, variant.function)?;
        runtime.disarm();
        init.push(next1.duration_since(start));
        first.push(response1.duration_since(next1));
        total.push(response1.duration_since(start));
        warm.push(response2.duration_since(next2));
    }
    let summary = |d: &[Duration]| {
        Summary::of_us(&d.iter().map(|d| d.as_micros() as u64).collect::<Vec<_>>())
    };
    let row = ColdRow {
        function: variant.function.into(),
        first_use: variant.first_use.into(),
        init: summary(&init),
        first: summary(&first),
        cold_total: summary(&total),
        warm: summary(&warm),
    };
    println!(
        "{:<17} {:<32} init {:>5.2}  first {:>6.2}  cold total {:>6.2}  warm {:>5.2} ms (p50)",
        row.function,
        row.first_use,
        row.init.p50_ms,
        row.first.p50_ms,
        row.cold_total.p50_ms,
        row.warm.p50_ms
    );
    Ok(row)
}

/// The times of /next, response, /next, response, /next; an error response fails the
/// bench.
fn timeline(marks: &Receiver<(Mark, Instant)>, function: &str) -> Result<[Instant; 5]> {
    let expected = [
        Mark::Next,
        Mark::Response,
        Mark::Next,
        Mark::Response,
        Mark::Next,
    ];
    let mut at = [Instant::now(); 5];
    for (slot, want) in at.iter_mut().zip(expected) {
        let (mark, when) = marks
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| format!("{function}: no {want:?} within 10 s"))?;
        if mark != want {
            return Err(format!("{function}: got {mark:?} where {want:?} was expected").into());
        }
        *slot = when;
    }
    Ok(at)
}

/// The report's section: the table, then the chart.
pub(crate) fn markdown(rows: &[ColdRow]) -> Vec<String> {
    let mut md = vec![
        format!("## The cold invocation, end to end ({COLD_STARTS} cold starts each)"),
        String::new(),
        "Each cold start: exec of `bootstrap`, the end of its init (its first `/next`, and \
         its extension's first poll if it registered one), the event handed out at once, its response (the first invocation, which builds what the function \
         keeps), then a second, warm invocation in the same process. A fake runtime API \
         on 127.0.0.1 (no emulator in the way); MariaDB, moto, and for the TLS rows the \
         same connection behind TLS (MariaDB's own; a TLS front before moto). *Cold total* \
         is exec → first response: what a user's first request waits for, less Lambda's \
         own work (placement, download of the zip, the VM). p50 in ms."
            .into(),
        String::new(),
        "| function | the first invocation builds | init | first invocation | cold total | warm invocation | first − warm |".into(),
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |".into(),
    ];
    for r in rows {
        md.push(format!(
            "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            r.function,
            r.first_use,
            r.init.p50_ms,
            r.first.p50_ms,
            r.cold_total.p50_ms,
            r.warm.p50_ms,
            r.first.p50_ms - r.warm.p50_ms
        ));
    }
    md.push(String::new());
    md.push("![init, first and warm invocation per function](cold-start.svg)".into());
    md.push(String::new());
    md
}
