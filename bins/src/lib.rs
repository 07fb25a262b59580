//! Lambda wiring shared by the functions' `main.rs` files, one idea a module. The domain
//! logic they call is in the `shared` crate, free of Lambda types.

mod errors;
mod in_flight;
mod invocation_report;
mod logging;
mod runtime;
mod runtime_api;
#[cfg(feature = "rds")]
mod shutdown;

pub use errors::{diagnostic, init_or_report, GENERIC_MESSAGE};
pub use in_flight::InFlight;
pub use invocation_report::report;
pub use logging::init_logging;
pub use runtime::{max_concurrency, start};
#[cfg(feature = "rds")]
pub use shutdown::on_sigterm;
