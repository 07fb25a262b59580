//! `rds-enrich`: `{"id": N}` → `{"id": N, "name": "…"}`, read from MySQL.
//!
//! Global: ONE database connection, made lazily inside the handler the first time an
//! invocation needs it, then kept while the container lives. Lazy, because a connect in
//! init would lengthen every cold start (even for invocations that fail validation) and a
//! database outage would then fail the whole init instead of one retryable invocation.

use std::sync::Arc;

use functions::{diagnostic, init_logging, on_sigterm, report};
use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use serde_json::Value;
use shared::enrich::{enrich, EnrichError, LazyConnection};
use shared::mysql::{DbConfig, MysqlConnector};
use tokio::sync::Mutex;

/// The container's connection. Lambda sends one invocation at a time, so the lock is
/// never contended; it is there because the shutdown hook runs on another task.
type Db = Arc<Mutex<LazyConnection<MysqlConnector>>>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_logging();

    // Init: read the configuration only; nothing connects yet. A bad configuration is
    // reported by every invocation rather than crashing the container.
    let db: Result<Db, Diagnostic> = DbConfig::from_env()
        .and_then(|config| MysqlConnector::new(&config))
        .map(|connector| Arc::new(Mutex::new(LazyConnection::new(connector))))
        .map_err(|err| diagnostic(EnrichError::Database(err)));

    // Shutdown: on SIGTERM, close the connection so the server frees the slot at once
    // instead of holding it until `wait_timeout`.
    if let Ok(db) = &db {
        let db = db.clone();
        on_sigterm(move || async move { db.lock().await.close().await }).await;
    }

    lambda_runtime::run(service_fn(|event| handler(&db, event))).await
}

async fn handler(
    db: &Result<Db, Diagnostic>,
    event: LambdaEvent<Value>,
) -> Result<Value, Diagnostic> {
    report(async {
        let db = db.as_ref().map_err(Clone::clone)?;
        let mut db = db.lock().await;
        enrich(event.payload, &mut db).await.map_err(diagnostic)
    })
    .await
}
