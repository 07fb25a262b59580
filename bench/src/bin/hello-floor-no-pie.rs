//! hello-floor linked at a fixed address (bench/build.rs), which the functions are not: the floor
//! without the loader's relocations.

include!("../hello_floor.rs");
