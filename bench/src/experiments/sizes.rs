//! Zip sizes: this repo, cargo-lambda's default build, a plain `cargo build --release`.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::Result;

#[derive(Serialize)]
pub(crate) struct SizeRow {
    pub(crate) function: String,
    /// This repository: its profile, lean features, one build per feature group.
    pub(crate) repo_zip_bytes: u64,
    /// Same code, as cargo-lambda builds it by default: no profile in Cargo.toml (it
    /// injects its own), the four functions in one build.
    pub(crate) cargo_lambda_default_zip_bytes: Option<u64>,
    /// `cargo build --release -p functions` (Cargo's defaults, the four functions in one
    /// build, so their features unify), zipped.
    pub(crate) plain_release_zip_bytes: Option<u64>,
}

pub(crate) fn zip_sizes(root: &Path) -> Result<Vec<SizeRow>> {
    let size = |p: PathBuf| fs::metadata(p).ok().map(|m| m.len());
    let mut rows = Vec::new();
    for function in [
        "rds-enrich",
        "rds-enrich-naive",
        "s3-get-object",
        "decrypt-env",
        "hello-floor",
    ] {
        let repo = size(
            root.join("target/lambda")
                .join(function)
                .join("bootstrap.zip"),
        )
        .ok_or(format!("no zip for {function}: run scripts/bench"))?;
        let row = SizeRow {
            function: function.into(),
            repo_zip_bytes: repo,
            cargo_lambda_default_zip_bytes: size(
                root.join("target/bench/default-profile/lambda")
                    .join(function)
                    .join("bootstrap.zip"),
            ),
            plain_release_zip_bytes: size(
                root.join("target/bench/plain")
                    .join(function)
                    .join("bootstrap.zip"),
            ),
        };
        println!(
            "{function:<18} {:>10} {:>12} {:>12}",
            row.repo_zip_bytes,
            fmt_opt(row.cargo_lambda_default_zip_bytes),
            fmt_opt(row.plain_release_zip_bytes)
        );
        rows.push(row);
    }
    Ok(rows)
}

pub(crate) fn fmt_opt(v: Option<u64>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}
