//! Init time: exec of `bootstrap` to its first `/next` poll, against a fake runtime API.

use std::path::Path;
use std::time::{Duration, Instant};

use e2e::{spawn_bootstrap, Services};
use serde::Serialize;

use crate::fake_runtime;
use crate::process::function_env;
use crate::stats::Summary;
use crate::Result;

/// Cold starts per function.
pub(crate) const COLD_STARTS: usize = 20;

#[derive(Serialize)]
pub(crate) struct InitRow {
    pub(crate) function: String,
    pub(crate) init: Summary,
}

pub(crate) fn init_times(root: &Path, services: &Services) -> Result<Vec<InitRow>> {
    let runtime = fake_runtime::FakeRuntime::start()?;
    let env = function_env(services, "DATABASE_URL");
    let mut rows = Vec::new();
    for function in [
        "hello-floor",
        "rds-enrich-naive",
        "rds-enrich",
        "decrypt-env",
        "s3-get-object",
    ] {
        let binary = e2e::bootstrap(function);
        let mut samples = Vec::with_capacity(COLD_STARTS);
        for i in 0..COLD_STARTS {
            let log = root.join(format!("target/bench/logs/init-{function}-{i}.log"));
            let polled = runtime.expect_poll();
            let start = Instant::now();
            let mut child = spawn_bootstrap(&binary, &runtime.url(), function, &env, &log);
            let at = polled.wait(Duration::from_secs(10));
            let _ = child.kill();
            let _ = child.wait();
            let at = at.ok_or(format!("{function} never polled for an invocation"))?;
            samples.push(at.duration_since(start).as_micros() as u64);
        }
        let init = Summary::of_us(&samples);
        println!(
            "{function:<18} p50 {:>6.2} ms  mean {:>6.2} ms  max {:>6.2} ms",
            init.p50_ms, init.mean_ms, init.max_ms
        );
        rows.push(InitRow {
            function: function.into(),
            init,
        });
    }
    Ok(rows)
}
