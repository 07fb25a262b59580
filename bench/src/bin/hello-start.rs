//! The floor on this repo's start-up: hello-floor's no-op handler on `functions::start`
//! (the runtime chosen for the execution model, logging as Lambda's log format says).
//! Between this and hello-floor: what every function pays before its own init.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

fn main() -> Result<(), Error> {
    functions::start(lambda_runtime::run_concurrent(service_fn(
        |event: LambdaEvent<Value>| async move { Ok::<Value, Error>(event.payload) },
    )))
}
