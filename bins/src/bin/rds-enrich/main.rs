//! `rds-enrich`: `{"id": N}` → `{"id": N, "name": "…"}`, read from MySQL.
//!
//! Global: ONE database connection, made lazily inside the handler the first time an
//! invocation needs it, then kept while the container lives. Lazy, because a connect in
//! init would lengthen every cold start (even for invocations that fail validation) and a
//! database outage would then fail the whole init instead of one retryable invocation.
//! Kept, but not trusted blindly: the container may have been frozen for minutes, so a
//! connection that idled long is pinged before use (`LazyConnection`).

use std::sync::Arc;

use functions::{diagnostic, init_logging, on_sigterm, report, InFlight};
use lambda_runtime::layers::TracingLayer;
use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent, Runtime};
use serde_json::Value;
use shared::deadline::Deadline;
use shared::enrich::{enrich, EnrichError, LazyConnection};
use shared::mysql::{DbConfig, MysqlConnector};
use tokio::sync::Mutex;

/// The container's connection. Lambda sends one invocation at a time, so the lock is
/// never contended; it is there because the shutdown hook runs on another task.
type Db = Arc<Mutex<LazyConnection<MysqlConnector>>>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_logging();

    // Init: read and check the configuration (and the CA file) only; nothing connects yet.
    // A bad configuration is reported by every invocation rather than crashing the container.
    let db: Result<Db, Diagnostic> = DbConfig::from_env()
        .and_then(|config| {
            let connector = MysqlConnector::new(&config)?;
            let db = LazyConnection::new(connector).ping_after_idle(config.ping_after_idle);
            Ok(Arc::new(Mutex::new(db)))
        })
        .map_err(|err| diagnostic(EnrichError::Database(err)));

    // Shutdown: on SIGTERM, let the invocation in flight post its response, then close the
    // connection so the server frees the slot at once instead of holding it until `wait_timeout`.
    let in_flight = InFlight::default();
    if let Ok(db) = &db {
        let db = db.clone();
        on_sigterm(in_flight.clone(), move || async move {
            db.lock().await.close().await
        })
        .await;
    }

    Runtime::new(service_fn(|event| handler(&db, event)))
        .layer(in_flight)
        .layer(TracingLayer::new())
        .run()
        .await
}

async fn handler(
    db: &Result<Db, Diagnostic>,
    event: LambdaEvent<Value>,
) -> Result<Value, Diagnostic> {
    report(async {
        let db = db.as_ref().map_err(Clone::clone)?;
        let deadline = Deadline::from_epoch_millis(event.context.deadline);
        let mut db = db.lock().await;
        enrich(event.payload, &mut db, deadline)
            .await
            .map_err(diagnostic)
    })
    .await
}
