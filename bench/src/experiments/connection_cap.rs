//! The default connection cap on Managed Instances: `CONNECTIONS_PER_VCPU` per vCPU, never
//! more than the invocations served at once (`shared::mysql::default_max_connections`),
//! against one connection per concurrent invocation (what rds-enrich held before: up to
//! 1,600 per environment). One rds-enrich environment at concurrency 8 and 32, the database
//! 0.5 ms and 2 ms of round trip away (a query through RDS Proxy takes 1 to 2 ms). The two
//! alternate, repeated: the throughput the cap costs, with its spread.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use e2e::Services;
use serde::Serialize;

use crate::latency_proxy;
use crate::run::{run, Run};
use crate::Result;

pub const CONCURRENCIES: [usize; 2] = [8, 32];
pub const ROUND_TRIPS_MS: [f64; 2] = [0.5, 2.0];
pub const INVOCATIONS: usize = 1000;
pub const REPEATS: usize = 3;

#[derive(Serialize)]
pub struct CapRow {
    pub concurrency: usize,
    pub round_trip_ms: f64,
    /// The default cap for this concurrency on this machine's vCPUs.
    pub default_cap: usize,
    /// Throughput (invocations/s) per repeat: the default cap, one per invocation.
    pub capped_per_s: Vec<f64>,
    pub per_invocation_per_s: Vec<f64>,
    pub connections_capped: u64,
    pub connections_per_invocation: u64,
}

impl CapRow {
    /// Capped throughput over one-per-invocation throughput, per repeat: (median, min, max).
    pub fn ratio(&self) -> (f64, f64, f64) {
        let mut r: Vec<f64> = self
            .capped_per_s
            .iter()
            .zip(&self.per_invocation_per_s)
            .map(|(c, p)| c / p)
            .collect();
        r.sort_by(f64::total_cmp);
        let median = r.get(r.len() / 2).copied().unwrap_or(f64::NAN);
        (median, r[0], r[r.len() - 1])
    }
}

pub fn measure(services: &Services, out: &Path, mysql: SocketAddr) -> Result<Vec<CapRow>> {
    let vcpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut rows = Vec::new();
    for round_trip_ms in ROUND_TRIPS_MS {
        let one_way = Duration::from_secs_f64(round_trip_ms / 2000.0);
        let proxy = latency_proxy::start(mysql, one_way)?;
        let url = services
            .var("DATABASE_URL")
            .replace(&mysql.to_string(), &proxy.to_string());
        for concurrency in CONCURRENCIES {
            let default_cap = shared::mysql::default_max_connections(concurrency, vcpus);
            let environment = |cap: Option<usize>| {
                let run = Run::burst("rds-enrich", "DATABASE_URL")
                    .quiet()
                    .with_load(concurrency, INVOCATIONS)
                    .with_containers(1)
                    .with_url(Some(url.clone()))
                    .with_env("AWS_LAMBDA_MAX_CONCURRENCY", concurrency.to_string());
                match cap {
                    Some(cap) => run.with_env("DB_MAX_CONNECTIONS", cap.to_string()),
                    None => run,
                }
            };
            let mut row = CapRow {
                concurrency,
                round_trip_ms,
                default_cap,
                capped_per_s: Vec::new(),
                per_invocation_per_s: Vec::new(),
                connections_capped: 0,
                connections_per_invocation: 0,
            };
            for _ in 0..REPEATS {
                let capped = run(services, out, environment(None))?;
                let each = run(services, out, environment(Some(concurrency)))?;
                let per_s = |v: &crate::run::Variant| {
                    v.invocations.len() as f64 / (v.burst_ms.max(1) as f64 / 1000.0)
                };
                row.capped_per_s.push(per_s(&capped));
                row.per_invocation_per_s.push(per_s(&each));
                row.connections_capped = row.connections_capped.max(capped.connections_opened);
                row.connections_per_invocation =
                    row.connections_per_invocation.max(each.connections_opened);
            }
            let (median, min, max) = row.ratio();
            println!(
                "connection cap, concurrency {concurrency}, +{round_trip_ms} ms: {} vs {concurrency} \
                 connections, throughput {median:.2}× (min {min:.2}, max {max:.2})",
                row.default_cap
            );
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The report's section.
pub fn markdown(rows: &[CapRow]) -> Vec<String> {
    let vcpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut lines = vec![
        "## Managed Instances: the default connection cap".into(),
        String::new(),
        format!(
            "One rds-enrich environment serving `AWS_LAMBDA_MAX_CONCURRENCY` invocations at \
             once, {n} invocations from as many clients, with the default cap ({per} \
             connections per vCPU, here {vcpus} vCPUs, never more than the concurrency) against \
             one connection per concurrent invocation (`DB_MAX_CONNECTIONS` = the \
             concurrency). The two alternate, {r} times; the ratio is capped over \
             per-invocation throughput, median with its range.",
            n = INVOCATIONS,
            per = shared::mysql::CONNECTIONS_PER_VCPU,
            r = REPEATS,
        ),
        String::new(),
        "| concurrency | database RTT | connections: capped / per invocation | throughput capped / per invocation (inv/s) | capped ÷ per invocation (min–max) |".into(),
        "| ---: | ---: | ---: | ---: | ---: |".into(),
    ];
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    for row in rows {
        let (ratio, min, max) = row.ratio();
        lines.push(format!(
            "| {} | {} ms | {} / {} | {:.0} / {:.0} | **{ratio:.2}×** ({min:.2}–{max:.2}) |",
            row.concurrency,
            row.round_trip_ms,
            row.connections_capped,
            row.connections_per_invocation,
            median(&row.capped_per_s),
            median(&row.per_invocation_per_s),
        ));
    }
    lines.push(String::new());
    lines
}
