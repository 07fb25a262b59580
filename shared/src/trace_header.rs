//! The X-Ray trace header of each invocation, on every AWS call the invocation makes.
//!
//! The SDK's own recursion-detection interceptor sends `X-Amzn-Trace-Id` from the
//! `_X_AMZN_TRACE_ID` variable, which lambda_runtime sets per invocation on classic Lambda.
//! On Managed Instances several invocations run at once in one process, so lambda_runtime
//! sets no variable (it would be shared by all of them) and those calls went out without a
//! header: their segments were orphaned. Here the invocation's own trace id
//! (`Context::xray_trace_id`, from `Lambda-Runtime-Trace-Id`) is held in a task-local for
//! the invocation's future, and `TraceHeader` puts it on each request that future sends,
//! encoded as the SDK encodes it: on classic Lambda, the very header the SDK would send.

use std::future::Future;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use percent_encoding::{percent_encode, CONTROLS};

const HEADER: &str = "x-amzn-trace-id";

tokio::task_local! {
    static TRACE_ID: Option<String>;
}

/// Runs `invocation` with `trace_id` (the invocation's `Context::xray_trace_id`): every AWS
/// call it makes through a client built with `TraceHeader` carries it.
///
/// ```no_run
/// # async fn handler(s3: aws_sdk_s3::Client, trace_id: Option<String>) {
/// // `s3` built with shared::aws::s3_client, which adds `TraceHeader`.
/// shared::trace_header::traced(trace_id, async {
///     let _head = s3.head_object().bucket("bucket").key("key").send().await;
/// })
/// .await;
/// # }
/// ```
pub async fn traced<F: Future>(trace_id: Option<String>, invocation: F) -> F::Output {
    TRACE_ID.scope(trace_id, invocation).await
}

/// Sets `X-Amzn-Trace-Id` to the current invocation's trace id, before the request is
/// signed, as the SDK's recursion detection does (which then leaves it as it is).
#[derive(Debug, Default)]
pub struct TraceHeader;

impl Intercept for TraceHeader {
    fn name(&self) -> &'static str {
        "TraceHeader"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Ok(Some(trace_id)) = TRACE_ID.try_with(Clone::clone) else {
            return Ok(()); // not inside an invocation, or it has no trace id
        };
        // Control characters percent-encoded, as the SDK's recursion detection does: what
        // is left is always a valid header value.
        let value = percent_encode(trace_id.as_bytes(), CONTROLS).to_string();
        context
            .request_mut()
            .headers_mut()
            .try_insert(HEADER, value)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_http_client::test_util::infallible_client_fn;
    use std::sync::{Arc, Mutex};

    /// What the HTTP layer saw: each request's path and trace header.
    type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

    /// An S3 client with `TraceHeader` whose HTTP layer records (path, trace header).
    fn s3() -> (aws_sdk_s3::Client, Seen) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let http = infallible_client_fn(move |req| {
            let header = req
                .headers()
                .get(HEADER)
                .map(|v| v.to_str().unwrap().to_string());
            log.lock()
                .unwrap()
                .push((req.uri().path().to_string(), header));
            http::Response::builder()
                .status(200)
                .body(String::new())
                .unwrap()
        });
        let config = crate::s3::test_client_config(http)
            .interceptor(TraceHeader)
            .build();
        (aws_sdk_s3::Client::from_conf(config), seen)
    }

    fn trace_id(i: usize) -> String {
        format!("Root=1-5759e988-bd862e3fe1be46a99427{i:04};Parent=53995c3f42cd8ad8;Sampled=1")
    }

    /// Eight invocations at once on several threads, as on Managed Instances: each request
    /// carries its own invocation's header, never another's.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_invocations_each_send_their_own_trace_header() {
        let (client, seen) = s3();
        let invocations = (0..8).map(|i| {
            let client = client.clone();
            tokio::spawn(traced(Some(trace_id(i)), async move {
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                    let _ = client
                        .head_object()
                        .bucket("b")
                        .key(format!("k{i}"))
                        .send()
                        .await;
                }
            }))
        });
        for invocation in invocations.collect::<Vec<_>>() {
            invocation.await.unwrap();
        }
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 24);
        for (path, header) in seen.iter() {
            let i: usize = path.trim_start_matches("/b/k").parse().unwrap();
            assert_eq!(header.as_deref(), Some(trace_id(i).as_str()), "{path}");
        }
    }

    #[tokio::test]
    async fn no_header_outside_an_invocation_or_without_a_trace_id() {
        let (client, seen) = s3();
        let _ = client.head_object().bucket("b").key("outside").send().await;
        traced(None, async {
            let _ = client
                .head_object()
                .bucket("b")
                .key("untraced")
                .send()
                .await;
        })
        .await;
        let seen = seen.lock().unwrap();
        assert!(seen.iter().all(|(_, header)| header.is_none()), "{seen:?}");
    }

    #[tokio::test]
    async fn control_characters_are_encoded_as_the_sdk_encodes_them() {
        let (client, seen) = s3();
        traced(Some("Root=1-a\nb\u{7f}".into()), async {
            let _ = client.head_object().bucket("b").key("k").send().await;
        })
        .await;
        let header = seen.lock().unwrap()[0].1.clone();
        assert_eq!(header.as_deref(), Some("Root=1-a%0Ab%7F"));
    }
}
