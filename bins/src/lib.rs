//! Wiring shared by the functions' `main.rs` files: logging and Lambda error reports.

use lambda_runtime::Diagnostic;
use shared::ErrorKind;

/// Logs as Lambda expects: JSON lines when the function's log format is JSON
/// (`AWS_LAMBDA_LOG_FORMAT`), level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`.
pub fn init_logging() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// Turns a domain error into Lambda's error response: `errorType` is the error's kind
/// (`NotFound`, `InvalidPayload`, ...), `errorMessage` its full text.
pub fn diagnostic<E: ErrorKind + std::fmt::Display>(err: E) -> Diagnostic {
    tracing::warn!(error_type = err.kind(), error = %err, "invocation failed");
    Diagnostic {
        error_type: err.kind().into(),
        error_message: err.to_string(),
    }
}
