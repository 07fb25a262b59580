//! `rds-enrich`: `{"id": N}` → `{"id": N, "name": "…"}`, read from MySQL.
//!
//! Global: the environment's connections, each made lazily in the handler when first needed,
//! then kept. Lazy: a connect in init would lengthen every cold start and a database outage
//! would fail the whole init instead of one retryable invocation. One on classic Lambda (one
//! invocation at a time); on Managed Instances a few per vCPU, never more than the
//! invocations served at once (or `DB_MAX_CONNECTIONS`): a database can afford that. Kept, not
//! trusted blindly: a connection that idled long is pinged before use (`LazyConnection`).
//! With `DATABASE_IAM_AUTH=true`, each new connection logs in with a fresh IAM token.

use std::sync::Arc;

use functions::{diagnostic, init_or_report, max_concurrency, on_sigterm, report, start, InFlight};
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
    start(async {
        // Init: read and check the configuration (and the CA file) only; nothing connects
        // yet. A configuration that cannot work fails the init, before any traffic.
        let slots =
            DbConfig::from_env().and_then(|config| config.connection_slots(max_concurrency()));
        let db: Db = Arc::new(init_or_report(slots.map_err(EnrichError::Database)).await?);

        // Shutdown: on SIGTERM, let the invocations in flight post their responses, and close
        // every connection so the server frees its slots at once, not at `wait_timeout`.
        let in_flight = InFlight::default();
        let pool = db.clone();
        on_sigterm(in_flight.clone(), || async move { pool.close_all().await }).await;

        let handler = service_fn(move |event| {
            let db = db.clone();
            async move { handler(&db, event).await }
        });
        Runtime::new(handler)
            .layer(in_flight)
            .layer(TracingLayer::new())
            .run_concurrent()
            .await
    })
}

async fn handler(db: &Db, event: LambdaEvent<Box<RawValue>>) -> Result<Value, Diagnostic> {
    report(async {
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
