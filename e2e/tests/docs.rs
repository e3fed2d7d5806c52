//! The documents a reader follows stay true to the code: every file they name exists, every
//! test they name exists where they say, and every `cargo test` command in the fork guide and
//! the tutorial names a test of the suite (which CI runs). Drift is a failing test, not a
//! review finding.

use std::path::{Path, PathBuf};

/// The workspace root (this package is `e2e/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e sits in the workspace")
        .to_owned()
}

/// The documents checked.
const DOCS: &[&str] = &[
    "README.md",
    "ARCHITECTURE.md",
    "SECURITY.md",
    "docs/FORKING.md",
    "docs/TUTORIAL.md",
    "docs/BENCHMARKS.md",
    "docs/DEPLOY.md",
];

/// Top-level directories whose files documents point at (paths elsewhere, like `target/` or
/// `data/`, are made at run time).
const SOURCE_DIRS: &[&str] = &[
    "shared",
    "origin",
    "edge",
    "frontend",
    "e2e",
    "xtask",
    "toolchain",
    "docs",
    ".ci",
];

fn read(doc: &str) -> String {
    std::fs::read_to_string(root().join(doc)).unwrap_or_else(|err| panic!("{doc}: {err}"))
}

/// `a/{b,c}.rs` → `a/b.rs`, `a/c.rs` (one brace group, as the documents write them).
fn expand(path: &str) -> Vec<String> {
    match (path.find('{'), path.find('}')) {
        (Some(open), Some(close)) if open < close => path[open + 1..close]
            .split(',')
            .map(|alt| format!("{}{}{}", &path[..open], alt, &path[close + 1..]))
            .collect(),
        _ => vec![path.to_owned()],
    }
}

/// Every `code span` of a document.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, span)| span)
        .collect()
}

/// Every relative markdown link target (`[text](target)`), without its `#fragment`.
fn links(text: &str) -> Vec<&str> {
    text.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &text[at + 2..];
            let target = &rest[..rest.find(')')?];
            let target = target.split('#').next().unwrap_or("");
            (!target.is_empty() && !target.contains("://") && !target.starts_with("mailto:"))
                .then_some(target)
        })
        .collect()
}

/// A repository path named in a code span, with the item after `::` if any
/// (`e2e/tests/tails.rs::a_slow_sse_reader_gets_the_tail_of_a_burst`).
fn named_path(span: &str) -> Option<(&str, Option<&str>)> {
    let (path, item) = match span.split_once("::") {
        Some((path, item)) => (path, Some(item)),
        None => (span, None),
    };
    let top = path.split('/').next()?;
    let is_file = [".rs", ".toml", ".md", ".sql", ".yml", ".css", ".html"]
        .iter()
        .any(|ext| path.ends_with(ext));
    (path.contains('/') && is_file && !path.contains(' ') && SOURCE_DIRS.contains(&top))
        .then_some((path, item))
}

