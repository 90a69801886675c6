//! The harness's modules depend one way: no two top-level modules (`run`, `mesh`,
//! `config`, `transport`, ...) name each other, so each can be read, and changed, with
//! only what it uses in mind. Read from the sources: every `crate::<module>` a module's
//! files mention, outside comments.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The `.rs` files of top-level module `name`: `name.rs` and everything under `name/`.
fn files_of(src: &Path, name: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let file = src.join(format!("{name}.rs"));
    if file.is_file() {
        files.push(file);
    }
    let mut dirs = vec![src.join(name)];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

/// The modules `crate::` paths in `text` name, comments left out.
fn named_modules(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name.is_empty() {
                // `crate::{a, b}`: every name in the braces.
                if let Some(group) = rest.strip_prefix('{') {
                    let group = group.split('}').next().unwrap_or("");
                    for item in group.split(',') {
                        let item = item.trim().split("::").next().unwrap_or("").trim();
                        if !item.is_empty() {
                            found.insert(item.to_owned());
                        }
                    }
                }
            } else {
                found.insert(name);
            }
        }
    }
    found
}

#[test]
fn no_two_harness_modules_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let modules: Vec<String> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').to_owned())
        .collect();
    assert!(modules.len() > 10, "{modules:?}");
    let mut uses: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for module in &modules {
        let files = files_of(&src, module);
        assert!(!files.is_empty(), "no source for module {module}");
        let mut named = BTreeSet::new();
        for file in files {
            named.extend(named_modules(&std::fs::read_to_string(file).unwrap()));
        }
        named.remove(module);
        uses.insert(module, named);
    }
    let mut both_ways = Vec::new();
    for (a, named) in &uses {
        for b in named {
            if a < &b.as_str() && uses.get(b.as_str()).is_some_and(|n| n.contains(*a)) {
                both_ways.push(format!("{a} <-> {b}"));
            }
        }
    }
    assert_eq!(
        both_ways,
        Vec::<String>::new(),
        "modules importing each other"
    );
}

#[test]
fn the_reader_sees_grouped_and_plain_paths_but_not_comments() {
    let text =
        "use crate::{config::RunConfig, mesh};\nuse crate::run::Gathered;\n// crate::audit\n";
    let named = named_modules(text);
    assert_eq!(
        named.into_iter().collect::<Vec<_>>(),
        ["config", "mesh", "run"]
    );
}
