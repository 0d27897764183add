//! [`ConfigLoader`]: layers the sources with figment, parses every key, applies URL
//! parameters, and validates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Toml};
use figment::value::{Dict, Value};
use figment::{Figment, Metadata, Provider};
use serde::Serialize;

use crate::env::{CODE, EnvLayer, EnvSnapshot, LEGACY_ENV, POOLSIDE_ENV};
use crate::keys::{self, KEYS};
use crate::legacy::legacy_layer;
use crate::problem::Problem;
use crate::renamed;
use crate::report::{ConfigReport, Entry};
use crate::source::Source;
use crate::url_params::split_pool_params;
use crate::validate::validate;
use crate::{Config, ConfigError, LoadedConfig, Profile};

/// The file read when `POOLSIDE_CONFIG` is not set (and only if it exists).
pub const DEFAULT_CONFIG_FILE: &str = "poolside.toml";

/// The key named in problems with the configuration file itself.
const FILE_KEY: &str = "config file";
/// The key named in problems with the profile.
const PROFILE_KEY: &str = "profile";

impl Config {
    /// Loads from the process environment and `poolside.toml` (see [`ConfigLoader`]).
    pub fn load() -> Result<LoadedConfig, ConfigError> {
        ConfigLoader::from_process_env().load()
    }
}

/// Loads the configuration from its layers, lowest precedence first:
///
/// 1. the built-in defaults of the profile (`POOLSIDE_PROFILE`, default `development`);
/// 2. `poolside.toml` in the working directory, or the file named by `POOLSIDE_CONFIG`
///    (which must then exist);
/// 3. `POOLSIDE_*` environment variables, sections nested with `__`
///    (`POOLSIDE_POSTGRES__MAX_SIZE=30`);
/// 4. the legacy environment names (`DATABASE_URL`, `DB_POOL_MAX`, ...; see
///    [`legacy_names`](crate::legacy_names));
/// 5. explicit overrides in code ([`set`](Self::set)).
///
/// Pool parameters in the PostgreSQL URL (`connection_limit`, `pool_timeout`,
/// `connect_timeout`, `pgbouncer`) count in the layer that gave the URL, above that
/// layer's own keys, and are removed from the URL before it reaches the driver.
///
/// # Examples
///
/// ```
/// use poolside_config::{ConfigLoader, EnvSnapshot, Profile};
///
/// let env = EnvSnapshot::from_iter([
///     ("DATABASE_URL", "postgres://app:secret@db:5432/app?connection_limit=7"),
///     ("POOLSIDE_PROFILE", "production"),
/// ]);
/// let loaded = ConfigLoader::from_env(env).set("retry.attempts", 5).load()?;
/// assert_eq!(loaded.config.profile, Profile::Production);
/// assert_eq!(loaded.config.postgres.max_size, 7);
/// assert_eq!(loaded.config.postgres.url.expose(), "postgres://app:secret@db:5432/app");
/// assert_eq!(loaded.config.retry.attempts, 5);
/// # Ok::<(), poolside_config::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ConfigLoader {
    env: EnvSnapshot,
    profile: Option<Profile>,
    file: Option<PathBuf>,
    overrides: Vec<(String, Value)>,
    problems: Vec<Problem>,
}

impl ConfigLoader {
    /// A loader reading the process environment.
    pub fn from_process_env() -> Self {
        Self::from_env(EnvSnapshot::from_process())
    }

    /// A loader reading the given environment instead of the process's.
    pub fn from_env(env: EnvSnapshot) -> Self {
        Self {
            env,
            profile: None,
            file: None,
            overrides: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// Uses `profile`, whatever `POOLSIDE_PROFILE` says.
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = Some(profile);
        self
    }

    /// Reads this TOML file (which must exist), whatever `POOLSIDE_CONFIG` says.
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(path.into());
        self
    }

    /// Sets `key` (dotted, such as `postgres.max_size`) above every other layer.
    /// Durations take text with a unit (`"10s"`) or whole milliseconds.
    pub fn set(mut self, key: &str, value: impl Serialize) -> Self {
        match Value::serialize(value) {
            Ok(value) => self.overrides.push((key.to_owned(), value)),
            Err(e) => self.problems.push(Problem::new(
                key,
                Source::Code,
                format!("cannot be set from this value: {e}"),
            )),
        }
        self
    }

    /// Loads and validates, failing with every problem at once.
    pub fn load(self) -> Result<LoadedConfig, ConfigError> {
        self.check().into_result()
    }

