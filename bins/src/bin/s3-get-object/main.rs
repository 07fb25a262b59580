//! `s3-get-object`: AWS's blueprint. An S3 event notification → the content type of each
//! object it names (HeadObject: metadata only).
//!
//! Global: the S3 client, built EAGERLY in `main`, before the runtime loop. Building it
//! cannot fail on the network (it only reads region, credentials and trust configuration),
//! every invocation needs it, and paid in init it is off the request path whenever Lambda
//! initialises ahead of requests (provisioned concurrency, Managed Instances). It trusts
//! Amazon's roots, embedded: loading the system's was 3.3 ms of init (shared::trust). Its
//! connection pool stays warm across invocations. A bad `SSL_CERT_FILE` fails the init.

// The S3 client's nested futures exceed the compiler's default layout depth.
#![recursion_limit = "256"]

use aws_lambda_events::event::s3::S3Event;
use functions::{diagnostic, init_or_report, report, start};
use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use serde_json::value::RawValue;
use shared::deadline::Deadline;
use shared::payload;
use shared::s3::{content_types, ObjectContentType, ObjectError, S3Metadata};
use shared::trace_header::traced;

fn main() -> Result<(), Error> {
    start(async {
        // Init: build the client once, for every invocation of this environment; clones
        // share it (and its connection pool) between invocations served at once.
        let config = init_or_report(shared::aws::sdk_config()).await?;
        let store = S3Metadata::new(shared::aws::s3_client(&config));

        lambda_runtime::run_concurrent(service_fn(move |event| {
            let store = store.clone();
            async move { handler(store, event).await }
        }))
        .await
    })
}

async fn handler(
    store: S3Metadata,
    event: LambdaEvent<Box<RawValue>>,
) -> Result<Vec<ObjectContentType>, Diagnostic> {
    // Every S3 call of this invocation carries its X-Ray trace header.
    let trace_id = event.context.xray_trace_id.clone();
    report(traced(trace_id, async {
        let notification: S3Event = payload::read(&event.payload)
            .map_err(|err| diagnostic(ObjectError::Unreadable(err)))?;
        let deadline = Deadline::from_epoch_millis(event.context.deadline);
        content_types(&notification, &store, deadline)
            .await
            .map_err(diagnostic)
    }))
    .await
}
