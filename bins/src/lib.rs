//! Wiring shared by the functions' `main.rs` files: logging and Lambda error reports.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::Diagnostic;
use shared::ErrorKind;
use tracing_subscriber::filter::LevelFilter;

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
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = concurrency.min(cpus);
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
        init_logging();
        tracing::info!(concurrency, cpus, workers, "runtime chosen");
        main.await
    })
}

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

/// Lambda's shutdown window for a function with an internal extension is 500 ms: wait for
/// in-flight invocations this long at most, then give the hook the rest.
#[cfg(feature = "rds")]
const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_millis(250);
#[cfg(feature = "rds")]
const HOOK_LIMIT: std::time::Duration = std::time::Duration::from_millis(150);
/// Registration is one request to the local Runtime API; init must never hang on it.
#[cfg(feature = "rds")]
const REGISTRATION_LIMIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs `hook` when Lambda sends SIGTERM, then exits.
///
/// Lambda sends SIGTERM before reclaiming a container only to functions with an extension,
/// so this registers a no-op internal one, as `lambda_runtime::spawn_graceful_shutdown_handler`
/// does. Unlike that helper, a failed or slow registration is logged instead of panicking
/// (a panic aborts the process), and SIGTERM is only caught once the extension is there:
/// otherwise the signal would be swallowed for the life of the process. On SIGTERM the
/// invocations in flight finish and post their responses first (`in_flight`), all within
/// Lambda's shutdown window. Call it before the runtime starts: extensions register in init.
#[cfg(feature = "rds")]
pub async fn on_sigterm<F, Fut>(in_flight: InFlight, hook: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    use tokio::signal::unix::{signal, SignalKind};
    use tokio::time::timeout;

    let registration = lambda_extension::Extension::new()
        .with_events(&[]) // no events: it only makes Lambda send SIGTERM
        .with_extension_name("_graceful-shutdown")
        .register();
    let extension = match timeout(REGISTRATION_LIMIT, registration).await {
        Ok(Ok(extension)) => extension,
        Ok(Err(err)) => {
            return tracing::warn!(error = %err, "extension not registered; shutdown hook disabled")
        }
        Err(_) => {
            return tracing::warn!("extension registration timed out; shutdown hook disabled")
        }
    };
    let mut sigterm = match signal(SignalKind::terminate()) {
        Ok(sigterm) => sigterm,
        Err(err) => {
            return tracing::warn!(error = %err, "no SIGTERM handler; shutdown hook disabled")
        }
    };
    // The extension's event loop long-polls and is never woken: it costs nothing.
    tokio::spawn(extension.run());
    tokio::spawn(async move {
        if sigterm.recv().await.is_some() {
            tracing::info!(in_flight = in_flight.count(), "SIGTERM: shutting down");
            if timeout(DRAIN_LIMIT, in_flight.wait_idle()).await.is_err() {
                tracing::warn!(in_flight = in_flight.count(), "invocations still running");
            }
            if timeout(HOOK_LIMIT, hook()).await.is_err() {
                tracing::warn!("shutdown hook did not finish in time");
            }
            tracing::info!("shutdown complete");
            std::process::exit(0);
        }
    });
}

/// Counts the invocations in flight, from the event received to the response posted, so
/// that shutdown can wait for them. Add it to the runtime with `Runtime::layer`: the
/// service it wraps includes the POST of the response.
#[derive(Clone, Default)]
pub struct InFlight(std::sync::Arc<(std::sync::atomic::AtomicUsize, tokio::sync::Notify)>);

impl InFlight {
    pub fn count(&self) -> usize {
        self.0 .0.load(Ordering::SeqCst)
    }

    /// Returns once no invocation is in flight.
    pub async fn wait_idle(&self) {
        loop {
            let idle = self.0 .1.notified();
            if self.count() == 0 {
                return;
            }
            idle.await;
        }
    }

    fn enter(&self) -> InFlightGuard {
        self.0 .0.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self.clone())
    }
}

struct InFlightGuard(InFlight);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0 .0 .0.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0 .0 .1.notify_waiters();
        }
    }
}

impl<S> lambda_runtime::tower::Layer<S> for InFlight {
    type Service = Tracked<S>;
    fn layer(&self, inner: S) -> Tracked<S> {
        Tracked {
            inner,
            in_flight: self.clone(),
        }
    }
}

/// A runtime service whose calls count as in flight until they complete.
#[derive(Clone)]
pub struct Tracked<S> {
    inner: S,
    in_flight: InFlight,
}

impl<S, R> lambda_runtime::Service<R> for Tracked<S>
where
    S: lambda_runtime::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = TrackedFuture<S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let guard = self.in_flight.enter();
        TrackedFuture {
            inner: Box::pin(self.inner.call(request)),
            _guard: guard,
        }
    }
}

/// The wrapped future, and the guard that counts it until it completes or is dropped.
pub struct TrackedFuture<F> {
    inner: std::pin::Pin<Box<F>>,
    _guard: InFlightGuard,
}

impl<F: Future> Future for TrackedFuture<F> {
    type Output = F::Output;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        self.inner.as_mut().poll(cx)
    }
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