#[test]
fn files_and_tests_the_documents_name_exist() {
    let root = root();
    let mut missing = Vec::new();
    for doc in DOCS {
        let text = read(doc);
        let dir = Path::new(doc).parent().unwrap_or(Path::new(""));
        for link in links(&text) {
            if !root.join(dir).join(link).exists() {
                missing.push(format!("{doc}: link to {link}"));
            }
        }
        for span in code_spans(&text) {
            let Some((path, item)) = named_path(span) else {
                continue;
            };
            for path in expand(path) {
                let Ok(source) = std::fs::read_to_string(root.join(&path)) else {
                    missing.push(format!("{doc}: `{path}`"));
                    continue;
                };
                // `file.rs::name`: the file defines `name` (a function, type or module).
                if let Some(item) = item {
                    let name = item.split("::").last().unwrap_or(item);
                    if !source.contains(&format!(" {name}(")) && !defines(&source, name) {
                        missing.push(format!("{doc}: `{path}::{item}`"));
                    }
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "documents name what is not there:\n{}",
        missing.join("\n")
    );
}

fn defines(source: &str, name: &str) -> bool {
    ["fn", "struct", "enum", "trait", "mod", "const", "type"]
        .iter()
        .any(|kind| source.contains(&format!("{kind} {name}")))
}

/// A `cargo test` command of a guide, as the parts that say where the test is.
#[derive(Debug)]
struct TestCommand {
    line: String,
    package: String,
    /// `--test NAME`; `None`: the package's library tests (`--lib`).
    target: Option<String>,
    filter: Option<String>,
}

fn test_commands(doc: &str) -> Vec<TestCommand> {
    let mut commands = Vec::new();
    let mut in_shell = false;
    for line in read(doc).lines() {
        let line = line.trim();
        if line.starts_with("```") {
            in_shell = line == "```sh";
            continue;
        }
        if !in_shell || !line.starts_with("cargo test") {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let after = |flag: &str| {
            words
                .iter()
                .position(|w| *w == flag)
                .and_then(|i| words.get(i + 1))
                .map(|w| w.to_string())
        };
        let filter = words
            .iter()
            .skip(2)
            .enumerate()
            .find(|(i, w)| {
                !w.starts_with('-')
                    && !matches!(words[i + 1], "-p" | "--test" | "--target" | "--features")
            })
            .map(|(_, w)| w.to_string());
        commands.push(TestCommand {
            line: line.to_owned(),
            package: after("-p").unwrap_or_else(|| panic!("{doc}: `{line}` names no package")),
            target: after("--test"),
            filter,
        });
    }
    commands
}

#[test]
fn every_command_of_the_guides_names_a_test_of_the_suite() {
    let root = root();
    for doc in ["docs/FORKING.md", "docs/TUTORIAL.md"] {
        let commands = test_commands(doc);
        assert!(
            commands.len() >= 3,
            "{doc} has {} test commands",
            commands.len()
        );
        for command in commands {
            let sources: Vec<PathBuf> = match &command.target {
                Some(target) => vec![
                    root.join(&command.package)
                        .join(format!("tests/{target}.rs")),
                ],
                None => rust_files(&root.join(&command.package).join("src")),
            };
            let text: String = sources
                .iter()
                .map(|path| {
                    std::fs::read_to_string(path).unwrap_or_else(|err| {
                        panic!("{doc}: `{}`: {}: {err}", command.line, path.display())
                    })
                })
                .collect();
            if let Some(filter) = &command.filter {
                let name = filter.rsplit("::").next().unwrap_or(filter);
                assert!(
                    text.contains(&format!("fn {name}")),
                    "{doc}: `{}` names no test `{name}` in {}",
                    command.line,
                    sources
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
    }
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)
        .expect("a source directory")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// The fork guide's promise: a new kind of channel touches few existing files. The files it
/// lists as touched are the ones the dashboard (the worked example) touched.
#[test]
fn the_fork_guide_lists_the_files_the_dashboard_touched() {
    let text = read("docs/FORKING.md");
    let section = text
        .split("## Files touched")
        .nth(1)
        .expect("docs/FORKING.md has a `## Files touched` section");
    let section = section.split("\n## ").next().unwrap_or(section);
    // The table's first column: one existing file per row.
    let listed: Vec<&str> = section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .flat_map(|line| code_spans(line).into_iter().take(1))
        .filter_map(named_path)
        .map(|(path, _)| path)
        .collect();
    // Five, and the settings file for a publisher that has settings.
    assert!(
        listed.len() <= 6,
        "the guide lists {} files: {listed:?}",
        listed.len()
    );
    for path in &listed {
        let source = std::fs::read_to_string(root().join(path)).expect("a listed file");
        assert!(
            source.to_lowercase().contains("dashboard"),
            "{path} is listed as touched by the dashboard but never mentions it"
        );
    }
    // And no other existing file outside the dashboard's own mentions it, but for tests and docs.
    let own = [
        "shared/src/dashboard.rs",
        "origin/src/dashboard.rs",
        "frontend/src/pages/dashboard.rs",
    ];
    let root = root();
    let mut unlisted = Vec::new();
    for krate in ["shared", "origin", "edge", "frontend"] {
        for file in rust_files(&root.join(krate).join("src")) {
            let rel = file
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if own.contains(&rel.as_str()) || listed.contains(&rel.as_str()) {
                continue;
            }
            let source = std::fs::read_to_string(&file).unwrap();
            // Code, not comments: a doc line may name the dashboard as an example.
            let code_mentions = source
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .any(|l| l.to_lowercase().contains("dashboard"));
            if code_mentions {
                unlisted.push(rel);
            }
        }
    }
    assert!(
        unlisted.is_empty(),
        "the dashboard also touches {unlisted:?}: list them in docs/FORKING.md"
    );
}
