//! Links each function's `bootstrap` at a fixed address (a position-dependent executable),
//! unless `BOOTSTRAP_PIE` is set.
//!
//! Why: a position-independent `bootstrap` is relocated by the loader at every cold start:
//! about 13,000 pointers (vtables, panic locations, string tables, log call sites) written
//! into 250 KB of its data, which copies some 60 pages. Linked at a fixed address, the linker
//! writes them once, into the file: init is 0.07 to 0.25 ms shorter, depending on the
//! harness (README, "Linked at a fixed address"), and the binary 300 KB smaller.
//!
//! The price: the binary's own code and data are not at a random address (ASLR); libc, the
//! loader, the heap and the stacks still are. Go functions on Lambda run so by default
//! (`go build` is not PIE on linux/amd64). `BOOTSTRAP_PIE=1 make zip` keeps PIE; `make zip`
//! fails if a bootstrap is linked otherwise than asked.
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