    /// Loads and validates, reporting every value with its source, and every error and
    /// warning, whether or not the configuration is valid.
    pub fn check(self) -> ConfigReport {
        let mut errors = self.problems;
        let mut warnings = Vec::new();

        let profile = self.profile.unwrap_or_else(|| {
            match self.env.get("POOLSIDE_PROFILE").map(str::parse::<Profile>) {
                Some(Ok(profile)) => profile,
                Some(Err(e)) => {
                    errors.push(Problem::new(
                        PROFILE_KEY,
                        Source::Env("POOLSIDE_PROFILE".to_owned()),
                        e.to_string(),
                    ));
                    Profile::default()
                }
                None => Profile::default(),
            }
        });

        let mut figment = Figment::new();
        if let Some(file) = config_file(self.file, &self.env, &mut errors) {
            let provider = Toml::file_exact(&file);
            // A broken file is reported and skipped, so that the other layers' problems
            // are still found.
            match provider.data() {
                Ok(_) => figment = figment.merge(provider),
                Err(e) => errors.push(Problem::new(
                    FILE_KEY,
                    Source::File(file),
                    format!("cannot be read: {e}"),
                )),
            }
        }
        let figment = figment
            .merge(EnvLayer::poolside(&self.env))
            .merge(legacy_layer(&self.env, &mut warnings))
            .merge(EnvLayer::code(&self.overrides));

        let mut config = Config::defaults(profile);
        let mut sources = BTreeMap::new();
        for key in KEYS {
            let (value, source) = match figment.find_value(key.path) {
                Ok(value) => (value, source_of(&figment, key.path, profile)),
                Err(_) => {
                    let Some(old) = renamed::old_path(key.path) else {
                        continue;
                    };
                    let Ok(value) = figment.find_value(&old) else {
                        continue;
                    };
                    let source = source_of(&figment, &old, profile);
                    warnings.push(Problem::new(
                        &old,
                        source.clone(),
                        renamed::renamed_warning(&old, key.path),
                    ));
                    (value, source)
                }
            };
            if let Err(message) = (key.set)(&mut config, &value) {
                errors.push(Problem::new(key.path, source.clone(), message));
            }
            sources.insert(key.path, source);
        }
        check_unknown_keys(&figment, profile, &mut errors, &mut warnings);
        apply_url_params(&mut config, &mut sources, &mut errors, &mut warnings);
        apply_pgbouncer_defaults(&mut config, &sources);

        let findings = validate(&config, &sources);
        errors.extend(findings.errors);
        warnings.extend(findings.warnings);

        let entries = KEYS
            .iter()
            .filter_map(|key| {
                Some(Entry {
                    key: key.path,
                    value: (key.show)(&config)?,
                    source: sources
                        .get(key.path)
                        .cloned()
                        .unwrap_or(Source::Default(profile)),
                })
            })
            .collect();
        ConfigReport {
            config,
            entries,
            errors,
            warnings,
        }
    }
}

/// The TOML file to read, if any: the explicit one, else `POOLSIDE_CONFIG` (which must
/// exist), else `poolside.toml` in the working directory when it exists.
fn config_file(
    explicit: Option<PathBuf>,
    env: &EnvSnapshot,
    errors: &mut Vec<Problem>,
) -> Option<PathBuf> {
    let (path, source) = match (explicit, env.get("POOLSIDE_CONFIG")) {
        (Some(path), _) => (path, Source::Code),
        (None, Some(path)) => (
            PathBuf::from(path),
            Source::Env("POOLSIDE_CONFIG".to_owned()),
        ),
        (None, None) => {
            let default = Path::new(DEFAULT_CONFIG_FILE);
            return default.is_file().then(|| default.to_owned());
        }
    };
    if path.is_file() {
        Some(path)
    } else {
        errors.push(Problem::new(
            FILE_KEY,
            source,
            format!("no file at {}: fix the path or unset it", path.display()),
        ));
        None
    }
}

/// Where the value at `path` came from, by the metadata of the layer that gave it.
fn source_of(figment: &Figment, path: &str, profile: Profile) -> Source {
    let Some(metadata) = figment.find_metadata(path) else {
        return Source::Default(profile);
    };
    let variable = |md: &Metadata| {
        let keys: Vec<&str> = path.split('.').collect();
        md.interpolate(&figment::Profile::Default, &keys)
    };
    match metadata.name.as_ref() {
        POOLSIDE_ENV => Source::Env(variable(metadata)),
        LEGACY_ENV => Source::LegacyEnv(variable(metadata)),
        CODE => Source::Code,
        _ => match &metadata.source {
            Some(figment::Source::File(path)) => Source::File(path.clone()),
            _ => Source::Default(profile),
        },
    }
}

