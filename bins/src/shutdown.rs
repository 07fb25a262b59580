//! The SIGTERM hook: what lets rds-enrich close its connections before Lambda reclaims the
//! environment.
//!
//! Lambda sends SIGTERM before shutting an environment down only to functions with an
//! extension. `on_sigterm` registers a no-op internal one with the `lambda-extension` crate,
//! as lambda_runtime's `spawn_graceful_shutdown_handler` does, but where that helper
//! panics (and a panic aborts the process) this logs and goes on: a refused, failed or slow
//! registration leaves the function running without the hook.

use std::future::Future;
use std::time::Duration;

use lambda_extension::{Extension, Identity, LambdaEvent, RegisteredExtension};
use tokio::signal::unix::{signal, SignalKind};
use tokio::time::timeout;

use crate::in_flight::InFlight;

/// Registration is one request to the local Runtime API; init must never hang on it.
const REGISTRATION_LIMIT: Duration = Duration::from_secs(1);
/// Lambda's shutdown window for a function with internal extensions only is 500 ms: the
/// invocations in flight and the hook share this much of it, then the process exits.
const SHUTDOWN_LIMIT: Duration = Duration::from_millis(400);
/// Internal extension names are unique within a function.
const NAME: &str = "_graceful-shutdown";

/// The registered extension, with the crate's no-op event processor.
type NoOpExtension = RegisteredExtension<Identity<LambdaEvent>>;

/// Registers the extension, then runs `hook` when SIGTERM comes, and exits.
///
/// On SIGTERM, the invocations in flight (`in_flight`) finish and post their responses
/// while the hook runs, both within `SHUTDOWN_LIMIT`. SIGTERM is caught only once the
/// extension is registered: otherwise tokio would swallow it for the life of the process.
/// Await this before the runtime starts: Lambda takes registrations only in init.
pub async fn on_sigterm<F, Fut>(in_flight: InFlight, hook: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let extension = match register().await {
        Ok(extension) => extension,
        Err(err) => {
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
            let (drained, closed) = tokio::join!(
                timeout(SHUTDOWN_LIMIT, in_flight.wait_idle()),
                timeout(SHUTDOWN_LIMIT, hook()),
            );
            if drained.is_err() {
                tracing::warn!(in_flight = in_flight.count(), "invocations still running");
            }
            if closed.is_err() {
                tracing::warn!("shutdown hook did not finish in time");
            }
            tracing::info!("shutdown complete");
            std::process::exit(0);
        }
    });
}

/// An internal extension subscribed to no events: it exists only so that Lambda sends the
/// process SIGTERM.
async fn register() -> Result<NoOpExtension, String> {
    // lambda-extension builds its client from the variable and would panic on a bad one.
    crate::runtime_api::endpoint()?;
    let registering = Extension::new()
        .with_events(&[])
        .with_extension_name(NAME)
        .register();
    timeout(REGISTRATION_LIMIT, registering)
        .await
        .map_err(|_| "registration: no answer in time".to_string())?
        .map_err(|err| format!("registration: {err}"))
}

/// The extension's event poll, pending for the life of the process: with no events
/// subscribed, Lambda never answers it.
///
/// If it fails to reach the Runtime API before the first invocation, Lambda would hold the
/// init until its timeout (10 s) waiting for it: the init fails now instead. An answer
/// (emulators send events nobody subscribed to) ends the crate's loop, and changes nothing:
/// SIGTERM is caught all the same.
async fn poll_for_events(extension: NoOpExtension, in_flight: InFlight) {
    let Err(err) = extension.run().await else {
        return;
    };
    // lambda-extension returns the JSON error of an event it cannot read as it is.
    let answered = err.downcast_ref::<serde_json::Error>().is_some();
    if answered {
        return tracing::debug!(error = %err, "the extension's event poll was answered");
    }
    if in_flight.started() == 0 {
        crate::errors::exit_init(ShutdownExtensionFailed(err.to_string())).await;
    }
    tracing::warn!(error = %err, "the extension's event poll failed");
}

/// The extension registered but its event poll did not reach Lambda.
#[derive(Debug, thiserror::Error)]
#[error("the shutdown extension's event poll did not reach Lambda: {0}")]
struct ShutdownExtensionFailed(String);

impl shared::ErrorKind for ShutdownExtensionFailed {
    fn kind(&self) -> &'static str {
        "ShutdownExtensionFailed"
    }
}
