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
    /// One entry per repeat (the variants' order alternates between repeats).
    pub(crate) repeats: Repeats,
}

/// Each repeat's figures, naive and global measured side by side in that repeat.
#[derive(Serialize, Clone, Default)]
pub(crate) struct Repeats {
    pub(crate) naive_mean_ms: Vec<f64>,
    pub(crate) global_mean_ms: Vec<f64>,
    pub(crate) naive_p99_ms: Vec<f64>,
    pub(crate) global_p99_ms: Vec<f64>,
    pub(crate) naive_warm_p99_ms: Vec<f64>,
    pub(crate) global_warm_p99_ms: Vec<f64>,
}

impl Repeats {
    fn push(&mut self, naive: &Variant, global: &Variant) {
        self.naive_mean_ms.push(naive.handler.mean_ms);
        self.global_mean_ms.push(global.handler.mean_ms);
        self.naive_p99_ms.push(naive.handler.p99_ms);
        self.global_p99_ms.push(global.handler.p99_ms);
        self.naive_warm_p99_ms.push(naive.handler_warm.p99_ms);
        self.global_warm_p99_ms.push(global.handler_warm.p99_ms);
    }

    /// naive / global per repeat, of the figure `pick` selects.
    pub(crate) fn ratios(&self, pick: fn(&Self) -> (&Vec<f64>, &Vec<f64>)) -> Spread {
        let (n, g) = pick(self);
        Spread::of(n.iter().zip(g).map(|(n, g)| n / g).collect())
    }
}

/// The median of a few repeats and their range.
#[derive(Serialize, Clone, Copy)]
pub(crate) struct Spread {
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

impl Spread {
    pub(crate) fn of(mut v: Vec<f64>) -> Self {
        v.sort_by(f64::total_cmp);
        Self {
            median: v.get(v.len() / 2).copied().unwrap_or(f64::NAN),
            min: v.first().copied().unwrap_or(f64::NAN),
            max: v.last().copied().unwrap_or(f64::NAN),
        }
    }
}

/// Each comparison is made this many times, the variants' order alternating.
pub(crate) const REPEATS: usize = 3;

/// Runs `naive` and `global` side by side REPEATS times, alternating which goes first;
/// returns the first repeat's runs (for the tables' details and the charts) and all repeats.
fn side_by_side(
    mut measure: impl FnMut(&'static str) -> Result<Variant>,
) -> Result<(Variant, Variant, Repeats)> {
    let mut repeats = Repeats::default();
    let mut first = None;
    for r in 0..REPEATS {
        let (naive, global) = if r % 2 == 0 {
            let naive = measure("rds-enrich-naive")?;
            (naive, measure("rds-enrich")?)
        } else {
            let global = measure("rds-enrich")?;
            (measure("rds-enrich-naive")?, global)
        };
        repeats.push(&naive, &global);
        first.get_or_insert((naive, global));
    }
    let (naive, global) = first.ok_or("no repeat ran")?;
    Ok((naive, global, repeats))
}

#[derive(Serialize)]
pub(crate) struct BurstReport {
    pub(crate) invocations: usize,
    pub(crate) concurrency: usize,
    pub(crate) naive: Variant,
    pub(crate) global: Variant,
    pub(crate) repeats: Repeats,
}

/// The article's burst, naive and global alternated, REPEATS times.
pub(crate) fn burst(services: &Services, out: &Path) -> Result<BurstReport> {
    println!(
        "\n== burst: {BURST} invocations at concurrency {CONCURRENCY}, naive and global \
         alternated, {REPEATS} times"
    );
    let (naive, global, repeats) =
        side_by_side(|function| run(services, out, Run::burst(function, "DATABASE_URL")))?;
    Ok(BurstReport {
        invocations: BURST,
        concurrency: CONCURRENCY,
        naive,
        global,
        repeats,
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
        let (naive, global, repeats) = side_by_side(|function| run(services, out, make(function)))?;
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
            repeats,
        });
    }

    Ok(contrast)
}
