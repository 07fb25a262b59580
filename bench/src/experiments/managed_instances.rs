//! Lambda Managed Instances: one environment serves `CONCURRENCY` invocations at once
//! (`AWS_LAMBDA_MAX_CONCURRENCY`). rds-enrich with ONE connection shared by them all
//! (`DB_MAX_CONNECTIONS=1`: what a single global connection behind a lock gives) against
//! one connection per concurrent invocation (`DB_MAX_CONNECTIONS=8`), on loopback and with
//! the database one +0.5 ms round trip away. Alternated and repeated: ratios with their
//! spread. (The default cap, a few per vCPU, is `connection_cap`'s subject.)

use std::path::Path;

use e2e::Services;
use serde::Serialize;
use serde_json::Value;

use crate::run::{run, Run, Variant};
use crate::stats::Summary;
use crate::Result;

pub const CONCURRENCY: usize = 8;
pub const INVOCATIONS: usize = 1000;
pub const REPEATS: usize = 3;

/// One run of one side.
#[derive(Serialize, Clone)]
pub struct Side {
    pub throughput_per_s: f64,
    pub handler: Summary,
    pub peak_connections: u64,
    pub connections_opened: u64,
    pub failed: usize,
}

#[derive(Serialize)]
pub struct Condition {
    pub label: String,
    pub single: Vec<Side>,
    pub pool: Vec<Side>,
    /// Pool throughput over single-connection throughput, per repeat.
    pub throughput_ratios: Vec<f64>,
}

#[derive(Serialize)]
pub struct ManagedInstances {
    pub concurrency: usize,
    pub invocations: usize,
    pub repeats: usize,
    /// What `functions::start` chose, as the function logged it.
    pub runtime: String,
    pub conditions: Vec<Condition>,
}

impl Condition {
    pub fn ratio_median(&self) -> f64 {
        let mut r = self.throughput_ratios.clone();
        r.sort_by(f64::total_cmp);
        r.get(r.len() / 2).copied().unwrap_or(f64::NAN)
    }
    pub fn ratio_range(&self) -> (f64, f64) {
        let min = self
            .throughput_ratios
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let max = self
            .throughput_ratios
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        (min, max)
    }
}

fn side(v: &Variant) -> Side {
    Side {
        throughput_per_s: v.invocations.len() as f64 / (v.burst_ms.max(1) as f64 / 1000.0),
        handler: v.handler,
        peak_connections: v.peak_connections,
        connections_opened: v.connections_opened,
        failed: v.failed,
    }
}

/// The "runtime chosen" line the function logs at start.
fn runtime_choice(v: &Variant) -> String {
    let Some(log) = v.logs.first() else {
        return "unknown".into();
    };
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["fields"]["message"] == "runtime chosen")
        .map(|l| {
            let f = &l["fields"];
            format!(
                "{} worker thread(s) for concurrency {} on {} CPU(s)",
                f["workers"], f["concurrency"], f["cpus"]
            )
        })
        .unwrap_or_else(|| "unknown".into())
}

/// `proxied_url`: DATABASE_URL through the latency proxy.
pub fn measure(services: &Services, out: &Path, proxied_url: &str) -> Result<ManagedInstances> {
    let mut conditions = Vec::new();
    let mut runtime = String::from("unknown");
    for (label, url) in [
        ("loopback", None),
        ("+0.5 ms network RTT", Some(proxied_url.to_string())),
    ] {
        let mut condition = Condition {
            label: label.into(),
            single: Vec::new(),
            pool: Vec::new(),
            throughput_ratios: Vec::new(),
        };
        // One environment, CONCURRENCY clients; `cap` connections at most.
        let environment = |cap: Option<&str>| {
            let run = Run::burst("rds-enrich", "DATABASE_URL")
                .quiet()
                .with_load(CONCURRENCY, INVOCATIONS)
                .with_containers(1)
                .with_url(url.clone())
                .with_env("AWS_LAMBDA_MAX_CONCURRENCY", CONCURRENCY.to_string());
            match cap {
                Some(cap) => run.with_env("DB_MAX_CONNECTIONS", cap.into()),
                None => run,
            }
        };
        for _ in 0..REPEATS {
            let single = run(services, out, environment(Some("1")))?;
            let pool = run(services, out, environment(Some(&CONCURRENCY.to_string())))?;
            runtime = runtime_choice(&pool);
            let (s, p) = (side(&single), side(&pool));
            condition
                .throughput_ratios
                .push(p.throughput_per_s / s.throughput_per_s);
            condition.single.push(s);
            condition.pool.push(p);
        }
        let (min, max) = condition.ratio_range();
        println!(
            "managed instances, {label}: pool / single throughput {:.1}× (min {min:.1}, max {max:.1})",
            condition.ratio_median()
        );
        conditions.push(condition);
    }
    Ok(ManagedInstances {
        concurrency: CONCURRENCY,
        invocations: INVOCATIONS,
        repeats: REPEATS,
        runtime,
        conditions,
    })
}

fn median_of(sides: &[Side], f: impl Fn(&Side) -> f64) -> f64 {
    let mut v: Vec<f64> = sides.iter().map(f).collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The report's section.
pub fn markdown(mi: &ManagedInstances) -> Vec<String> {
    let mut lines = vec![
        "## Managed Instances: one environment, 8 invocations at once".into(),
        String::new(),
        format!(
            "One rds-enrich environment with `AWS_LAMBDA_MAX_CONCURRENCY={c}` ({runtime}), \
             {n} invocations sent by {c} clients at once: one connection shared by all \
             (`DB_MAX_CONNECTIONS=1`) against one per concurrent invocation \
             (`DB_MAX_CONNECTIONS={c}`). \
             Single and pool alternate, {r} times; medians of the repeats, with the ratio's \
             range.",
            c = mi.concurrency,
            n = mi.invocations,
            r = mi.repeats,
            runtime = mi.runtime
        ),
        String::new(),
        "| database | throughput single / pool (inv/s) | pool / single (min–max) | handler p50 single / pool (ms) | handler p99 single / pool (ms) | connections single / pool |".into(),
        "| --- | ---: | ---: | ---: | ---: | ---: |".into(),
    ];
    for c in &mi.conditions {
        let (min, max) = c.ratio_range();
        lines.push(format!(
            "| {} | {:.0} / {:.0} | **{:.1}×** ({min:.1}–{max:.1}) | {:.3} / {:.3} | {:.3} / {:.3} | {} / {} |",
            c.label,
            median_of(&c.single, |s| s.throughput_per_s),
            median_of(&c.pool, |s| s.throughput_per_s),
            c.ratio_median(),
            median_of(&c.single, |s| s.handler.p50_ms),
            median_of(&c.pool, |s| s.handler.p50_ms),
            median_of(&c.single, |s| s.handler.p99_ms),
            median_of(&c.pool, |s| s.handler.p99_ms),
            c.single.iter().map(|s| s.connections_opened).max().unwrap_or(0),
            c.pool.iter().map(|s| s.connections_opened).max().unwrap_or(0),
        ));
    }
    lines.push(String::new());
    lines.push(
        "![Throughput of one environment at concurrency 8](managed-instances-throughput.svg)"
            .into(),
    );
    lines.push(String::new());
    lines
}
