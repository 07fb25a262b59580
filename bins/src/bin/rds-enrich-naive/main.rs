//! `rds-enrich-naive`: the same function as `rds-enrich`, written the naive way, for
//! comparison only (`make bench`). It connects at the start of EVERY invocation and
//! disconnects at the end: no state survives between invocations.
//!
//! The only difference from `rds-enrich` is the connection's lifetime: one invocation
//! here, the whole container there.

use functions::{diagnostic, init_logging, report};
use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use serde_json::Value;
use shared::deadline::Deadline;
use shared::enrich::{enrich, EnrichError, LazyConnection};
use shared::mysql::{DbConfig, MysqlConnector};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_logging();

    // Init: configuration only, exactly as in rds-enrich.
    let connector: Result<MysqlConnector, Diagnostic> = DbConfig::from_env()
        .and_then(|config| MysqlConnector::new(&config))
        .map_err(|err| diagnostic(EnrichError::Database(err)));

    lambda_runtime::run(service_fn(|event| handler(&connector, event))).await
}

async fn handler(
    connector: &Result<MysqlConnector, Diagnostic>,
    event: LambdaEvent<Value>,
) -> Result<Value, Diagnostic> {
    report(async {
        let connector = connector.as_ref().map_err(Clone::clone)?;
        // A connection for this invocation only: connect, query, disconnect.
        let deadline = Deadline::from_epoch_millis(event.context.deadline);
        let mut db = LazyConnection::new(connector.clone());
        let result = enrich(event.payload, &mut db, deadline).await;
        db.close().await;
        result.map_err(diagnostic)
    })
    .await
}
