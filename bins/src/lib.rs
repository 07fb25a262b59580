//! Wiring shared by the functions' `main.rs` files: logging and Lambda error reports.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::Diagnostic;
use shared::ErrorKind;
use tracing_subscriber::filter::LevelFilter;

/// Logs as Lambda expects: JSON lines when the function's log format is JSON
/// (`AWS_LAMBDA_LOG_FORMAT`), level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`.
///
/// Like `lambda_runtime::tracing::init_default_subscriber`, but with a plain level instead
/// of an `EnvFilter`: that filter links the `regex` engine into every `bootstrap`.
pub fn init_logging() {
    let var = |name| std::env::var(name).ok();
    let level = var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|| var("RUST_LOG"))
        .and_then(|level| level.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let json = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let logs = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_ansi(false) // CloudWatch shows escape codes as text
        .without_time(); // CloudWatch stamps every line
                         // Only fails if a subscriber is already set, which then keeps logging.
    let _ = if json {
        logs.json().try_init()
    } else {
        logs.try_init()
    };
}

/// Runs one invocation and logs a report like Lambda's REPORT line: the time spent in the
/// handler (`duration_us`), whether it was this process's first invocation (`cold`: the
/// lazy globals are built then), when it started and which process served it. `make bench`
/// reads these lines.
pub async fn report<T, E>(invocation: impl Future<Output = Result<T, E>>) -> Result<T, E> {
    static INVOCATIONS: AtomicU64 = AtomicU64::new(0);
    let cold = INVOCATIONS.fetch_add(1, Ordering::Relaxed) == 0;
    let started_at_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| t.as_micros());
    let start = Instant::now();
    let result = invocation.await;
    tracing::info!(
        duration_us = start.elapsed().as_micros() as u64,
        cold,
        ok = result.is_ok(),
        started_at_us = started_at_us as u64,
        pid = std::process::id(),
        "invocation report"
    );
    result
}

/// Runs `hook` when Lambda sends SIGTERM, then exits.
///
/// Lambda sends SIGTERM before reclaiming a container only to functions with an extension,
/// so this registers a no-op internal one, as `lambda_runtime::spawn_graceful_shutdown_handler`
/// does. Unlike that helper, a failed registration is logged instead of panicking (a
/// panic aborts the process): the function then runs on, without the hook.
/// Call it before `lambda_runtime::run`: extensions register during init.
#[cfg(feature = "rds")]
pub async fn on_sigterm<F, Fut>(hook: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    use tokio::signal::unix::{signal, SignalKind};

    let mut sigterm = match signal(SignalKind::terminate()) {
        Ok(sigterm) => sigterm,
        Err(err) => {
            return tracing::warn!(error = %err, "no SIGTERM handler; shutdown hook disabled")
        }
    };
    let extension = lambda_extension::Extension::new()
        .with_events(&[]) // no events: it only makes Lambda send SIGTERM
        .with_extension_name("_graceful-shutdown")
        .register()
        .await;
    let extension = match extension {
        Ok(extension) => extension,
        Err(err) => {
            return tracing::warn!(error = %err, "extension not registered; shutdown hook disabled")
        }
    };
    // The extension's event loop long-polls and is never woken: it costs nothing.
    tokio::spawn(extension.run());
    tokio::spawn(async move {
        if sigterm.recv().await.is_some() {
            tracing::info!("SIGTERM: shutting down");
            hook().await;
            tracing::info!("shutdown complete");
            std::process::exit(0);
        }
    });
}

/// Turns a domain error into Lambda's error response: `errorType` is the error's kind
/// (`NotFound`, `InvalidPayload`, ...), `errorMessage` its full text.
pub fn diagnostic<E: ErrorKind + std::fmt::Display>(err: E) -> Diagnostic {
    tracing::warn!(error_type = err.kind(), error = %err, "invocation failed");
    Diagnostic {
        error_type: err.kind().into(),
        error_message: err.to_string(),
    }
}
