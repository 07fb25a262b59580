//! `bench aws-report DIR`: the report of a `make bench-aws` run, from the `results.json`
//! that scripts/bench-aws.py wrote in DIR: `report.md` and its charts, in the shape of
//! docs/benchmarks.md and with the same chart code. The harness records raw invocations;
//! every statistic is computed here, as `make bench` computes its own (`stats::Summary`).

mod markdown;
mod model;

use std::fs;
use std::path::Path;

use crate::report::charts::{self, InvocationSeries, SweepSeries, TimeSeries};
use crate::stats::Summary;
use crate::Result;

pub(crate) use model::*;

/// Renders DIR/results.json into DIR/report.md and DIR/*.svg.
pub(crate) fn render(dir: &Path) -> Result<()> {
    let path = dir.join("results.json");
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let results: Results =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut charts = Vec::new();
    if let Some(burst) = &results.burst {
        if let [naive, global] = &burst.variants[..] {
            charts::invocation_times(
                &dir.join("burst-durations.svg"),
                &format!(
                    "Duration per invocation (Lambda's REPORT): {} at concurrency {}",
                    burst.invocations, burst.concurrency
                ),
                "Duration (ms, log scale)",
                burst.invocations as f64,
                &[naive, global].map(|v| InvocationSeries {
                    label: format!("{}: {}", v.key, v.function),
                    points: v.duration_points(),
                }),
            )?;
            charts.push("burst-durations.svg");
            if let (Some(n), Some(g)) = (&naive.proxy, &global.proxy) {
                let t0 = naive.window[0];
                let series = [(naive, n), (global, g)].map(|(v, p)| TimeSeries {
                    label: format!("{}: {}", v.key, v.function),
                    points: p
                        .client_connections
                        .iter()
                        .map(|&(t, c)| (t - t0, c))
                        .collect(),
                    marker: Some((v.window[1] - t0, format!("end of {}", v.key))),
                    dots: true,
                });
                charts::over_time(
                    &dir.join("burst-connections.svg"),
                    &format!(
                        "{}: ClientConnections (Sum per {} s period)",
                        n.proxy, n.period_s
                    ),
                    "seconds since the naive burst began",
                    "client connections",
                    burst.concurrency as f64,
                    &series,
                )?;
                charts.push("burst-connections.svg");
            }
        }
    }
    if let Some(sweep) = &results.sweep {
        let series: Vec<SweepSeries> = sweep
            .functions
            .iter()
            .filter(|f| !f.sizes.is_empty())
            .map(|f| SweepSeries {
                label: format!("{}: {}", f.key, f.function),
                points: f
                    .sizes
                    .iter()
                    .map(|s| {
                        let warm = durations(&s.warm, |_| true);
                        let init = init_durations(&s.cold);
                        let p50 = |x: Summary| (x.count > 0).then_some(x.p50_ms);
                        (s.memory_mb as f64, p50(warm), p50(init))
                    })
                    .collect(),
            })
            .collect();
        if !series.is_empty() {
            charts::memory_sweep(&dir.join("memory-sweep.svg"), &series)?;
            charts.push("memory-sweep.svg");
        }
    }
    let report = results.markdown(&charts);
    fs::write(dir.join("report.md"), &report)?;
    println!(
        "wrote {}/report.md and {}",
        dir.display(),
        charts.join(", ")
    );
    Ok(())
}

fn summary(ms: impl Iterator<Item = f64>) -> Summary {
    let us: Vec<u64> = ms.map(|m| (m * 1000.0).round().max(0.0) as u64).collect();
    Summary::of_us(&us)
}

/// Lambda's Duration of the invocations `keep` selects (those with a report).
fn durations(invocations: &[Invocation], keep: impl Fn(&Invocation) -> bool) -> Summary {
    summary(
        invocations
            .iter()
            .filter(|i| keep(i))
            .filter_map(|i| i.report.as_ref().map(|r| r.duration_ms)),
    )
}

