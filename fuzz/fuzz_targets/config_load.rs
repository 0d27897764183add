//! The configuration loader under arbitrary input: a `poolside.toml` of any bytes,
//! `POOLSIDE_*` and legacy variables with any values, code overrides, a profile. It must
//! never panic; every rejection must name its key and start with it; and a password
//! given in a URL must never appear in the report.

#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use poolside_config::{ConfigLoader, EnvSnapshot, key_paths, legacy_names};

/// The password every generated URL carries; no output may show it.
const PASSWORD: &str = "fuzz-Pa55w0rd-zz";

#[derive(Debug, Arbitrary)]
struct Input {
    file: Vec<u8>,
    variables: Vec<(u8, String)>,
    overrides: Vec<(u8, String)>,
    profile: Option<String>,
    url_tail: String,
}

/// Every variable the loader reads, by index.
fn variables() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        key_paths()
            .map(|key| format!("POOLSIDE_{}", key.to_ascii_uppercase().replace('.', "__")))
            .chain(legacy_names().map(|(name, _)| name.to_owned()))
            .collect()
    })
}

fn keys() -> &'static [&'static str] {
    static KEYS: OnceLock<Vec<&'static str>> = OnceLock::new();
    KEYS.get_or_init(|| key_paths().collect())
}

fuzz_target!(|input: Input| {
    let file = std::env::temp_dir().join(format!("poolside-fuzz-{}.toml", std::process::id()));
    if std::fs::write(&file, &input.file).is_err() {
        return;
    }
    let text = String::from_utf8_lossy(&input.file);
    let mut env: Vec<(String, String)> = vec![(
        "DATABASE_URL".to_owned(),
        format!(
            "postgres://app:{PASSWORD}@127.0.0.1:5432/{}",
            input.url_tail
        ),
    )];
    for (index, value) in &input.variables {
        let names = variables();
        env.push((
            names[usize::from(*index) % names.len()].clone(),
            value.clone(),
        ));
    }
    if let Some(profile) = &input.profile {
        env.push(("POOLSIDE_PROFILE".to_owned(), profile.clone()));
    }
    let mut loader = ConfigLoader::from_env(env.into_iter().collect::<EnvSnapshot>()).file(&file);
    for (index, value) in &input.overrides {
        loader = loader.set(keys()[usize::from(*index) % keys().len()], value);
    }
    let report = loader.check();
    for error in &report.errors {
        let key = error.key();
        let named = keys().contains(&key)
            || ["profile", "config file"].contains(&key)
            || keys().iter().any(|k| k.starts_with(&format!("{key}.")))
            || (!key.is_empty() && key.split('.').all(|part| text.contains(part)));
        assert!(named, "an error that names no key: {error}");
        assert!(error.to_string().starts_with(key), "{error}");
    }
    // Only the URL was given the password (the fuzzer may learn it from this very
    // comparison and write it into a value, which the report then rightly quotes).
    let elsewhere = text.contains(PASSWORD)
        || input.url_tail.contains(PASSWORD)
        || input.variables.iter().any(|(_, v)| v.contains(PASSWORD))
        || input.overrides.iter().any(|(_, v)| v.contains(PASSWORD))
        || input
            .profile
            .as_deref()
            .is_some_and(|p| p.contains(PASSWORD));
    let printed = format!("{report}{report:?}");
    assert!(
        elsewhere || !printed.contains(PASSWORD),
        "the password was printed: {printed}"
    );
});
