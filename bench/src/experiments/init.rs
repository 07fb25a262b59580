//! Init time: exec of `bootstrap` to the end of its init as Lambda counts it (its first
//! `/next`, and every registered extension's first poll), against a fake runtime API.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use e2e::{spawn_bootstrap, Services};
use serde::Serialize;

use crate::fake_runtime;
use crate::process::function_env;
use crate::stats::Summary;
use crate::Result;

/// Cold starts per function, taken in turns.
pub(crate) const COLD_STARTS: usize = 100;

#[derive(Serialize)]
pub(crate) struct InitRow {
    pub(crate) function: String,
    pub(crate) init: Summary,
}

/// The system's CA bundle, where Debian and Amazon Linux keep it: what a function trusts
/// when `SSL_CERT_FILE` names it (all the system's roots, as the SDK's default does).
const SYSTEM_BUNDLES: [&str; 2] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];

/// `BENCH_INIT_BASELINE`: a directory of zips laid out as `target/lambda` (e.g. a copy of it
/// from before a change). Each function of it gets a row of its own, "<function>, baseline",
/// measured in the same rounds as the current zips: a change's cost side by side.
const BASELINE_VAR: &str = "BENCH_INIT_BASELINE";

/// A row: its label, the function's name, its binary and its environment.
type Run<'a> = (String, String, PathBuf, &'a Vec<(&'a str, &'a str)>);

const FUNCTIONS: [&str; 4] = [
    "rds-enrich-naive",
    "rds-enrich",
    "decrypt-env",
    "s3-get-object",
];

pub(crate) fn init_times(root: &Path, services: &Services) -> Result<Vec<InitRow>> {
    let runtime = fake_runtime::FakeRuntime::start()?;
    let env = function_env(services, "DATABASE_URL");
    let mut with_bundle = env.clone();
    let bundle = SYSTEM_BUNDLES.into_iter().find(|b| Path::new(b).exists());
    with_bundle.extend(bundle.map(|b| ("SSL_CERT_FILE", b)));
    let mut rows = Vec::new();
    let current = |label: &str, function: &str| {
        (
            label.to_string(),
            function.to_string(),
            e2e::bootstrap(function),
        )
    };
    let mut runs: Vec<Run> = [
        ("hello-floor", "hello-floor"),
        ("hello-floor, no PIE", "hello-floor-no-pie"),
        ("hello-floor on start()", "hello-start"),
    ]
    .into_iter()
    .chain(FUNCTIONS.iter().map(|f| (*f, *f)))
    .map(|(label, function)| current(label, function))
    .map(|(label, function, binary)| (label, function, binary, &env))
    .collect();
    if bundle.is_some() {
        let label = "s3-get-object, SSL_CERT_FILE = the system bundle";
        let (label, function, binary) = current(label, "s3-get-object");
        runs.push((label, function, binary, &with_bundle));
    }
    if let Some(baseline) = std::env::var_os(BASELINE_VAR).map(PathBuf::from) {
        for function in FUNCTIONS {
            let zip = baseline.join(function).join("bootstrap.zip");
            let dir = root.join("target/bench/baseline").join(function);
            let binary = e2e::extract_bootstrap(&zip, &dir);
            runs.push((
                format!("{function}, baseline"),
                function.into(),
                binary,
                &env,
            ));
        }
    }
    // Round robin: one cold start of each in turn, so that a noisy moment on the machine
    // falls on every function alike and the ratios to the floor hold; in a new order each
    // round, so that no function always runs after the same one.
    let mut samples = vec![Vec::with_capacity(COLD_STARTS); runs.len()];
    let mut order: Vec<usize> = (0..runs.len()).collect();
    let mut seed = 0x9E37_79B9_7F4A_7C15;
    for i in 0..COLD_STARTS {
        shuffle(&mut order, &mut seed);
        for &run in &order {
            let (label, function, binary, env) = &runs[run];
            let log = root.join(format!("target/bench/logs/init-{function}-{i}.log"));
            let polled = runtime.expect_poll();
            let start = Instant::now();
            let mut child = spawn_bootstrap(binary, &runtime.url(), function, env, &log);
            let at = polled.wait(Duration::from_secs(10));
            let _ = child.kill();
            let _ = child.wait();
            let at = at.ok_or(format!("{label} never polled for an invocation"))?;
            samples[run].push(at.duration_since(start).as_micros() as u64);
        }
    }
    for ((label, ..), samples) in runs.iter().zip(&samples) {
        let init = Summary::of_us(samples);
        println!(
            "{label:<22} min {:>5.2} ms  p50 {:>5.2} ms  mean {:>5.2} ms  max {:>6.2} ms",
            init.min_ms, init.p50_ms, init.mean_ms, init.max_ms
        );
        rows.push(InitRow {
            function: label.clone(),
            init,
        });
    }
    Ok(rows)
}

/// Fisher-Yates with xorshift64: a fixed seed gives every run of the benchmark the same
/// sequence of orders.
fn shuffle(order: &mut [usize], state: &mut u64) {
    for i in (1..order.len()).rev() {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        order.swap(i, (*state % (i as u64 + 1)) as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::shuffle;

    #[test]
    fn each_round_is_a_permutation_and_the_order_changes() {
        let mut order: Vec<usize> = (0..7).collect();
        let mut seed = 0x9E37_79B9_7F4A_7C15;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..20 {
            shuffle(&mut order, &mut seed);
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..7).collect::<Vec<_>>());
            seen.insert(order.clone());
        }
        assert!(
            seen.len() > 10,
            "only {} distinct orders in 20 rounds",
            seen.len()
        );
    }
}
