//! The crate's README documents every key `config check` shows, each as a row of its
//! table of keys.

use poolside_config::{ConfigLoader, EnvSnapshot};

#[test]
fn every_key_has_a_row_in_the_readme() {
    let readme = include_str!("../README.md");
    let env: EnvSnapshot = [
        ("DATABASE_URL", "postgres://app:pw@127.0.0.1:5432/app"),
        ("REDIS_URL", "redis://127.0.0.1:6379/0"),
    ]
    .into_iter()
    .collect();
    let report = ConfigLoader::from_env(env).check();
    assert!(report.entries.len() > 60, "{} keys", report.entries.len());
    assert!(
        report.entries.iter().any(|e| e.key.starts_with("redis.")),
        "the Redis section's keys are shown"
    );
    let missing: Vec<&str> = report
        .entries
        .iter()
        .map(|entry| entry.key)
        .filter(|key| !readme.contains(&format!("| `{key}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "keys without a row in crates/poolside-config/README.md: {missing:?}"
    );
}
