//! Which tokio runtime a function runs on: the one that fits how Lambda runs it.

use std::future::Future;

/// How many invocations this environment serves at once: `AWS_LAMBDA_MAX_CONCURRENCY` on
/// Lambda Managed Instances (1 to 1600), 1 on classic Lambda (unset), as
/// `lambda_runtime::run_concurrent` reads it.
pub fn max_concurrency() -> usize {
    std::env::var("AWS_LAMBDA_MAX_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1)
}

/// Runs the function's `main` on the tokio runtime that fits how Lambda runs it.
///
/// One invocation at a time (classic Lambda, or one vCPU): the single-thread runtime,
/// cheapest to start and with no cross-thread hand-offs. Several at once on several vCPUs
/// (Managed Instances): the multi-thread runtime with a worker per vCPU (at most one per
/// concurrent invocation), so that their TLS, SigV4 and JSON work runs in parallel.
pub fn start<F: Future<Output = Result<(), lambda_runtime::Error>>>(
    main: F,
) -> Result<(), lambda_runtime::Error> {
    let concurrency = max_concurrency();
    // vCPUs are only counted when they matter: counting reads cgroup files, in init.
    let cpus =
        (concurrency > 1).then(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let workers = cpus.map_or(1, |cpus| concurrency.min(cpus));
    let runtime = if workers > 1 {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    };
    runtime.block_on(async {
        crate::logging::init_logging();
        tracing::info!(concurrency, cpus, workers, "runtime chosen");
        main.await
    })
}
