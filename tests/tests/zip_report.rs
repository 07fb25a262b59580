//! `make zip`'s checks (scripts/zip-report.py) on small executables built here with the C
//! compiler: a bootstrap must be position-independent and need only glibc's libraries.
//! No services needed: part of `make test`.

use std::path::Path;
use std::process::Command;

use e2e::workspace_root;

/// Builds `main.c` with `flags` into `<dir>/<function>/bootstrap.zip`.
fn zipped(dir: &Path, function: &str, flags: &[&str]) {
    let out = dir.join(function);
    std::fs::create_dir_all(&out).unwrap();
    let source = dir.join("main.c");
    std::fs::write(
        &source,
        "#include <math.h>\nint main(int c, char **v) { return (int)pow(c, 2.5) - 1; }\n",
    )
    .unwrap();
    let built = Command::new("cc")
        .args(flags)
        .arg("-o")
        .arg(out.join("bootstrap"))
        .arg(&source)
        .arg("-lm")
        .status()
        .expect("cc");
    assert!(built.success());
    let zip = "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z: z.write(sys.argv[2], 'bootstrap')";
    let zipped = Command::new("python3")
        .args(["-c", zip])
        .arg(out.join("bootstrap.zip"))
        .arg(out.join("bootstrap"))
        .status()
        .unwrap();
    assert!(zipped.success());
    std::fs::remove_file(out.join("bootstrap")).unwrap();
}

/// What zip-report.py says of the zips under `dir`: (its table, its failures).
fn report(dir: &Path) -> (String, String) {
    let out = Command::new("python3")
        .arg(workspace_root().join("scripts/zip-report.py"))
        .arg(dir)
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (text(&out.stdout), text(&out.stderr))
}

#[test]
fn a_bootstrap_linked_at_a_fixed_address_fails_and_one_needing_only_glibc_passes() {
    let dir = workspace_root().join(format!("target/zip-report-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    zipped(&dir, "fixed", &["-no-pie"]);
    zipped(&dir, "pie", &["-pie", "-fPIE"]);
    zipped(
        &dir,
        "extra-library",
        &["-pie", "-fPIE", "-Wl,--no-as-needed", "-lstdc++"],
    );
    let (table, failures) = report(&dir);
    std::fs::remove_dir_all(&dir).unwrap();

    assert!(table.contains("PIE"), "{table}");
    let row = |name: &str| {
        let row = table.lines().find(|l| l.starts_with(name));
        row.unwrap_or_else(|| panic!("no row for {name}:\n{table}"))
            .to_string()
    };
    assert!(row("fixed ").contains(" no "), "{}", row("fixed "));
    assert!(row("pie ").contains(" yes "), "{}", row("pie "));
    let failed = |name: &str| {
        failures
            .lines()
            .filter(|l| l.starts_with(&format!("FAIL: {name}:")))
            .collect::<Vec<_>>()
    };
    let fixed = failed("fixed");
    assert_eq!(fixed.len(), 1, "{failures}");
    assert!(fixed[0].contains("not position-independent"), "{failures}");
    // It needs libm.so.6 (pow): glibc's, so nothing to say.
    assert!(failed("pie").is_empty(), "{failures}");
    let extra = failed("extra-library");
    assert_eq!(extra.len(), 1, "{failures}");
    assert!(extra[0].contains("libstdc++.so.6"), "{failures}");
}
