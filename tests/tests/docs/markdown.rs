//! Just enough Markdown for the docs tests: the files, their fenced blocks, links, headings
//! and marked blocks, read line by line (no Markdown crate: the docs use a small subset).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The workspace root (this crate lives in `tests/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

/// A Markdown file of the repository: its path from the root and its text.
pub struct Doc {
    pub path: PathBuf,
    pub text: String,
}

impl Doc {
    pub fn read(path: &str) -> Doc {
        let text = std::fs::read_to_string(root().join(path))
            .unwrap_or_else(|err| panic!("{path}: {err}"));
        Doc {
            path: path.into(),
            text,
        }
    }

    /// Where `target` (a relative link in this file) points, from the root.
    pub fn resolve(&self, target: &str) -> PathBuf {
        let dir = self.path.parent().unwrap_or(Path::new(""));
        normalize(&dir.join(target))
    }
}

/// `a/b/../c` as `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// README.md and every Markdown file under docs/, generated ones included.
pub fn all_docs() -> Vec<Doc> {
    let mut paths = vec!["README.md".to_string()];
    let mut dirs = vec![root().join("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                let relative = path.strip_prefix(root()).unwrap();
                paths.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    paths.sort();
    paths.iter().map(|p| Doc::read(p)).collect()
}

/// The docs written by hand: all but what `make bench` and the bench-aws sample generate.
pub fn written_docs() -> Vec<Doc> {
    all_docs()
        .into_iter()
        .filter(|d| {
            d.path != Path::new("docs/benchmarks.md")
                && !d.path.starts_with("docs/bench-aws-sample")
        })
        .collect()
}

/// A fenced code block: its language, the index of its opening line, its lines.
pub struct Fence {
    pub lang: String,
    pub start: usize,
    pub body: Vec<String>,
}

pub fn fences(text: &str) -> Vec<Fence> {
    let mut out = Vec::new();
    let mut open: Option<Fence> = None;
    for (i, line) in text.lines().enumerate() {
        if !line.trim_start().starts_with("```") {
            if let Some(fence) = open.as_mut() {
                fence.body.push(line.to_string());
            }
            continue;
        }
        match open.take() {
            Some(fence) => out.push(fence),
            None => {
                open = Some(Fence {
                    lang: line.trim_start().trim_start_matches('`').trim().to_string(),
                    start: i,
                    body: Vec::new(),
                })
            }
        }
    }
    assert!(open.is_none(), "a code fence is never closed");
    out
}

/// The lines outside fenced code blocks, with their index.
pub fn prose(text: &str) -> Vec<(usize, &str)> {
    let mut inside = false;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            inside = !inside;
        } else if !inside {
            out.push((i, line));
        }
    }
    out
}

/// The line without its inline code spans' contents (a link's text may be code).
fn without_code(line: &str) -> String {
    let mut out = String::new();
    for (i, part) in line.split('`').enumerate() {
        if i % 2 == 0 {
            out.push_str(part);
        }
    }
    out
}

/// Every link and image target in the prose: `[text](target)`, as (line index, target).
pub fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in prose(text) {
        let line = without_code(line);
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            out.push((i, after[..end].to_string()));
            rest = &after[end..];
        }
    }
    out
}

/// The anchors GitHub gives the file's headings: lower case, punctuation dropped, spaces as
/// hyphens, `-1`, `-2` for repeats.
pub fn anchors(text: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    for (_, line) in prose(text) {
        let Some(title) = line.strip_prefix('#') else {
            continue;
        };
        let title = title.trim_start_matches('#').trim();
        // A link in a heading counts by its text only.
        let mut text = String::new();
        let mut rest = title;
        while let Some(open) = rest.find('[') {
            match rest[open..].find("](") {
                Some(mid) => {
                    text.push_str(&rest[..open]);
                    text.push_str(&rest[open + 1..open + mid]);
                    let after = &rest[open + mid + 2..];
                    rest = &after[after.find(')').map_or(after.len(), |e| e + 1)..];
                }
                None => break,
            }
        }
        text.push_str(rest);
        let slug: String = text
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let mut unique = slug.clone();
        let mut n = 0;
        while seen.contains(&unique) {
            n += 1;
            unique = format!("{slug}-{n}");
        }
        seen.insert(unique);
    }
    seen
}

/// The text between `<!-- {open} -->` and the next `<!-- {close} -->` lines, each as
/// (argument after `open`, index of the opening line, index of the closing line).
pub fn marked_blocks(text: &str, open: &str, close: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        if let Some(arg) = line
            .strip_prefix("<!-- ")
            .and_then(|l| l.strip_suffix(" -->"))
            .and_then(|l| l.strip_prefix(open))
        {
            let end = (i + 1..lines.len())
                .find(|&j| lines[j].trim() == format!("<!-- {close} -->"))
                .unwrap_or_else(|| {
                    panic!("<!-- {open}{arg} --> at line {} is never closed", i + 1)
                });
            out.push((arg.trim().to_string(), i, end));
            i = end;
        }
        i += 1;
    }
    out
}
