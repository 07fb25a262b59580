//! The SIGTERM hook: what lets rds-enrich close its connections before Lambda reclaims the
//! environment.
//!
//! Lambda sends SIGTERM before shutting an environment down only to functions with an
//! extension. `on_sigterm` registers a no-op internal one with the `lambda-extension` crate,
//! as lambda_runtime's `spawn_graceful_shutdown_handler` does, but where that helper
//! panics (and a panic aborts the process) this reports: a refused registration leaves the
//! function running without the hook; one that may have been taken but never completes
//! (no answer, a poll that fails at once) fails the init, which Lambda would otherwise hold
//! until its timeout.

use std::future::Future;
use std::time::{Duration, Instant};

use lambda_extension::{Extension, Identity, LambdaEvent, RegisteredExtension};
use tokio::signal::unix::{signal, SignalKind};
use tokio::time::timeout;

use crate::in_flight::InFlight;

/// Registration is one request to the local Runtime API; init must never hang on it.
const REGISTRATION_LIMIT: Duration = Duration::from_secs(1);
/// An event poll that fails this soon after it starts, before any invocation, failed in init.
const FIRST_POLL_WINDOW: Duration = Duration::from_secs(1);
/// How lambda-extension 1.1's error for a non-2xx answer to the registration begins: the
/// one answer that says Lambda did not take it (tests/faults.rs checks it, with a 500).
const REFUSED_PREFIX: &str = "unable to register the extension:";
/// Lambda's shutdown window for a function with internal extensions only is 500 ms. The
/// invocations in flight (and those queued for a connection behind them) finish first,
/// within this much of it…
const DRAIN_LIMIT: Duration = Duration::from_millis(250);
/// …then the hook runs, within this much, and the process exits: 400 ms in all.
const HOOK_LIMIT: Duration = Duration::from_millis(150);
/// Internal extension names are unique within a function.
const NAME: &str = "_graceful-shutdown";

/// The registered extension, with the crate's no-op event processor.
type NoOpExtension = RegisteredExtension<Identity<LambdaEvent>>;

/// Registers the extension, then runs `hook` when SIGTERM comes, and exits.
///
/// On SIGTERM, the invocations in flight (`in_flight`) finish and post their responses
/// (within `DRAIN_LIMIT`), then the hook runs (within `HOOK_LIMIT`). SIGTERM is caught only
/// once the extension is registered: otherwise tokio would swallow it for the life of the
/// process.
/// Await this before the runtime starts: Lambda takes registrations only in init.
pub async fn on_sigterm<F, Fut>(in_flight: InFlight, hook: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let extension = match register().await {
        Ok(extension) => extension,
        Err(Registration::Unconfirmed(err)) => {
            crate::errors::exit_init(ShutdownExtensionFailed(err)).await
        }
        Err(Registration::Refused(err)) => {
            return tracing::warn!(error = %err, "extension not registered; shutdown hook disabled")
        }
    };
    // Lambda ends init once every registered extension has asked for its next event.
    tokio::spawn(poll_for_events(extension, in_flight.clone()));
    let mut sigterm = match signal(SignalKind::terminate()) {
        Ok(sigterm) => sigterm,
        Err(err) => {
            return tracing::warn!(error = %err, "no SIGTERM handler; shutdown hook disabled")
        }
    };
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

/// Why the extension is not registered.
enum Registration {
    /// Refused (a non-2xx answer), or never sent (no usable `AWS_LAMBDA_RUNTIME_API`):
    /// Lambda does not wait for it.
    Refused(String),
    /// Anything else (no answer in time, a connection lost or refused, an answer without an
    /// identifier): Lambda may have taken it, and would wait for its first poll.
    Unconfirmed(String),
}

/// An internal extension subscribed to no events: it exists only so that Lambda sends the
/// process SIGTERM.
async fn register() -> Result<NoOpExtension, Registration> {
    // lambda-extension builds its client from the variable and would panic on a bad one.
    crate::runtime_api::endpoint().map_err(Registration::Refused)?;
    let registering = Extension::new()
        .with_events(&[])
        .with_extension_name(NAME)
        .register();
    match timeout(REGISTRATION_LIMIT, registering).await {
        Ok(Ok(extension)) => Ok(extension),
        Ok(Err(err)) if err.to_string().starts_with(REFUSED_PREFIX) => {
            Err(Registration::Refused(format!("registration: {err}")))
        }
        Ok(Err(err)) => Err(Registration::Unconfirmed(format!("registration: {err}"))),
        Err(_) => Err(Registration::Unconfirmed(format!(
            "registration: no answer in {REGISTRATION_LIMIT:?}"
        ))),
    }
}

/// The extension's event poll, pending for the life of the process: with no events
/// subscribed, Lambda never answers it.
///
/// If it fails to reach the Runtime API at once, in init, Lambda would hold the init until
/// its timeout (10 s) waiting for it: the init fails now instead. Later (an invocation came,
/// or the poll was held open a while: init is over) it is logged. An answer (emulators send
/// events nobody subscribed to) ends the crate's loop, and changes nothing: SIGTERM is
/// caught all the same.
async fn poll_for_events(extension: NoOpExtension, in_flight: InFlight) {
    let polling = Instant::now();
    let Err(err) = extension.run().await else {
        return;
    };
    // lambda-extension returns the JSON error of an event it cannot read as it is.
    if err.downcast_ref::<serde_json::Error>().is_some() {
        return tracing::warn!(error = %err, "the extension's event poll was answered");
    }
    if in_flight.started() == 0 && polling.elapsed() < FIRST_POLL_WINDOW {
        crate::errors::exit_init(ShutdownExtensionFailed(err.to_string())).await;
    }
    tracing::warn!(error = %err, "the extension's event poll failed");
}

/// The extension's registration or its event poll did not complete.
#[derive(Debug, thiserror::Error)]
#[error("the shutdown extension did not reach Lambda: {0}")]
struct ShutdownExtensionFailed(String);

impl shared::ErrorKind for ShutdownExtensionFailed {
    fn kind(&self) -> &'static str {
        "ShutdownExtensionFailed"
    }
}
