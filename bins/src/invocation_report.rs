//! One log line per invocation, like Lambda's REPORT line, that `make bench` and
//! `make bench-aws` read.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Runs one invocation and logs its report: the time spent in the handler (`duration_us`),
/// whether it was this process's first invocation (`cold`: the lazy globals are built
/// then), when it started and which process served it; in the MySQL functions' builds, also
/// how many database connections this process has opened so far (`connections_opened`).
pub async fn report<T, E>(invocation: impl Future<Output = Result<T, E>>) -> Result<T, E> {
    static INVOCATIONS: AtomicU64 = AtomicU64::new(0);
    let cold = INVOCATIONS.fetch_add(1, Ordering::Relaxed) == 0;
    let started_at_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| t.as_micros() as u64);
    let start = Instant::now();
    let result = invocation.await;
    let duration_us = start.elapsed().as_micros() as u64;
    let (ok, pid) = (result.is_ok(), std::process::id());
    // Only the MySQL functions count connections; a `None` field is left out of the line.
    #[cfg(feature = "rds")]
    let connections_opened = Some(shared::mysql::connections_opened());
    #[cfg(not(feature = "rds"))]
    let connections_opened: Option<u64> = None;
    tracing::info!(
        duration_us,
        cold,
        ok,
        started_at_us,
        pid,
        connections_opened,
        "invocation report"
    );
    result
}
