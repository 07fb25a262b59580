//! Logs as Lambda expects them.

use tracing_subscriber::filter::LevelFilter;

/// JSON lines when the function's log format is JSON (`AWS_LAMBDA_LOG_FORMAT`, always so on
/// Managed Instances), text otherwise; the level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`.
///
/// Like `lambda_runtime::tracing::init_default_subscriber`, but with a plain level instead
/// of an `EnvFilter`: that filter links the `regex` engine into every `bootstrap`.
pub fn init_logging() {
    let var = |name| std::env::var(name).ok();
    let level = var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|| var("RUST_LOG"))
        .and_then(|level| level.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let json = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let logs = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_ansi(false) // CloudWatch shows escape codes as text
        .without_time(); // CloudWatch stamps every line

    // Only fails if a subscriber is already set, which then keeps logging.
    let _ = if json {
        logs.json().try_init()
    } else {
        logs.try_init()
    };
}
