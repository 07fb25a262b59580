//! The README stays a front page: at most 12 KB, and the set-up commands within its first
//! 40 lines, so that a newcomer reaches a runnable command before the depth starts.

use crate::markdown::Doc;

const MAX_BYTES: usize = 12 * 1024;
const SET_UP_BY_LINE: usize = 40;

#[test]
fn the_readme_is_short_and_starts_with_the_set_up() {
    let readme = Doc::read("README.md").text;
    assert!(
        readme.len() <= MAX_BYTES,
        "README.md is {} bytes, more than {MAX_BYTES}: move the depth to docs/",
        readme.len()
    );
    let first: Vec<&str> = readme.lines().take(SET_UP_BY_LINE).collect();
    for command in ["make zip", "make test"] {
        assert!(
            first.iter().any(|l| l.starts_with(command)),
            "`{command}` is not within the README's first {SET_UP_BY_LINE} lines"
        );
    }
}
