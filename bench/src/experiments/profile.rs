//! What the size profile costs: this repo's build against cargo-lambda's default, warm.

use std::fs;
use std::path::{Path, PathBuf};

use e2e::{spawn_bootstrap, Invoker, Services};
use serde::Serialize;
use serde_json::{json, Value};

use crate::invocation_log::read_reports;
use crate::process::{cpu_ns, extracted, function_env, Container};
use crate::stats::Summary;
use crate::Result;

/// Warm invocations per variant, in alternating blocks.
pub(crate) const PROFILE_BLOCKS: usize = 6;
pub(crate) const PROFILE_BLOCK_SIZE: usize = 100;

/// This repo's size profile against cargo-lambda's defaults (opt-level 3, thin LTO), the
/// build most users ship: same code and features.
#[derive(Serialize)]
pub(crate) struct ProfileRow {
    pub(crate) function: String,
    pub(crate) workload: String,
    pub(crate) this_repo: Summary,
    pub(crate) cargo_lambda_default: Summary,
    /// CPU time (user + system) the process spent per warm invocation.
    pub(crate) cpu_ms_per_invocation_this_repo: f64,
    pub(crate) cpu_ms_per_invocation_cargo_lambda_default: f64,
    /// CPU per invocation in each block (ms), in the order run: block pairs side by side.
    pub(crate) cpu_ms_blocks_this_repo: Vec<f64>,
    pub(crate) cpu_ms_blocks_cargo_lambda_default: Vec<f64>,
    pub(crate) zip_bytes_this_repo: u64,
    pub(crate) zip_bytes_cargo_lambda_default: u64,
}

impl ProfileRow {
    /// What the size profile costs in CPU, block pair by block pair: this / default − 1,
    /// as (lowest, median, highest) over the pairs.
    pub(crate) fn cpu_cost_range(&self) -> (f64, f64, f64) {
        let mut costs: Vec<f64> = self
            .cpu_ms_blocks_this_repo
            .iter()
            .zip(&self.cpu_ms_blocks_cargo_lambda_default)
            .map(|(a, b)| a / b - 1.0)
            .collect();
        costs.sort_by(f64::total_cmp);
        match costs.as_slice() {
            [] => (f64::NAN, f64::NAN, f64::NAN),
            c => (c[0], c[c.len() / 2], c[c.len() - 1]),
        }
    }
}

pub(crate) fn profile_cost(
    root: &Path,
    services: &Services,
    out: &Path,
) -> Result<Vec<ProfileRow>> {
    let bucket = services.var("S3_BUCKET").to_string();
    let cases: [(&str, &str, Value); 3] = [
        (
            "rds-enrich",
            "SELECT by primary key over TLS (MariaDB)",
            json!({"id": 42}),
        ),
        (
            "s3-get-object",
            "HeadObject, SigV4-signed (moto)",
            e2e::s3_event(&[(bucket.as_str(), "plain.txt")]),
        ),
        (
            "decrypt-env",
            "JSON in, HMAC-SHA256, JSON out (no I/O when warm)",
            json!({"message": "the quick brown fox", "n": [1, 2, 3], "nested": {"ok": true}}),
        ),
    ];
    let mut rows = Vec::new();
    for (function, workload, payload) in cases {
        let variants = [
            e2e::bootstrap(function),
            extracted(
                &root
                    .join("target/bench/default-profile/lambda")
                    .join(function),
            )?,
        ];
        let mut durations: [Vec<u64>; 2] = [Vec::new(), Vec::new()];
        let mut cpu_ms: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        let env = function_env(services, "DATABASE_URL_TLS");
        let api = format!(
            "http://{}/.rt/{function}",
            services.var("LAMBDA_RUNTIME_API")
        );
        // Alternate the variants block by block: drift on a noisy machine hits both.
        for block in 0..PROFILE_BLOCKS {
            for (v, binary) in variants.iter().enumerate() {
                let log = out.join(format!("logs/profile-{function}-{v}-{block}.log"));
                let child = Container(spawn_bootstrap(binary, &api, function, &env, &log));
                let invoker = Invoker::new(services, function);
                let cold = invoker.invoke(&payload)?;
                if cold.failed {
                    return Err(format!("{function}: {}", cold.body).into());
                }
                let cpu_before = cpu_ns(child.0.id());
                for _ in 0..PROFILE_BLOCK_SIZE {
                    invoker.invoke(&payload)?;
                }
                let ns = cpu_ns(child.0.id()) - cpu_before;
                cpu_ms[v].push(ns as f64 / 1e6 / PROFILE_BLOCK_SIZE as f64);
                drop(child);
                durations[v].extend(
                    read_reports(&log)?
                        .into_iter()
                        .filter(|i| !i.cold)
                        .map(|i| i.duration_us),
                );
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let zip = |dir: PathBuf| fs::metadata(dir.join("bootstrap.zip")).map_or(0, |m| m.len());
        let row = ProfileRow {
            function: function.into(),
            workload: workload.into(),
            this_repo: Summary::of_us(&durations[0]),
            cargo_lambda_default: Summary::of_us(&durations[1]),
            cpu_ms_per_invocation_this_repo: mean(&cpu_ms[0]),
            cpu_ms_per_invocation_cargo_lambda_default: mean(&cpu_ms[1]),
            cpu_ms_blocks_this_repo: cpu_ms[0].clone(),
            cpu_ms_blocks_cargo_lambda_default: cpu_ms[1].clone(),
            zip_bytes_this_repo: zip(root.join("target/lambda").join(function)),
            zip_bytes_cargo_lambda_default: zip(root
                .join("target/bench/default-profile/lambda")
                .join(function)),
        };
        println!(
            "{function:<18} this repo: p50 {:.3} ms mean {:.3} ms cpu {:.3} ms | cargo-lambda default: p50 {:.3} ms mean {:.3} ms cpu {:.3} ms",
            row.this_repo.p50_ms,
            row.this_repo.mean_ms,
            row.cpu_ms_per_invocation_this_repo,
            row.cargo_lambda_default.p50_ms,
            row.cargo_lambda_default.mean_ms,
            row.cpu_ms_per_invocation_cargo_lambda_default
        );
        rows.push(row);
    }
    Ok(rows)
}