/// Reports keys that no table entry reads: a section given as a value is an error, any
/// other unknown key a warning (it is ignored).
fn check_unknown_keys(
    figment: &Figment,
    profile: Profile,
    errors: &mut Vec<Problem>,
    warnings: &mut Vec<Problem>,
) {
    let Ok(root) = figment.extract::<Dict>() else {
        return;
    };
    let mut stack: Vec<(String, Value)> = root.into_iter().collect();
    while let Some((path, value)) = stack.pop() {
        let read_as_new = renamed::new_path(&path).is_some_and(|new| keys::find(&new).is_some());
        if keys::find(&path).is_some() || read_as_new {
            continue;
        }
        if let Some(instead) = renamed::replacement(&path) {
            warnings.push(Problem::new(
                &path,
                source_of(figment, &path, profile),
                format!("is no longer read: set {instead}"),
            ));
            continue;
        }
        let is_section = keys::key_paths().any(|k| k.starts_with(&format!("{path}.")))
            || renamed::is_old_section(&path);
        match (value, is_section) {
            (Value::Dict(_, dict), true) => {
                stack.extend(dict.into_iter().map(|(k, v)| (format!("{path}.{k}"), v)));
            }
            (_, true) => errors.push(Problem::new(
                &path,
                source_of(figment, &path, profile),
                "is a section: give its keys (such as postgres.max_size), not a value",
            )),
            (_, false) => {
                let section = path.split('.').next().unwrap_or_default();
                let known: Vec<&str> = keys::key_paths()
                    .filter(|k| k.split('.').next() == Some(section))
                    .collect();
                let hint = if known.is_empty() {
                    format!("known sections: {}", keys::sections().join(", "))
                } else {
                    format!("known keys here: {}", known.join(", "))
                };
                warnings.push(Problem::new(
                    &path,
                    source_of(figment, &path, profile),
                    format!("unknown key, ignored ({hint})"),
                ));
            }
        }
    }
}

/// Defaults that differ behind PgBouncer, for keys no layer set: one pipelined
/// connection. PgBouncer's single thread does less work per statement on one deep
/// pipeline than on several shallow ones (through the services' PgBouncer, the select
/// at 50 tasks: about 31,000/s with one, 23,000/s with two, 23,000/s with four).
fn apply_pgbouncer_defaults(config: &mut Config, sources: &BTreeMap<&'static str, Source>) {
    if config.postgres.pgbouncer && !sources.contains_key("postgres.pipeline_connections") {
        config.postgres.pipeline_connections = PGBOUNCER_PIPELINE_CONNECTIONS;
    }
}

/// `postgres.pipeline_connections` behind PgBouncer unless set.
const PGBOUNCER_PIPELINE_CONNECTIONS: u32 = 1;

/// Takes the pool parameters out of `postgres.url` and applies each to its key, unless
/// that key was set in a higher layer than the URL.
fn apply_url_params(
    config: &mut Config,
    sources: &mut BTreeMap<&'static str, Source>,
    errors: &mut Vec<Problem>,
    warnings: &mut Vec<Problem>,
) {
    let (stripped, params) = split_pool_params(config.postgres.url.expose());
    if params.is_empty() {
        return;
    }
    config.postgres.url = crate::SecretUrl::new(stripped);
    let url_source = sources
        .get("postgres.url")
        .cloned()
        .unwrap_or(Source::Default(config.profile));
    for param in params {
        let source = Source::UrlParameter {
            parameter: param.name.clone(),
            url_source: Box::new(url_source.clone()),
        };
        let current = sources
            .get(param.key)
            .cloned()
            .unwrap_or(Source::Default(config.profile));
        if current.rank() > url_source.rank() {
            warnings.push(Problem::new(
                param.key,
                current,
                format!(
                    "URL parameter {} is ignored: this layer takes precedence over the URL's",
                    param.name
                ),
            ));
            continue;
        }
        let Some(key) = keys::find(param.key) else {
            continue;
        };
        match (key.set)(config, &param.value) {
            Ok(()) => {
                if current.rank() == url_source.rank() && !matches!(current, Source::Default(_)) {
                    warnings.push(Problem::new(
                        param.key,
                        current,
                        format!(
                            "is overridden by URL parameter {} of postgres.url from the same layer; set it in one place",
                            param.name
                        ),
                    ));
                }
                sources.insert(key.path, source);
            }
            Err(message) => errors.push(Problem::new(key.path, source, message)),
        }
    }
}
