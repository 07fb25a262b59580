//! Every relative link in the docs points at a file or directory that exists, and every
//! anchor at a heading of that file (or, in a source file, at lines it has: `#L10-L20`).

use crate::markdown::{all_docs, anchors, links, root, Doc};

/// What is wrong with `target`, a link in `doc`, if anything.
fn broken(doc: &Doc, target: &str) -> Option<String> {
    if target.contains("://") || target.starts_with("mailto:") {
        return None; // not this repository's
    }
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (target, None),
    };
    let file = match path {
        "" => doc.path.clone(),
        path => doc.resolve(path),
    };
    let on_disk = root().join(&file);
    if !on_disk.exists() {
        return Some(format!("{} does not exist", file.display()));
    }
    let anchor = anchor?;
    let text = std::fs::read_to_string(&on_disk).ok()?;
    if file.extension().is_some_and(|e| e == "md") {
        return (!anchors(&text).contains(anchor))
            .then(|| format!("{} has no heading for #{anchor}", file.display()));
    }
    // Lines of a source file: L<n> or L<n>-L<m>, within the file.
    let lines = text.lines().count();
    let in_file = anchor.split('-').all(|part| {
        part.strip_prefix('L')
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| (1..=lines).contains(&n))
    });
    (!in_file).then(|| format!("{} has no lines #{anchor} ({lines} lines)", file.display()))
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for doc in all_docs() {
        for (line, target) in links(&doc.text) {
            checked += 1;
            if let Some(why) = broken(&doc, &target) {
                problems.push(format!(
                    "{}:{}: ({target}): {why}",
                    doc.path.display(),
                    line + 1
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
    assert!(
        checked > 50,
        "only {checked} links found: is the parser reading the docs?"
    );
}

#[test]
fn a_missing_file_or_heading_is_caught() {
    let doc = Doc {
        path: "docs/x.md".into(),
        text: String::new(),
    };
    assert_eq!(broken(&doc, "../README.md"), None);
    assert_eq!(broken(&doc, "https://docs.aws.amazon.com/lambda/"), None);
    assert!(broken(&doc, "../README.md#no-such-heading").is_some());
    assert!(broken(&doc, "no-such-file.md").is_some());
    assert!(broken(&doc, "../Cargo.toml#L1-L99999").is_some());
    assert_eq!(broken(&doc, "../Cargo.toml#L1-L2"), None);
}

#[test]
fn anchors_are_githubs() {
    let text = "# Lambda container reuse in Rust\n## Zip sizes (bytes)\n## `make bench-aws`: the \
                run\n## [Deploy](x.md), then ×2 – done\n## Zip sizes (bytes)\n";
    let got = anchors(text);
    for want in [
        "lambda-container-reuse-in-rust",
        "zip-sizes-bytes",
        "make-bench-aws-the-run",
        "deploy-then-2--done",
        "zip-sizes-bytes-1",
    ] {
        assert!(got.contains(want), "{want} not in {got:?}");
    }
}
