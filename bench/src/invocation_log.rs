//! The per-invocation report lines the functions log (like Lambda's REPORT line).

use std::fs;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::Result;

/// One invocation as the function reported it (its "REPORT line").
#[derive(Clone, Copy, Serialize)]
pub(crate) struct Invocation {
    pub(crate) started_at_us: u64,
    pub(crate) duration_us: u64,
    pub(crate) cold: bool,
    pub(crate) pid: u32,
}

/// The `invocation report` lines a function logged.
pub(crate) fn read_reports(log: &Path) -> Result<Vec<Invocation>> {
    let text = fs::read_to_string(log)?;
    Ok(text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"]["message"] == "invocation report")
        .filter_map(|line| {
            let f = &line["fields"];
            Some(Invocation {
                started_at_us: f["started_at_us"].as_u64()?,
                duration_us: f["duration_us"].as_u64()?,
                cold: f["cold"].as_bool()?,
                pid: f["pid"].as_u64()? as u32,
            })
        })
        .collect())
}

/// The warm invocations' durations (µs) of a log whose calls alternate between two kinds:
/// (first, second, first, second, ...).
pub(crate) fn alternating(log: &Path) -> Result<(Vec<u64>, Vec<u64>)> {
    let warm: Vec<u64> = read_reports(log)?
        .into_iter()
        .filter(|i| !i.cold)
        .map(|i| i.duration_us)
        .collect();
    let pick = |parity: usize| -> Vec<u64> {
        warm.iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == parity)
            .map(|(_, d)| *d)
            .collect()
    };
    Ok((pick(0), pick(1)))
}
