//! Tests of the tree itself: the import rules between crates, a `//!` header on every
//! module, a README per crate, the top-level layout, and no trailing white space.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::paths::workspace_root;

/// Each crate, and the poolside crates it may depend on (lower never imports higher).
const ALLOWED_INTERNAL: &[(&str, &[&str])] = &[
    ("poolside-config", &[]),
    // Generic layers: built from configuration by the facade, never reading it.
    ("poolside-resilience", &[]),
    // A proc-macro crate: it names the trait by path, and imports nothing of ours.
    ("poolside-macros", &[]),
    (
        "poolside-core",
        &["poolside-config", "poolside-resilience", "poolside-macros"],
    ),
    ("poolside-cache", &["poolside-config", "poolside-core"]),
    (
        "poolside-metrics",
        &[
            "poolside-config",
            "poolside-resilience",
            "poolside-core",
            "poolside-cache",
        ],
    ),
    (
        "poolside-health",
        &[
            "poolside-config",
            "poolside-resilience",
            "poolside-core",
            "poolside-cache",
            "poolside-metrics",
        ],
    ),
    (
        "poolside",
        &[
            "poolside-macros",
            "poolside-config",
            "poolside-resilience",
            "poolside-core",
            "poolside-cache",
            "poolside-metrics",
            "poolside-health",
        ],
    ),
];

/// Outside crates a crate must never depend on, with the reason.
const FORBIDDEN_EXTERNAL: &[(&str, &[&str], &str)] = &[(
    "poolside-resilience",
    &[
        "figment",
        "tokio-postgres",
        "postgres",
        "redis",
        "bb8",
        "bb8-postgres",
        "bb8-redis",
        "sqlx",
    ],
    "poolside-resilience knows nothing of PostgreSQL or Redis",
)];

fn manifest(path: &Path) -> toml::Table {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Names in `[dependencies]` and `[build-dependencies]` (not dev-dependencies: a test
/// may use a higher crate).
fn dependencies(table: &toml::Table) -> BTreeSet<String> {
    ["dependencies", "build-dependencies"]
        .iter()
        .filter_map(|section| table.get(*section)?.as_table())
        .flat_map(|deps| deps.keys().cloned())
        .collect()
}

fn crate_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(workspace_root().join("crates"))
        .expect("crates/")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() && path.file_name().is_some_and(|n| n != "target") {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every Rust file of the workspace's own code.
fn workspace_rust_files() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut files = Vec::new();
    for dir in ["crates", "xtask", "loadtest", "tests", "examples"] {
        rust_files(&root.join(dir), &mut files);
    }
    files
}

#[test]
fn lower_crates_never_import_higher_ones() {
    let dirs = crate_dirs();
    assert_eq!(
        dirs.len(),
        ALLOWED_INTERNAL.len(),
        "a crate is missing from ALLOWED_INTERNAL"
    );
    for dir in dirs {
        let table = manifest(&dir.join("Cargo.toml"));
        let name = table["package"]["name"]
            .as_str()
            .expect("package name")
            .to_owned();
        let allowed = ALLOWED_INTERNAL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, allowed)| *allowed)
            .unwrap_or_else(|| {
                panic!("{name} is not in ALLOWED_INTERNAL: add it with its allowed imports")
            });
        for dep in dependencies(&table) {
            if dep.starts_with("poolside") {
                assert!(
                    allowed.contains(&dep.as_str()),
                    "{name} must not depend on {dep}"
                );
            }
            for (krate, forbidden, why) in FORBIDDEN_EXTERNAL {
                assert!(
                    *krate != name || !forbidden.contains(&dep.as_str()),
                    "{name} must not depend on {dep}: {why}"
                );
            }
        }
    }
}

#[test]
fn every_crate_has_a_readme_and_states_its_import_rules() {
    for dir in crate_dirs() {
        assert!(
            dir.join("README.md").is_file(),
            "{} has no README.md",
            dir.display()
        );
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).expect("src/lib.rs");
        assert!(
            lib.contains("may import") && lib.contains("must never"),
            "{}: lib.rs must say what it may and must never import",
            dir.display()
        );
        let table = manifest(&dir.join("Cargo.toml"));
        assert_eq!(
            table
                .get("lints")
                .and_then(|l| l.get("workspace"))
                .and_then(toml::Value::as_bool),
            Some(true),
            "{}: add `[lints] workspace = true`",
            dir.display()
        );
    }
}

#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let files = workspace_rust_files();
    assert!(!files.is_empty());
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        assert!(
            text.starts_with("//!"),
            "{} must open with a `//!` doc comment",
            file.display()
        );
    }
}

#[test]
fn the_top_level_holds_what_the_layout_promises() {
    let root = workspace_root();
    for entry in [
        "Cargo.toml",
        "crates",
        "xtask",
        "loadtest",
        "examples",
        "tests",
        "deny.toml",
        "rust-toolchain.toml",
        "README.md",
        "ARCHITECTURE.md",
        "BENCHMARKS.md",
        ".ci/run",
        ".cargo/config.toml",
    ] {
        assert!(
            root.join(entry).exists(),
            "{entry} is missing at the top level"
        );
    }
}

#[test]
fn locks_are_parking_lots() {
    // No poisoning, so no poison handling at any call: a std lock would bring it back
    // at each one, or a panic on a poisoned lock. (This file names what it looks for.)
    for file in workspace_rust_files()
        .into_iter()
        .filter(|f| !f.ends_with("xtask/src/tidy.rs"))
    {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            let std_lock = line.trim_start().starts_with("use std::sync::")
                && (line.contains("Mutex") || line.contains("RwLock"));
            assert!(
                !std_lock && !line.contains("std::sync::Mutex<") && !line.contains("PoisonError"),
                "{}:{} uses a std lock: use parking_lot's Mutex or RwLock",
                file.display(),
                n + 1
            );
        }
    }
}

#[test]
fn no_trailing_whitespace() {
    let root = workspace_root();
    let mut files = workspace_rust_files();
    files.extend(
        [
            "README.md",
            "ARCHITECTURE.md",
            "BENCHMARKS.md",
            "Cargo.toml",
            "deny.toml",
        ]
        .map(|f| root.join(f)),
    );
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            assert!(
                line.trim_end() == line,
                "{}:{} has trailing white space",
                file.display(),
                n + 1
            );
        }
    }
}
