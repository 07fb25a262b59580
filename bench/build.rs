//! Links hello-start as the functions are linked (bins/build.rs: at a fixed address unless
//! `BOOTSTRAP_PIE` is set), so that it stays "what every function pays before its own init".
//! hello-floor stays a position-independent executable, as Rust builds one by default: it is
//! the reference. hello-floor-no-pie, the same program at a fixed address, shows what that
//! alone is worth to a no-op function.
fn main() {
    println!("cargo:rerun-if-env-changed=BOOTSTRAP_PIE");
    println!("cargo:rustc-link-arg-bin=hello-floor-no-pie=-no-pie");
    if std::env::var_os("BOOTSTRAP_PIE").is_none_or(|v| v.is_empty() || v == "0") {
        println!("cargo:rustc-link-arg-bin=hello-start=-no-pie");
    }
}
