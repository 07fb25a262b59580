//! `s3-get-object`: AWS's blueprint. An S3 event notification → the content type of each
//! object it names (HeadObject: metadata only).
//!
//! Global: the S3 client, built EAGERLY in `main`, before the runtime loop. Building it
//! cannot fail on the network (it only reads region and credentials configuration), every
//! invocation needs it, and init runs with a full CPU burst, so paying for it there keeps
//! it off the first invocation. Its connection pool then stays warm across invocations.

use aws_lambda_events::event::s3::S3Event;
use functions::{diagnostic, init_logging, report};
use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use shared::s3::{content_types, ObjectContentType, S3Metadata};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_logging();

    // Init: build the client once, for every invocation of this container.
    let config = shared::aws::sdk_config();
    let store = S3Metadata::new(aws_sdk_s3::Client::new(&config));

    lambda_runtime::run(service_fn(|event| handler(&store, event))).await
}

async fn handler(
    store: &S3Metadata,
    event: LambdaEvent<S3Event>,
) -> Result<Vec<ObjectContentType>, Diagnostic> {
    report(async {
        content_types(&event.payload, store)
            .await
            .map_err(diagnostic)
    })
    .await
}
