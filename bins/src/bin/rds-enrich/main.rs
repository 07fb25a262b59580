//! `rds-enrich`: `{"id": N}` → `{"id": N, "name": "…"}`, read from MySQL.
//!
//! Global: the environment's connections, each made lazily in the handler when first needed,
//! then kept. Lazy: a connect in init would lengthen every cold start and a database outage
//! would fail the whole init instead of one retryable invocation. One per invocation served
//! at once: 1 on classic Lambda, up to `AWS_LAMBDA_MAX_CONCURRENCY` (or `DB_MAX_CONNECTIONS`)
//! on Managed Instances, so no invocation waits for another's query. Kept, not trusted
//! blindly: a connection that idled long is pinged before use (`LazyConnection`).
//! With `DATABASE_IAM_AUTH=true`, each new connection logs in with a fresh IAM token.

use std::sync::Arc;

use functions::{
    diagnostic, max_concurrency, on_sigterm, report, start, InFlight, ShutdownExtension,
};
use lambda_runtime::layers::TracingLayer;
use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent, Runtime};
use serde_json::value::RawValue;
use serde_json::Value;
use shared::deadline::Deadline;
use shared::enrich::{enrich, ConnectionSlots, EnrichError};
use shared::mysql::{DbConfig, MysqlConnector};
use shared::payload;

type Db = Arc<ConnectionSlots<MysqlConnector>>;

fn main() -> Result<(), Error> {
    // First, the extension that makes Lambda send SIGTERM: registering it is a round trip
    // to Lambda, sent now and answered while the rest of init goes on.
    let extension = ShutdownExtension::register();
    start(async {
        // Init: read and check the configuration (and the CA file) only; nothing connects
        // yet. A bad configuration is reported by every invocation rather than crashing.
        let db: Result<Db, Diagnostic> = DbConfig::from_env()
            .and_then(|config| config.connection_slots(max_concurrency()))
            .map(Arc::new)
            .map_err(|err| diagnostic(EnrichError::Database(err)));

        // Shutdown: on SIGTERM, let the invocations in flight post their responses, then
        // close every connection so the server frees the slots at once, not at `wait_timeout`.
        let in_flight = InFlight::default();
        let pool = db.clone();
        let close = || async move {
            if let Ok(db) = pool {
                db.close_all().await
            }
        };
        let handler = service_fn(move |event| {
            let db = db.clone();
            async move { handler(&db, event).await }
        });
        let runtime = Runtime::new(handler)
            .layer(in_flight.clone())
            .layer(TracingLayer::new());
        // The extension completes its init here, config or not: Lambda waits for its poll.
        on_sigterm(extension, in_flight, close).await;
        runtime.run_concurrent().await
    })
}

async fn handler(
    db: &Result<Db, Diagnostic>,
    event: LambdaEvent<Box<RawValue>>,
) -> Result<Value, Diagnostic> {
    report(async {
        let db = db.as_ref().map_err(Clone::clone)?;
        let deadline = Deadline::from_epoch_millis(event.context.deadline);
        let payload: Value = payload::read(&event.payload)
            .map_err(|err| diagnostic(EnrichError::InvalidPayload(err.into())))?;
        let mut conn = db
            .acquire(deadline)
            .await
            .map_err(|err| diagnostic(EnrichError::Database(err)))?;
        enrich(payload, &mut conn, deadline)
            .await
            .map_err(diagnostic)
    })
    .await
}
