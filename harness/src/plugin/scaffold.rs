//! `tarmac plugin new`: writes a plugin project that builds as is, from the templates in
//! `templates/` (one directory per language), with the WIT package (components) or the JSON
//! ABI's schema (WASI command modules) copied in.

use std::path::{Path, PathBuf};

use crate::plugin::bindings::WIT_TEXT;
use crate::plugin::kit::Lang;

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("{0} already exists; choose a new directory")]
    Exists(PathBuf),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the plugin name {0:?} must be 1-48 characters of a-z, 0-9 and '-', starting with a letter"
    )]
    BadName(String),
}

struct Template {
    path: &'static str,
    text: &'static str,
    executable: bool,
}

macro_rules! template {
    ($path:literal, $file:literal) => {
        Template {
            path: $path,
            text: include_str!(concat!("templates/", $file)),
            executable: false,
        }
    };
    ($path:literal, $file:literal, exec) => {
        Template {
            path: $path,
            text: include_str!(concat!("templates/", $file)),
            executable: true,
        }
    };
}

fn templates(lang: Lang) -> Vec<Template> {
    match lang {
        Lang::Rust => vec![
            template!("Cargo.toml", "rust/Cargo.toml"),
            template!("src/lib.rs", "rust/lib.rs"),
            template!("build.sh", "rust/build.sh", exec),
            template!("fixtures/node.json", "common/fixture.json"),
            template!("cases/pass.yaml", "common/pass.yaml"),
        ],
        Lang::C => vec![
            template!("plugin.c", "c/plugin.c"),
            template!("build.sh", "c/build.sh", exec),
            template!("fixtures/node.json", "common/fixture.json"),
            template!("cases/pass.yaml", "common/pass.yaml"),
        ],
        Lang::Python => vec![
            template!("app.py", "python/app.py"),
            template!("build.sh", "python/build.sh", exec),
            template!("fixtures/node.json", "common/fixture.json"),
            template!("cases/pass.yaml", "common/pass.yaml"),
        ],
        Lang::Js => vec![
            template!("app.js", "js/app.js"),
            template!("package.json", "js/package.json"),
            template!("build.sh", "js/build.sh", exec),
            template!("fixtures/node.json", "common/fixture.json"),
            template!("cases/pass.yaml", "common/pass.yaml"),
        ],
        Lang::Go => vec![
            template!("go.mod", "go/go.mod"),
            template!("main.go", "go/main.go"),
            template!("build.sh", "go/build.sh", exec),
            template!("fixtures/node.json", "common/fixture.json"),
            template!("cases/pass.yaml", "common/pass.yaml"),
        ],
        Lang::Zig => vec![
            template!("main.zig", "zig/main.zig"),
            template!("build.sh", "zig/build.sh", exec),
            template!("fixtures/node.json", "common/fixture.json"),
            template!("cases/pass.yaml", "common/pass.yaml"),
        ],
    }
}

/// Component languages bind to the WIT package; WASI command languages speak its JSON ABI,
/// whose schema they get instead.
fn interface_file(lang: Lang) -> (&'static str, &'static str) {
    match lang {
        Lang::Go | Lang::Zig => ("plugin-abi.schema.json", JSON_ABI_SCHEMA),
        Lang::Rust | Lang::C | Lang::Python | Lang::Js => ("wit/tarmac-check.wit", WIT_TEXT),
    }
}

/// The JSON ABI's schema (generated from wit/ by the json_abi_schema test).
pub const JSON_ABI_SCHEMA: &str = include_str!("../../../docs/plugin-abi.schema.json");

/// Creates the project in `dir` and returns the files written.
pub fn create(lang: Lang, dir: &Path) -> Result<Vec<PathBuf>, ScaffoldError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let valid = name.len() <= 48
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(ScaffoldError::BadName(name));
    }
    if dir.exists() {
        return Err(ScaffoldError::Exists(dir.to_owned()));
    }
    let mut written = Vec::new();
    let mut files: Vec<(String, String, bool)> = templates(lang)
        .into_iter()
        .map(|t| (t.path.to_owned(), fill(t.text, &name), t.executable))
        .collect();
    let (interface_path, interface_text) = interface_file(lang);
    files.push((interface_path.to_owned(), interface_text.to_owned(), false));
    for (rel, text, executable) in files {
        let path = dir.join(rel);
        write(&path, &text, executable)?;
        written.push(path);
    }
    Ok(written)
}

fn fill(text: &str, name: &str) -> String {
    text.replace("{{name}}", name)
        .replace("{{name_snake}}", &name.replace('-', "_"))
}

fn write(path: &Path, text: &str, executable: bool) -> Result<(), ScaffoldError> {
    let err = |source| ScaffoldError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    std::fs::write(path, text).map_err(err)?;
    if executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(err)?;
    }
    Ok(())
}
