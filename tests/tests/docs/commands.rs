//! Every command the docs show (their `sh` blocks) exists as shown: `make` targets are the
//! Makefile's, `cargo run`/`cargo test` name packages, binaries and tests that exist, scripts
//! are in the repository, tools under `target/` are the ones the scripts install there, and
//! any other program is one of the system tools listed here.

use std::collections::BTreeSet;

use crate::markdown::{fences, prose, root, written_docs};

/// Programs the docs may call that the repository does not provide: the system's, the AWS
/// CLI (`make services` installs it), cargo-lambda's (`make zip`), and shell built-ins.
const TOOLS: [&str; 17] = [
    "aws", "break", "cat", "curl", "echo", "export", "grep", "jq", "kill", "openssl", "printf",
    "read", "sed", "source", "unzip", "[", "git",
];
/// Shell words that start a construct rather than name a program.
const KEYWORDS: [&str; 6] = ["while", "do", "done", "if", "then", "fi"];

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn makefile_targets() -> BTreeSet<String> {
    read("Makefile")
        .lines()
        .filter_map(|l| l.split_once(':').map(|(t, _)| t))
        .filter(|t| {
            let name = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
            !t.is_empty() && t.chars().all(name)
        })
        .map(String::from)
        .collect()
}

/// `name = "…"` of each `[[section]]` of a Cargo.toml.
fn cargo_targets(manifest: &str, section: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut inside = false;
    for line in read(manifest).lines() {
        if line.starts_with('[') {
            inside = line.trim() == format!("[[{section}]]");
        } else if let Some(name) = line.strip_prefix("name = \"").filter(|_| inside) {
            out.insert(name.trim_end_matches('"').to_string());
        }
    }
    out
}

