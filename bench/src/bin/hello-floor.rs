//! The floor for init time and size: a `lambda_runtime` function that does nothing, built as
//! Rust builds a binary by default (position-independent).

include!("../hello_floor.rs");
