//! Errors as Lambda reports them, and what callers see of them.
//!
//! A caller gets the error's kind (`errorType`) and, when the message only describes what
//! it sent (a payload it cannot read, an id that does not exist), that message; otherwise a
//! generic one. The full text (a driver's "Access denied for user 'app'@'10.…'", KMS's
//! AccessDenied naming the role and the key) goes to the log line of the invocation, which
//! carries its request id. Neither ever holds a secret: the errors are built without them.

use std::time::Duration;

use lambda_runtime::Diagnostic;
use lambda_runtime_api_client::{body::Body, build_request, PooledClient};
use shared::ErrorKind;

/// What a caller reads when the message is not theirs to read.
pub const GENERIC_MESSAGE: &str = "the function failed; its log has the details";

/// How long reporting an init error may take: one request to the local Runtime API.
const REPORT_LIMIT: Duration = Duration::from_secs(1);

/// Logs an invocation's error in full and turns it into Lambda's error response.
pub fn diagnostic<E: ErrorKind>(err: E) -> Diagnostic {
    tracing::warn!(error_type = err.kind(), error = %err, "invocation failed");
    for_callers(&err)
}

/// The error as callers see it: its kind, and its message only if it is theirs.
fn for_callers<E: ErrorKind>(err: &E) -> Diagnostic {
    Diagnostic {
        error_type: err.kind().into(),
        error_message: match err.message_is_public() {
            true => err.to_string(),
            false => GENERIC_MESSAGE.into(),
        },
    }
}

/// The value of a step of init, or, if it failed, the end of init: a configuration that
/// cannot work is reported to Lambda's init error path (`/runtime/init/error`) and the
/// process exits. Lambda then fails the init instead of letting every invocation return
/// the same error, so a deployment with provisioned concurrency or on Managed Instances
/// fails before it takes traffic, and an on-demand invocation gets the error.
pub async fn init_or_report<T, E: ErrorKind>(
    step: Result<T, E>,
) -> Result<T, lambda_runtime::Error> {
    let err = match step {
        Ok(value) => return Ok(value),
        Err(err) => err,
    };
    tracing::error!(error_type = err.kind(), error = %err, "init failed");
    let diagnostic = for_callers(&err);
    if let Err(why) = post_init_error(&diagnostic).await {
        tracing::error!(error = %why, "the init error could not be reported to Lambda");
    }
    Err(format!(
        "init failed: {} (the log line above has the details)",
        err.kind()
    )
    .into())
}

/// Reports `err` as the failure of init and ends the process: for a task of init that
/// cannot return it to `main`.
#[cfg(feature = "rds")]
pub(crate) async fn exit_init<E: ErrorKind>(err: E) -> ! {
    let _ = init_or_report::<(), E>(Err(err)).await;
    std::process::exit(1)
}

/// `POST /2018-06-01/runtime/init/error`, as lambda_runtime reports its own init errors
/// (which it does only for SnapStart hooks, through a private request type).
async fn post_init_error(diagnostic: &Diagnostic) -> Result<(), String> {
    let endpoint = crate::runtime_api::endpoint()?;
    let client = PooledClient::builder().with_endpoint(endpoint).build();
    let body = serde_json::to_vec(diagnostic).map_err(|e| e.to_string())?;
    let request = build_request()
        .method("POST")
        .uri("/2018-06-01/runtime/init/error")
        .header("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")
        .header("Content-Type", "application/json")
        .body(Body::from(body))
        .map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(REPORT_LIMIT, client.call(request))
        .await
        .map_err(|_| "no answer in time".to_string())?
        .map_err(|e| e.to_string())?;
    match response.status().is_success() {
        true => Ok(()),
        false => Err(format!("answered {}", response.status())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Failure(&'static str, bool);

    impl ErrorKind for Failure {
        fn kind(&self) -> &'static str {
            "Failure"
        }
        fn message_is_public(&self) -> bool {
            self.1
        }
    }

    #[test]
    fn callers_read_a_message_only_when_it_is_about_what_they_sent() {
        let public = diagnostic(Failure("\"id\" must be a positive integer", true));
        assert_eq!(public.error_type, "Failure");
        assert_eq!(public.error_message, "\"id\" must be a positive integer");
        let internal = diagnostic(Failure("Access denied for user 'app'@'10.0.0.7'", false));
        assert_eq!(internal.error_type, "Failure");
        assert_eq!(internal.error_message, GENERIC_MESSAGE);
    }
}
