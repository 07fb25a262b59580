//! What the size profile costs, warm: this repo's build against cargo-lambda's default
//! (`opt-level = 3`, the build most users ship) and against this repo's profile with
//! `opt-level = 3` for the hot path's crates only (per-crate overrides). Same code and
//! features in each; CPU read at nanosecond resolution, block by block.

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

/// The builds compared: name, and where its zips are (relative to the workspace).
const VARIANTS: [(&str, &str); 3] = [
    ("this repo", "target/lambda"),
    (
        "cargo-lambda default",
        "target/bench/default-profile/lambda",
    ),
    (
        "this repo + opt-level 3 hot crates",
        "target/bench/overrides/lambda",
    ),
];

#[derive(Serialize)]
pub(crate) struct VariantCost {
    pub(crate) variant: String,
    pub(crate) handler: Summary,
    /// CPU (user + system) per invocation in each block, ms: blocks of all variants run
    /// in turns, so block i of each saw the same moment of the machine.
    pub(crate) cpu_ms_blocks: Vec<f64>,
    pub(crate) zip_bytes: u64,
}

#[derive(Serialize)]
pub(crate) struct ProfileRow {
    pub(crate) function: String,
    pub(crate) workload: String,
    /// In `VARIANTS` order (a variant whose zips are missing is left out).
    pub(crate) variants: Vec<VariantCost>,
}

impl VariantCost {
    pub(crate) fn cpu_ms(&self) -> f64 {
        self.cpu_ms_blocks.iter().sum::<f64>() / self.cpu_ms_blocks.len().max(1) as f64
    }

    /// CPU against `base`, block by block: self / base − 1, as (lowest, median, highest).
    pub(crate) fn cpu_cost_over(&self, base: &VariantCost) -> (f64, f64, f64) {
        let mut costs: Vec<f64> = self
            .cpu_ms_blocks
            .iter()
            .zip(&base.cpu_ms_blocks)
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
    // A push event's size: what decrypt-env verifies on each warm invocation.
    let push = json!({"ref": "refs/heads/main", "commits": [{"id": "0d1a26e6", "message": "the quick brown fox"}],
                      "repository": {"full_name": "octo/hello"}, "n": [1, 2, 3], "nested": {"ok": true}});
    let delivery = e2e::webhook::signed(
        services.var("ENCRYPTED_KEY_PLAINTEXT"),
        &push.to_string(),
        "d-1",
    );
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
            "a signed webhook: JSON in, HMAC-SHA256 verified, JSON out (no I/O when warm)",
            delivery,
        ),
    ];
    let mut rows = Vec::new();
    for (function, workload, payload) in cases {
        let mut variants = Vec::new();
        for (name, dir) in VARIANTS {
            let dir = root.join(dir).join(function);
            if !dir.join("bootstrap.zip").exists() {
                println!("{function}: no {name} build ({}): skipped", dir.display());
                continue;
            }
            let binary = match name {
                "this repo" => e2e::bootstrap(function),
                _ => extracted(&dir)?,
            };
            variants.push((name, binary, dir));
        }
        let mut durations = vec![Vec::new(); variants.len()];
        let mut cpu_ms = vec![Vec::new(); variants.len()];
        let env = function_env(services, "DATABASE_URL_TLS");
        let api = format!(
            "http://{}/.rt/{function}",
            services.var("LAMBDA_RUNTIME_API")
        );
        // Alternate the variants block by block: drift on a noisy machine hits all.
        for block in 0..PROFILE_BLOCKS {
            for (v, (_, binary, _)) in variants.iter().enumerate() {
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
        let zip = |dir: &PathBuf| fs::metadata(dir.join("bootstrap.zip")).map_or(0, |m| m.len());
        let variants: Vec<VariantCost> = variants
            .iter()
            .enumerate()
            .map(|(v, (name, _, dir))| VariantCost {
                variant: name.to_string(),
                handler: Summary::of_us(&durations[v]),
                cpu_ms_blocks: cpu_ms[v].clone(),
                zip_bytes: zip(dir),
            })
            .collect();
        for v in &variants {
            println!(
                "{function:<14} {:<36} handler p50 {:.3} ms  cpu {:.3} ms/inv  zip {}",
                v.variant,
                v.handler.p50_ms,
                v.cpu_ms(),
                v.zip_bytes
            );
        }
        rows.push(ProfileRow {
            function: function.into(),
            workload: workload.into(),
            variants,
        });
    }
    Ok(rows)
}

/// The report's section.
pub(crate) fn markdown(rows: &[ProfileRow]) -> Vec<String> {
    let mut md = vec![
        format!(
            "## What the size profile costs ({} warm invocations each, alternating blocks of {})",
            PROFILE_BLOCKS * PROFILE_BLOCK_SIZE,
            PROFILE_BLOCK_SIZE
        ),
        String::new(),
        "Three builds of the same code: this repo's (`opt-level = \"z\"`, fat LTO), \
         cargo-lambda's default (`opt-level = 3`, thin LTO and the settings cargo-lambda \
         injects; see the zip sizes below), and this repo's with `opt-level = 3` for the \
         crates on the warm path only (`[profile.release.package.<crate>]` for rustls, ring, \
         mysql_common, mysql_async, serde_json, sha2, hmac, hyper, tokio). One container \
         each, invoked one at a time, the variants' blocks in turns. CPU is what the \
         function process's threads ran per invocation (nanoseconds, from \
         /proc/<pid>/task/*/schedstat), which includes the runtime's own HTTP exchanges \
         with the runtime API; its cost is against cargo-lambda's default, block by block: \
         median (lowest, highest)."
            .into(),
        String::new(),
        "| function | workload | build | handler p50 (ms) | CPU per invocation (ms) | CPU against cargo-lambda's default | zip (bytes) |".into(),
        "| --- | --- | --- | ---: | ---: | ---: | ---: |".into(),
    ];
    for r in rows {
        let base = r
            .variants
            .iter()
            .find(|v| v.variant == "cargo-lambda default");
        for v in &r.variants {
            let cost = match base {
                Some(base) if v.variant != base.variant => {
                    let (low, median, high) = v.cpu_cost_over(base);
                    format!(
                        "{:+.1} % ({:+.1} %, {:+.1} %)",
                        median * 100.0,
                        low * 100.0,
                        high * 100.0
                    )
                }
                _ => "-".into(),
            };
            md.push(format!(
                "| {} | {} | {} | {:.3} | {:.3} | {} | {} |",
                r.function,
                r.workload,
                v.variant,
                v.handler.p50_ms,
                v.cpu_ms(),
                cost,
                v.zip_bytes
            ));
        }
    }
    md.push(String::new());
    md
}
