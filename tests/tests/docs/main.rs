//! The docs are true to the repository, checked by `make test` (no services needed):
//! every relative link and anchor resolves (`links`), every code excerpt is its source
//! file's text (`excerpts`), every benchmark figure is the committed report's (`figures`),
//! every command shown exists (`commands`), and the reference tables name what the code
//! and the template have (`reference`); the README stays a front page (`front_page`).

mod commands;
mod excerpts;
mod figures;
mod front_page;
mod links;
mod markdown;
mod reference;
