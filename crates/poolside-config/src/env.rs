//! The environment layers: a snapshot of variables, and the figment providers that read
//! `POOLSIDE_*` and the legacy names from it.
//!
//! NOTE: figment's own `Env` provider reads the process environment at extraction time
//! and names a key `POSTGRES.MAX_SIZE` in errors. Reading a snapshot instead keeps
//! loading deterministic (tests run in parallel without touching the process
//! environment) and lets every error name the exact variable.

use std::collections::BTreeMap;

use figment::value::{Dict, Map, Value};
use figment::{Error, Metadata, Profile as FigmentProfile, Provider};

/// The environment variables a configuration is loaded from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvSnapshot {
    vars: BTreeMap<String, String>,
}

impl EnvSnapshot {
    /// The current process environment (variables that are not UTF-8 are skipped).
    pub fn from_process() -> Self {
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect()
    }

    /// The value of `name`, if set and not blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// Every variable, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for EnvSnapshot {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self {
            vars: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

/// A figment provider holding values taken from environment variables, which names the
/// variable behind each key when figment interpolates it.
#[derive(Debug, Clone)]
pub(crate) struct EnvLayer {
    name: &'static str,
    data: Dict,
    /// Dotted key -> the variable that set it.
    vars: BTreeMap<String, String>,
}

/// The metadata name of the `POOLSIDE_*` layer.
pub(crate) const POOLSIDE_ENV: &str = "POOLSIDE_* environment variables";
/// The metadata name of the legacy-names layer.
pub(crate) const LEGACY_ENV: &str = "legacy environment variables";
/// The metadata name of the code-overrides layer.
pub(crate) const CODE: &str = "overrides set in code";

/// Variables with the `POOLSIDE_` prefix that select how loading works rather than a key.
const LOADER_VARS: [&str; 2] = ["POOLSIDE_PROFILE", "POOLSIDE_CONFIG"];

impl EnvLayer {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            data: Dict::new(),
            vars: BTreeMap::new(),
        }
    }

    /// Adds `value` at dotted `key`, remembering that `var` set it.
    fn insert(&mut self, key: &str, var: &str, value: Value) {
        insert_nested(&mut self.data, key, value);
        self.vars.insert(key.to_owned(), var.to_owned());
    }

    /// The `POOLSIDE_*` layer: `POOLSIDE_POSTGRES__MAX_SIZE=30` sets `postgres.max_size`.
    /// Values parse as figment's `Env` provider parses them (`30` is a number).
    pub(crate) fn poolside(env: &EnvSnapshot) -> Self {
        let mut layer = Self::new(POOLSIDE_ENV);
        for (var, raw) in env.iter() {
            let Some(rest) = var.strip_prefix("POOLSIDE_") else {
                continue;
            };
            // A blank variable counts as unset, as it does for the legacy names.
            if LOADER_VARS.contains(&var) || rest.is_empty() || raw.trim().is_empty() {
                continue;
            }
            let key = rest.to_ascii_lowercase().replace("__", ".");
            if key.split('.').any(str::is_empty) {
                continue;
            }
            layer.insert(&key, var, env_value(raw));
        }
        layer
    }

    /// The legacy layer, from the already chosen `(key, variable, value)` triples.
    pub(crate) fn legacy(entries: impl IntoIterator<Item = (&'static str, String, Value)>) -> Self {
        let mut layer = Self::new(LEGACY_ENV);
        for (key, var, value) in entries {
            layer.insert(key, &var, value);
        }
        layer
    }

    /// The code-overrides layer.
    pub(crate) fn code(entries: &[(String, Value)]) -> Self {
        let mut layer = Self::new(CODE);
        for (key, value) in entries {
            layer.insert(key, "code", value.clone());
        }
        layer
    }
}

/// An environment variable's text as a value: `30` is a number, `true` a boolean, as
/// figment's `Env` provider reads them.
///
/// NOTE: figment 0.10.19's value parser panics on a string holding a backslash after a
/// multi-byte character (it slices by char index). Numbers, booleans and lists are
/// ASCII, so only ASCII text goes to it; any other text stays a plain string.
pub(crate) fn env_value(raw: &str) -> Value {
    let raw = raw.trim();
    if raw.is_ascii() {
        raw.parse().unwrap_or_else(|e| match e {})
    } else {
        Value::from(raw.to_owned())
    }
}

/// Inserts `value` at dotted `key`, creating the sections on the way; a value already
/// standing where a section is needed is replaced by the section.
fn insert_nested(dict: &mut Dict, key: &str, value: Value) {
    match key.split_once('.') {
        None => {
            dict.insert(key.to_owned(), value);
        }
        Some((section, rest)) => {
            let entry = dict
                .entry(section.to_owned())
                .or_insert_with(|| Value::from(Dict::new()));
            if !matches!(entry, Value::Dict(..)) {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert_nested(inner, rest, value);
            }
        }
    }
}

impl Provider for EnvLayer {
    fn metadata(&self) -> Metadata {
        let vars = self.vars.clone();
        Metadata::named(self.name).interpolater(move |_: &FigmentProfile, keys: &[&str]| {
            let key = keys.join(".");
            vars.get(&key).cloned().unwrap_or(key)
        })
    }

    fn data(&self) -> Result<Map<FigmentProfile, Dict>, Error> {
        Ok(FigmentProfile::Default.collect(self.data.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_parse_like_figment_env_and_never_panic() {
        assert_eq!(env_value(" 30 ").to_u128(), Some(30));
        assert_eq!(env_value("true").to_bool(), Some(true));
        assert_eq!(env_value("10s").as_str(), Some("10s"));
        // figment's own parser panics on this one (found by the properties test).
        let tricky = "\u{1e221}:`\u{e0109}`W\"\\s`fU";
        assert_eq!(env_value(tricky).as_str(), Some(tricky));
    }
}