/// Whether `text` names the directory `dir` itself (not `dir-something`).
fn names_dir(text: &str, dir: &str) -> bool {
    text.match_indices(dir).any(|(at, _)| {
        let next = text[at + dir.len()..].chars().next();
        !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

/// What is wrong with one simple command (words, no operators), if anything.
fn check(words: &[&str]) -> Option<String> {
    // Skip `VAR=value` prefixes and shell keywords.
    let words: Vec<&str> = words
        .iter()
        .copied()
        .skip_while(|w| {
            // Leftovers of quoting and redirections (`"`, `>file`) are not programs either.
            let starts_a_name =
                w.starts_with(|c: char| c.is_ascii_alphanumeric() || "/[_".contains(c));
            KEYWORDS.contains(w) || (w.contains('=') && !w.starts_with('-')) || !starts_a_name
        })
        .collect();
    let (&program, args) = words.split_first()?;
    let flag = |name: &str| {
        args.iter()
            .position(|a| *a == name)
            .and_then(|i| args.get(i + 1))
            .copied()
    };
    match program {
        "make" => {
            let targets = makefile_targets();
            let asked: Vec<&&str> = args.iter().filter(|a| !a.contains('=')).collect();
            let missing: Vec<String> = asked
                .iter()
                .filter(|t| !targets.contains(***t))
                .map(|t| t.to_string())
                .collect();
            (!missing.is_empty()).then(|| format!("no make target {missing:?}"))
        }
        "cargo" => match args.first().copied() {
            Some("run") => {
                let package = flag("-p")?;
                let bins = cargo_targets(&format!("{package}/Cargo.toml"), "bin");
                match flag("--bin") {
                    Some(bin) => (!bins.contains(bin))
                        .then(|| format!("package {package} has no binary {bin}")),
                    // Cargo cannot choose among several without a default-run.
                    None => (bins.len() > 1).then(|| {
                        format!(
                            "package {package} has {} binaries: say which with --bin",
                            bins.len()
                        )
                    }),
                }
            }
            Some("test") => {
                let test = flag("--test")?;
                let tests = cargo_targets("tests/Cargo.toml", "test");
                (!tests.contains(test)).then(|| format!("no test target {test}"))
            }
            Some("lambda" | "doc" | "build" | "fmt" | "clippy") => None,
            other => Some(format!(
                "cargo {other:?} is not a subcommand the docs should need"
            )),
        },
        "python3" => {
            let script = args.first()?;
            (!root().join(script).is_file()).then(|| format!("{script} does not exist"))
        }
        path if path.starts_with("scripts/") => {
            (!root().join(path).is_file()).then(|| format!("{path} does not exist"))
        }
        // A tool a script installs under target/: the script names its directory.
        path if path.starts_with("target/") => {
            let dir: Vec<&str> = path.split('/').take(3).collect();
            let dir = dir.join("/");
            let scripts = std::fs::read_dir(root().join("scripts")).unwrap();
            let named = scripts
                .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                .any(|text| names_dir(&text, &dir));
            (!named).then(|| format!("no script installs {dir}"))
        }
        // The bootstrap unzipped just before, in the local run.
        path if path.starts_with("/tmp/") => None,
        tool if TOOLS.contains(&tool) => None,
        other => Some(format!("{other}: not a make target, script or known tool")),
    }
}

/// The simple commands of a shell block: continuation lines joined, comments dropped, split
/// at `&&`, `||`, `|`, `;`, `&`, `(`, `)` outside quotes and at `$(` outside single quotes.
fn commands(body: &[String]) -> Vec<Vec<String>> {
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in body {
        let line = line.trim_end();
        match line.strip_suffix('\\') {
            Some(start) => current.push_str(start),
            None => {
                current.push_str(line);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    let mut out = Vec::new();
    for line in joined {
        let (mut single, mut double) = (false, false);
        let mut part = String::new();
        let mut parts = Vec::new();
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let (c, quoted) = (chars[i], single || double);
            i += 1;
            match c {
                '\'' if !double => single = !single,
                '"' if !single => double = !double,
                '#' if !quoted && (i == 1 || chars[i - 2] == ' ') => break,
                '$' if !single && chars.get(i) == Some(&'(') => {
                    i += 1;
                    parts.push(std::mem::take(&mut part));
                    continue;
                }
                '&' | '|' | ';' | '(' | ')' if !quoted => {
                    parts.push(std::mem::take(&mut part));
                    continue;
                }
                ')' if double => {
                    parts.push(std::mem::take(&mut part));
                    continue;
                }
                _ => {}
            }
            part.push(c);
        }
        parts.push(part);
        for part in parts {
            let words: Vec<String> = part.split_whitespace().map(String::from).collect();
            if !words.is_empty() {
                out.push(words);
            }
        }
    }
    out
}

#[test]
fn every_command_shown_exists() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for doc in written_docs() {
        for fence in fences(&doc.text) {
            if !matches!(fence.lang.as_str(), "sh" | "bash" | "shell") {
                continue;
            }
            for words in commands(&fence.body) {
                checked += 1;
                let words: Vec<&str> = words.iter().map(String::as_str).collect();
                if let Some(why) = check(&words) {
                    let at = format!("{}:{}", doc.path.display(), fence.start + 1);
                    problems.push(format!("{at}: `{}`: {why}", words.join(" ")));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked > 20, "only {checked} commands found");
}

#[test]
fn every_make_and_cargo_command_in_the_text_exists() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for doc in written_docs() {
        for (i, line) in prose(&doc.text) {
            // Code spans: the odd pieces between backticks.
            for span in line.split('`').skip(1).step_by(2) {
                for words in commands(&[span.to_string()]) {
                    let words: Vec<&str> = words.iter().map(String::as_str).collect();
                    let program = words.iter().find(|w| !w.contains('='));
                    if !matches!(program, Some(&"make" | &"cargo")) {
                        continue;
                    }
                    checked += 1;
                    if let Some(why) = check(&words) {
                        let at = format!("{}:{}", doc.path.display(), i + 1);
                        problems.push(format!("{at}: `{span}`: {why}"));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked > 20, "only {checked} commands found in the text");
}

#[test]
fn a_missing_target_binary_or_script_is_caught() {
    assert_eq!(check(&["make", "zip"]), None);
    assert_eq!(check(&["make", "bench-aws", "STACK=s"]), None);
    assert!(check(&["make", "zips"]).is_some());
    assert_eq!(
        check(&["cargo", "run", "-p", "bench", "--bin", "bench", "--", "init"]),
        None
    );
    assert!(check(&["cargo", "run", "-p", "bench", "--bin", "benchmark"]).is_some());
    assert!(check(&["cargo", "run", "-p", "bench", "--", "aws-report", "d"]).is_some());
    assert_eq!(check(&["make", "e2e"]), None);
    assert!(check(&["cargo", "test", "-p", "e2e", "--test", "no_such_test"]).is_some());
    assert!(check(&["scripts/no-such-script"]).is_some());
    assert_eq!(check(&["target/tools/sam-cli/bin/sam", "deploy"]), None);
    assert!(check(&["target/tools/sam/bin/sam", "deploy"]).is_some());
    assert!(
        check(&["sam", "deploy"]).is_some(),
        "sam is not on PATH after make deploy"
    );
    let split = |line: &str| commands(&[line.to_string()]);
    assert_eq!(
        split("A=1 make services && curl -s x | jq . # note"),
        [
            vec!["A=1", "make", "services"],
            vec!["curl", "-s", "x"],
            vec!["jq", "."]
        ]
    );
    assert_eq!(
        split("source <(grep -E '^(A|B)=' f | sed 's/^/x /')"),
        [
            vec!["source", "<"],
            vec!["grep", "-E", "'^(A|B)='", "f"],
            vec!["sed", "'s/^/x", "/'"]
        ]
    );
    assert_eq!(
        split("sig=$(printf '%s' \"$(cat s)\")"),
        [
            vec!["sig="],
            vec!["printf", "'%s'", "\""],
            vec!["cat", "s"],
            vec!["\""]
        ]
    );
}
