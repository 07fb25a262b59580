//! Links each function's `bootstrap` at a fixed address (a position-dependent executable),
//! unless `BOOTSTRAP_PIE` is set.
//!
//! Why: a position-independent `bootstrap` is relocated by the loader at every cold start:
//! about 13,000 pointers (vtables, panic locations, string tables, log call sites) written
//! into 250 KB of its data, which copies some 60 pages. Linked at a fixed address, the linker
//! writes them once, into the file: init is 0.17 to 0.25 ms shorter (README, Cold start) and
//! the binary 300 KB smaller. The price: the binary's own code and data are not at a random
//! address (ASLR); libc, the heap and the stack still are. That is what Go functions on
//! Lambda have always shipped (`go build` is not PIE by default on linux/amd64). Set
//! `BOOTSTRAP_PIE=1` for `make zip` to keep PIE; `make zip` checks the zips are what it says.
//!
//! Only the link changes: the crates are still compiled position-independent, as the target
//! compiles them (`-C relocation-model=static` would change every crate, and cannot build the
//! shared library `crc-fast`, under the SDK's checksums, also builds).
fn main() {
    println!("cargo:rerun-if-env-changed=BOOTSTRAP_PIE");
    if std::env::var_os("BOOTSTRAP_PIE").is_none_or(|v| v.is_empty() || v == "0") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
