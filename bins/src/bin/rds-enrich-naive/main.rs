//! `rds-enrich-naive`: the same function as `rds-enrich`, written the naive way, for
//! comparison only (`make bench`). It connects at the start of EVERY invocation and
//! disconnects at the end: no state survives between invocations.
//!
//! The only difference from `rds-enrich` is the connection's lifetime: one invocation
//! here, the whole environment there.

use std::sync::Arc;

use functions::{diagnostic, init_or_report, report, start};
use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use serde_json::value::RawValue;
use serde_json::Value;
use shared::deadline::Deadline;
use shared::enrich::{enrich, EnrichError, LazyConnection};
use shared::mysql::{DbConfig, MysqlConnector};
use shared::payload;

fn main() -> Result<(), Error> {
    start(async {
        // Init: configuration only, exactly as in rds-enrich.
        let connector = DbConfig::from_env().and_then(|config| MysqlConnector::new(&config));
        let connector = Arc::new(init_or_report(connector.map_err(EnrichError::Database)).await?);
        lambda_runtime::run_concurrent(service_fn(move |event| {
            let connector = connector.clone();
            async move { handler(&connector, event).await }
        }))
        .await
    })
}

async fn handler(
    connector: &MysqlConnector,
    event: LambdaEvent<Box<RawValue>>,
) -> Result<Value, Diagnostic> {
    report(async {
        let payload: Value = payload::read(&event.payload)
            .map_err(|err| diagnostic(EnrichError::InvalidPayload(err.into())))?;
        // A connection for this invocation only: connect, query, disconnect.
        let deadline = Deadline::from_epoch_millis(event.context.deadline);
        let mut db = LazyConnection::new(connector.clone());
        let result = enrich(payload, &mut db, deadline).await;
        db.close().await;
        result.map_err(diagnostic)
    })
    .await
}
