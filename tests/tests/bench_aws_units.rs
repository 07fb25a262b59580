//! The unit tests of `make bench-aws`'s Python harness (scripts/bench_aws/test_*.py: the
//! REPORT parser on lines from AWS's documentation, the cost arithmetic, the plan, putting
//! the configuration back), run by `cargo test --workspace` and so by `make test`. Offline:
//! they import neither boto3 nor anything that talks to a network.

use std::process::Command;

#[test]
fn python_unit_tests_pass() {
    let scripts = e2e::workspace_root().join("scripts");
    let out = Command::new("python3")
        .args([
            "-m",
            "unittest",
            "discover",
            "-s",
            "bench_aws",
            "-t",
            ".",
            "-p",
            "test_*.py",
        ])
        .current_dir(&scripts)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3 runs");
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}");
    // A discovery that found nothing would pass too: the parser's tests must have run.
    let ran: usize = report
        .lines()
        .find_map(|l| l.strip_prefix("Ran ")?.split(' ').next()?.parse().ok())
        .unwrap_or(0);
    assert!(ran >= 30, "only {ran} tests ran:\n{report}");
}
