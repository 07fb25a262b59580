//! hello-floor linked at a fixed address (bench/build.rs), as the functions are: the floor
//! without the loader's relocations.

include!("../hello_floor.rs");
