//! The reference tables name what the code and the template have: docs/deploy.md's
//! parameter table every parameter of template.yaml and no other; docs/configuration.md
//! every environment variable the functions' code names; the README the workspace's MSRV.

use std::collections::BTreeSet;

use crate::markdown::{root, Doc};

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The names under `Parameters:` in template.yaml (two-space keys up to the next section).
fn template_parameters() -> BTreeSet<String> {
    let template = read("template.yaml");
    let mut inside = false;
    let mut out = BTreeSet::new();
    for line in template.lines() {
        if !line.starts_with(' ') && !line.starts_with('#') && !line.is_empty() {
            inside = line == "Parameters:";
        } else if let Some(key) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':')) {
            if inside && key.chars().all(|c| c.is_ascii_alphanumeric()) {
                out.insert(key.to_string());
            }
        }
    }
    out
}

/// The backticked names in the first column of the table headed `| parameter |`.
fn documented_parameters(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("| parameter |") {
            inside = true;
            continue;
        }
        if inside && !line.starts_with('|') {
            break;
        }
        let Some(first) = line.split('|').nth(1).filter(|_| inside) else {
            continue;
        };
        for (i, part) in first.split('`').enumerate() {
            if i % 2 == 1 {
                out.insert(part.to_string());
            }
        }
    }
    out
}

#[test]
fn the_parameter_table_lists_every_parameter_of_the_template() {
    let template = template_parameters();
    assert!(template.len() > 30, "read {} parameters", template.len());
    let documented = documented_parameters(&Doc::read("docs/deploy.md").text);
    let missing: Vec<_> = template.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&template).collect();
    assert!(
        missing.is_empty(),
        "docs/deploy.md's parameter table lacks {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "docs/deploy.md lists parameters the template lacks: {unknown:?}"
    );
}

/// Every `"UPPER_CASE"` literal in the functions' code (bins/src, shared/src) outside its
/// unit tests: the environment variables they read (and the few constants spelled so).
fn variables_in_code() -> BTreeSet<String> {
    let mut files = Vec::new();
    let mut dirs = vec![root().join("bins/src"), root().join("shared/src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            match path.is_dir() {
                true => dirs.push(path),
                false => files.push(path),
            }
        }
    }
    let mut out = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (i, part) in code.split('"').enumerate() {
            let name = i % 2 == 1
                && part.contains('_')
                && !part.ends_with('_')
                && part.starts_with(|c: char| c.is_ascii_uppercase())
                && part
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if name {
                out.insert(part.to_string());
            }
        }
    }
    out
}

#[test]
fn the_configuration_reference_names_every_variable_the_code_reads() {
    let variables = variables_in_code();
    for expected in [
        "DATABASE_URL",
        "DB_MAX_CONNECTIONS",
        "ENCRYPTED_KEY",
        "SSL_CERT_FILE",
    ] {
        assert!(
            variables.contains(expected),
            "{expected} not found in the code: {variables:?}"
        );
    }
    let reference = Doc::read("docs/configuration.md").text;
    let missing: Vec<_> = variables
        .iter()
        .filter(|v| !reference.contains(&format!("`{v}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/configuration.md does not name {missing:?}"
    );
}

#[test]
fn the_readme_states_the_workspaces_msrv() {
    let manifest = read("Cargo.toml");
    let msrv = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .map(|v| v.trim_end_matches('"'))
        .expect("the workspace's rust-version");
    let readme = Doc::read("README.md").text;
    assert!(
        readme.contains(&format!("Rust {msrv} or newer")),
        "README.md should say \"Rust {msrv} or newer\""
    );
}
