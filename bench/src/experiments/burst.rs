//! The article's experiment: a burst against the naive and the global variant, and the
//! same comparison under other conditions (TLS, one at a time, a network round trip).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use e2e::Services;
use serde::Serialize;

use crate::run::{run, Run, Variant, BURST, CONCURRENCY};
use crate::stats::Summary;
use crate::{Result, NETWORK_RTT};

/// The same comparison under other conditions.
#[derive(Serialize, Clone)]
pub(crate) struct Contrast {
    pub(crate) label: String,
    pub(crate) concurrency: usize,
    pub(crate) invocations: usize,
    pub(crate) naive: Summary,
    pub(crate) global: Summary,
    pub(crate) naive_cpu_ms: f64,
    pub(crate) global_cpu_ms: f64,
    pub(crate) naive_commands: Vec<(String, f64)>,
    pub(crate) global_commands: Vec<(String, f64)>,
}

#[derive(Serialize)]
pub(crate) struct BurstReport {
    pub(crate) invocations: usize,
    pub(crate) concurrency: usize,
    pub(crate) naive: Variant,
    pub(crate) global: Variant,
}

/// The article's burst: naive first, then global.
pub(crate) fn burst(services: &Services, out: &Path) -> Result<BurstReport> {
    println!("\n== burst: {BURST} invocations at concurrency {CONCURRENCY}, naive then global");
    let naive = run(
        services,
        out,
        Run::burst("rds-enrich-naive", "DATABASE_URL"),
    )?;
    let global = run(services, out, Run::burst("rds-enrich", "DATABASE_URL"))?;
    Ok(BurstReport {
        invocations: BURST,
        concurrency: CONCURRENCY,
        naive,
        global,
    })
}

/// Why the ratio is what it is: TLS, one invocation at a time, a network round trip
/// (`proxy`: the latency proxy in front of `mysql`).
pub(crate) fn contrast(
    services: &Services,
    out: &Path,
    mysql: SocketAddr,
    proxy: SocketAddr,
) -> Result<Vec<Contrast>> {
    println!("\n== why the ratio is what it is: TLS, and one invocation at a time");
    let mut contrast = Vec::new();
    let idle = Duration::from_millis(10);
    let via_proxy = |var: &str| {
        Some(
            services
                .var(var)
                .replace(&mysql.to_string(), &proxy.to_string()),
        )
    };
    let rtt_label = format!(
        "one at a time, +{} ms network RTT",
        NETWORK_RTT.as_secs_f64() * 1000.0
    );
    let rtt_tls_label = format!("{rtt_label}, TLS");
    for (label, var, sequential, gap, proxied) in [
        (
            "burst, TLS",
            "DATABASE_URL_TLS",
            false,
            Duration::ZERO,
            false,
        ),
        ("one at a time", "DATABASE_URL", true, Duration::ZERO, false),
        (
            "one at a time, 10 ms apart",
            "DATABASE_URL",
            true,
            idle,
            false,
        ),
        (
            "one at a time, TLS",
            "DATABASE_URL_TLS",
            true,
            Duration::ZERO,
            false,
        ),
        (
            rtt_label.as_str(),
            "DATABASE_URL",
            true,
            Duration::ZERO,
            true,
        ),
        (
            rtt_tls_label.as_str(),
            "DATABASE_URL_TLS",
            true,
            Duration::ZERO,
            true,
        ),
    ] {
        let make = |function| {
            let run = if sequential {
                Run::sequential(function, var).with_gap(gap)
            } else {
                Run::burst(function, var).quiet()
            };
            run.with_url(if proxied { via_proxy(var) } else { None })
        };
        let naive = run(services, out, make("rds-enrich-naive"))?;
        let global = run(services, out, make("rds-enrich"))?;
        contrast.push(Contrast {
            label: label.into(),
            concurrency: naive.concurrency,
            invocations: naive.invocations.len(),
            naive: naive.handler,
            global: global.handler,
            naive_cpu_ms: naive.cpu_ms_per_invocation,
            global_cpu_ms: global.cpu_ms_per_invocation,
            naive_commands: naive.server_commands_per_invocation.clone(),
            global_commands: global.server_commands_per_invocation.clone(),
        });
    }

    Ok(contrast)
}
