//! The bootstrap processes: their environment, their lifetime, their CPU time.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Child;

use e2e::Services;

use crate::Result;

/// What each function needs in its environment, for the local services.
pub(crate) fn function_env<'a>(
    services: &'a Services,
    database_url: &str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
        ("DATABASE_URL", services.var(database_url)),
        // The TCP rows: the local database over plain TCP, allowed for it alone.
        (
            "DATABASE_ALLOW_PLAINTEXT",
            match database_url {
                "DATABASE_URL_TLS" => "false",
                _ => "true",
            },
        ),
        ("DATABASE_CA_FILE", services.var("DATABASE_CA_FILE")),
        ("AWS_ENDPOINT_URL", services.var("AWS_ENDPOINT_URL")),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("ENCRYPTED_KEY", services.var("ENCRYPTED_KEY")),
    ]
    .into_iter()
    .filter(|(k, _)| *k != "DATABASE_CA_FILE" || database_url == "DATABASE_URL_TLS")
    .collect()
}

/// A bootstrap process, killed when dropped (on an early return too).
pub(crate) struct Container(pub(crate) Child);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// CPU time a process's threads have run, in nanoseconds: the first field of each
/// `/proc/<pid>/task/<tid>/schedstat` (utime + stime in `stat` come in 10 ms ticks, too
/// coarse for invocations of a tenth of a millisecond).
pub(crate) fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// The bootstrap of a zip outside target/lambda, extracted beside it.
pub(crate) fn extracted(dir: &Path) -> Result<PathBuf> {
    let zip = dir.join("bootstrap.zip");
    if !zip.exists() {
        return Err(format!("{} is missing: run scripts/bench", zip.display()).into());
    }
    Ok(e2e::extract_bootstrap(&zip, dir))
}

/// One container of `function` polling the emulator, and a client that invokes it.
pub(crate) struct OneContainer {
    _container: Container,
    invoker: e2e::Invoker,
    function: &'static str,
}

impl OneContainer {
    pub(crate) fn start(
        services: &Services,
        function: &'static str,
        env: &[(&str, &str)],
        log: &Path,
    ) -> Self {
        let api = format!(
            "http://{}/.rt/{function}",
            services.var("LAMBDA_RUNTIME_API")
        );
        let child = e2e::spawn_bootstrap(&e2e::bootstrap(function), &api, function, env, log);
        Self {
            _container: Container(child),
            invoker: e2e::Invoker::new(services, function),
            function,
        }
    }

    /// Invokes `{"id": id}` and expects success.
    pub(crate) fn call(&self, id: u64) -> Result<()> {
        let reply = self.invoker.invoke(&serde_json::json!({ "id": id }))?;
        if reply.failed {
            return Err(format!("{}: {}", self.function, reply.body).into());
        }
        Ok(())
    }
}
