//! hello-floor-no-pie is hello-floor linked at a fixed address: what dropping PIE would
//! save a no-op function's init, measured and not shipped (the functions, hello-floor and
//! hello-start are position-independent, as Rust builds them).
fn main() {
    println!("cargo:rustc-link-arg-bin=hello-floor-no-pie=-no-pie");
}
