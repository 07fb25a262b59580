//! results.json as scripts/bench-aws.py writes it (bench_aws/run.py, burst.py, sweep.py,
//! connections.py, invoke.py `Record`).

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Deserialize)]
pub(crate) struct Results {
    pub(crate) stack: StackInfo,
    #[serde(default)]
    pub(crate) endpoints: BTreeMap<String, Option<String>>,
    pub(crate) started_at: String,
    pub(crate) finished_at: Option<String>,
    pub(crate) prices: Prices,
    #[serde(default)]
    pub(crate) plan: String,
    pub(crate) burst: Option<Burst>,
    pub(crate) sweep: Option<Sweep>,
    pub(crate) interrupted: Option<String>,
    pub(crate) error: Option<String>,
    #[serde(default)]
    pub(crate) restored: Vec<String>,
    pub(crate) restore_error: Option<String>,
}

impl Results {
    /// The invocations went to a Lambda API on this machine: the stand-in, not AWS.
    pub(crate) fn stand_in(&self) -> bool {
        self.endpoints
            .get("lambda")
            .and_then(|e| e.as_deref())
            .is_some_and(|e| e.contains("://127.0.0.1") || e.contains("://localhost"))
    }
}

#[derive(Deserialize)]
pub(crate) struct StackInfo {
    pub(crate) name: String,
    pub(crate) region: String,
    #[serde(default)]
    pub(crate) parameters: BTreeMap<String, String>,
}

#[derive(Deserialize)]
pub(crate) struct Prices {
    pub(crate) x86_64_per_gb_second: f64,
    pub(crate) arm64_per_gb_second: f64,
    pub(crate) per_million_requests: f64,
    pub(crate) as_of: String,
}

impl Prices {
    /// Dollars per million invocations at `memory_mb`, billed `billed_ms` on average.
    pub(crate) fn per_million(&self, architecture: &str, memory_mb: u32, billed_ms: f64) -> f64 {
        let per_gb_s = match architecture {
            "arm64" => self.arm64_per_gb_second,
            _ => self.x86_64_per_gb_second,
        };
        (memory_mb as f64 / 1024.0 * billed_ms / 1000.0 * per_gb_s) * 1e6
            + self.per_million_requests
    }
}

#[derive(Deserialize)]
pub(crate) struct Burst {
    pub(crate) invocations: usize,
    pub(crate) concurrency: usize,
    pub(crate) variants: Vec<Variant>,
}

#[derive(Deserialize)]
pub(crate) struct Variant {
    pub(crate) key: String,
    pub(crate) function: String,
    pub(crate) memory_mb: u32,
    pub(crate) architecture: String,
    pub(crate) window: [f64; 2],
    pub(crate) invocations: Vec<Invocation>,
    pub(crate) connections: Option<Connections>,
    pub(crate) proxy: Option<ProxyMetrics>,
}

impl Variant {
    /// (index in order of start, Duration ms, cold) of the invocations Lambda reported.
    pub(crate) fn duration_points(&self) -> Vec<(f64, f64, bool)> {
        self.invocations
            .iter()
            .enumerate()
            .filter_map(|(n, i)| {
                let r = i.report.as_ref()?;
                Some((n as f64, r.duration_ms, r.init_duration_ms.is_some()))
            })
            .collect()
    }
}

#[derive(Deserialize)]
pub(crate) struct Invocation {
    pub(crate) client_ms: f64,
    pub(crate) function_error: Option<String>,
    pub(crate) api_error: Option<String>,
    #[serde(default)]
    pub(crate) retries: u32,
    pub(crate) report: Option<Report>,
    pub(crate) own: Option<Own>,
}

impl Invocation {
    pub(crate) fn failed(&self) -> bool {
        self.function_error.is_some() || self.api_error.is_some()
    }

    pub(crate) fn cold(&self) -> bool {
        self.report
            .as_ref()
            .is_some_and(|r| r.init_duration_ms.is_some())
    }
}

#[derive(Deserialize)]
pub(crate) struct Report {
    pub(crate) duration_ms: f64,
    pub(crate) billed_duration_ms: Option<f64>,
    pub(crate) max_memory_used_mb: Option<u32>,
    pub(crate) init_duration_ms: Option<f64>,
}

#[derive(Deserialize)]
pub(crate) struct Own {
    pub(crate) duration_us: u64,
}

#[derive(Deserialize)]
pub(crate) struct Connections {
    pub(crate) reports: usize,
    pub(crate) expected: usize,
    pub(crate) environments: usize,
    pub(crate) opened: Option<u64>,
    pub(crate) note: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ProxyMetrics {
    pub(crate) proxy: String,
    pub(crate) period_s: u64,
    #[serde(default)]
    pub(crate) client_connections: Vec<(f64, f64)>,
    pub(crate) peak_client_connections: Option<f64>,
    pub(crate) client_connections_setup_succeeded: Option<f64>,
    pub(crate) note: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Sweep {
    pub(crate) cold: usize,
    pub(crate) warm: usize,
    pub(crate) functions: Vec<SweepFunction>,
}

#[derive(Deserialize)]
pub(crate) struct SweepFunction {
    pub(crate) key: String,
    pub(crate) function: String,
    pub(crate) architecture: String,
    pub(crate) original_memory_mb: u32,
    #[serde(default)]
    pub(crate) sizes: Vec<SweepSize>,
    pub(crate) skipped: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct SweepSize {
    pub(crate) memory_mb: u32,
    pub(crate) cold: Vec<Invocation>,
    pub(crate) warm: Vec<Invocation>,
}