fn init_durations(invocations: &[Invocation]) -> Summary {
    summary(
        invocations
            .iter()
            .filter_map(|i| i.report.as_ref()?.init_duration_ms),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A results.json as scripts/bench-aws.py writes it (trimmed): the report renders,
    /// its figures are computed from the invocations, and a stand-in run says so.
    const RESULTS: &str = r#"{
      "format": 1,
      "stack": {"name": "s", "region": "us-east-1", "parameters": {"DeployNaive": "true"},
                "outputs": {}},
      "endpoints": {"lambda": "http://127.0.0.1:1", "cloudformation": "http://127.0.0.1:2"},
      "started_at": "2026-12-01T00:00:00+00:00", "finished_at": "2026-12-01T00:01:00+00:00",
      "prices": {"x86_64_per_gb_second": 0.0000166667, "arm64_per_gb_second": 0.0000133334,
                 "per_million_requests": 0.2, "as_of": "2026-12-01"},
      "plan": "plan text",
      "burst": {"invocations": 2, "concurrency": 1, "variants": [
        {"key": "naive", "function": "s-rds-enrich-naive", "memory_mb": 128,
         "architecture": "x86_64", "log_format": "Text", "window": [0, 1],
         "invocations": [
           {"i": 0, "start_s": 0, "started_at": 0, "client_ms": 20, "function_error": null,
            "api_error": null, "retries": 0,
            "report": {"request_id": "a", "duration_ms": 10, "billed_duration_ms": 15,
                       "memory_size_mb": 128, "max_memory_used_mb": 20,
                       "init_duration_ms": 4.5, "status": null},
            "own": {"duration_us": 9000, "cold": true, "ok": true, "pid": 1,
                    "started_at_us": 1, "connections_opened": 1}},
           {"i": 1, "start_s": 0.1, "started_at": 0.1, "client_ms": 8, "function_error": null,
            "api_error": null, "retries": 0,
            "report": {"request_id": "b", "duration_ms": 6, "billed_duration_ms": 6,
                       "memory_size_mb": 128, "max_memory_used_mb": 21,
                       "init_duration_ms": null, "status": null},
            "own": null}],
         "connections": {"source": "logs", "reports": 2, "expected": 2, "environments": 1,
                         "opened": 2, "per_environment": {"e": 2}}},
        {"key": "global", "function": "s-rds-enrich", "memory_mb": 128,
         "architecture": "x86_64", "log_format": "JSON", "window": [1, 2],
         "invocations": [
           {"i": 0, "start_s": 0, "started_at": 1, "client_ms": 5, "function_error": null,
            "api_error": "boom", "retries": 0, "report": null, "own": null}],
         "connections": {"source": "logs", "reports": 0, "expected": 1, "environments": 0,
                         "opened": null, "per_environment": {},
                         "note": "not reported"}}]}
    }"#;

    #[test]
    fn renders_the_figures_of_the_invocations() {
        let results: Results = serde_json::from_str(RESULTS).unwrap();
        let md = results.markdown(&["burst-durations.svg"]);
        assert!(md.contains("local stand-in"), "{md}");
        // naive: Duration mean of 10 and 6 ms; 1 cold start; Init Duration 4.5 ms.
        assert!(md.contains("| Duration mean (ms) | 8.000 |"), "{md}");
        assert!(
            md.contains("| Init Duration p50, cold starts (ms) | 4.500 |"),
            "{md}"
        );
        assert!(
            md.contains("| cold starts (Init Duration in the REPORT) | 1 | 0 |"),
            "{md}"
        );
        assert!(md.contains("| failed invocations | 0 | 1 |"), "{md}");
        assert!(
            md.contains("| connections opened (the functions' own count) | 2 | not reported |"),
            "{md}"
        );
        assert!(
            md.contains("![Duration of each invocation](burst-durations.svg)"),
            "{md}"
        );
    }

    #[test]
    fn an_aws_run_is_not_called_a_stand_in() {
        let text = RESULTS.replace(
            "http://127.0.0.1:1",
            "https://lambda.us-east-1.amazonaws.com",
        );
        let results: Results = serde_json::from_str(&text).unwrap();
        assert!(!results.markdown(&[]).contains("stand-in"));
    }
}
