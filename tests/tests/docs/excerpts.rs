//! Every Rust and TOML block in the docs is an excerpt of a file in the repository, marked
//! `<!-- excerpt: path -->` on the line before its fence, and is that file's text: its lines
//! appear in the file in order, each run of them contiguous; a line `// …` (Rust) or `# …`
//! (TOML) stands for lines left out. At most 15 lines, so that a pattern reads on a screen.

use crate::markdown::{fences, root, written_docs};

const MAX_LINES: usize = 15;

/// Whether `line` stands for lines left out of an excerpt.
fn is_elision(line: &str) -> bool {
    matches!(line.trim(), "// …" | "# …")
}

/// Checks `excerpt` against `source`: `Err` names the first run that is not in it.
fn matches_source(source: &str, excerpt: &[String]) -> Result<(), String> {
    let source: Vec<&str> = source.lines().map(str::trim_end).collect();
    let mut from = 0;
    let runs = excerpt
        .split(|l| is_elision(l))
        .filter(|run| !run.is_empty());
    for run in runs {
        let run: Vec<&str> = run.iter().map(|l| l.trim_end()).collect();
        let found = (from..=source.len().saturating_sub(run.len()))
            .filter(|at| at + run.len() <= source.len())
            .find(|&at| source[at..at + run.len()] == run[..]);
        match found {
            Some(at) => from = at + run.len(),
            None => {
                return Err(format!(
                    "these lines are not in the source (in this order, after the ones before):\n{}",
                    run.join("\n")
                ))
            }
        }
    }
    Ok(())
}

#[test]
fn every_excerpt_is_its_source_files_text() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for doc in written_docs() {
        let lines: Vec<&str> = doc.text.lines().collect();
        for fence in fences(&doc.text) {
            if !matches!(fence.lang.as_str(), "rust" | "toml") {
                continue;
            }
            let at = format!("{}:{}", doc.path.display(), fence.start + 1);
            let marker = fence.start.checked_sub(1).map(|i| lines[i].trim());
            let Some(source) = marker
                .and_then(|m| m.strip_prefix("<!-- excerpt: "))
                .and_then(|m| m.strip_suffix(" -->"))
            else {
                problems.push(format!(
                    "{at}: a {} block without <!-- excerpt: path -->",
                    fence.lang
                ));
                continue;
            };
            checked += 1;
            if fence.body.len() > MAX_LINES {
                problems.push(format!(
                    "{at}: {} lines, more than {MAX_LINES}",
                    fence.body.len()
                ));
            }
            match std::fs::read_to_string(root().join(source)) {
                Err(err) => problems.push(format!("{at}: {source}: {err}")),
                Ok(text) => {
                    if let Err(why) = matches_source(&text, &fence.body) {
                        problems.push(format!("{at}: {source}: {why}"));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    assert!(
        checked >= 4,
        "only {checked} excerpts: the README shows three patterns and the profile"
    );
}

#[test]
fn an_edited_line_or_a_reordering_is_caught() {
    let source = "fn main() {\n    let a = 1;\n    let b = 2;\n    run(a, b);\n}\n";
    let lines = |s: &[&str]| s.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    assert!(matches_source(source, &lines(&["    let a = 1;", "    let b = 2;"])).is_ok());
    assert!(matches_source(source, &lines(&["fn main() {", "// …", "    run(a, b);"])).is_ok());
    assert!(matches_source(source, &lines(&["    let a = 1;", "    run(a, b);"])).is_err());
    assert!(matches_source(
        source,
        &lines(&["    let b = 2;", "// …", "    let a = 1;"])
    )
    .is_err());
    assert!(matches_source(source, &lines(&["    let a = 10;"])).is_err());
}
