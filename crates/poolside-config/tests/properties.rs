//! Properties over generated configurations: whatever the input (environment
//! variables, code overrides, `poolside.toml` files), loading never panics, every
//! rejection names a key, and every accepted configuration builds real pools' settings
//! (bb8's builder asserts on bad values; the drivers parse the URLs).
//!
//! Each property runs 2,000 cases by default; `POOLSIDE_PROPTEST_CASES` sets another
//! count. `cargo xtask test` runs them in release with 250,000 each: a million cases
//! in all (its `fuzz` check).

use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use poolside_config::{Config, ConfigLoader, EnvSnapshot, Profile, key_paths, legacy_names};
use proptest::prelude::*;

/// Values of every kind, valid and not, so that generated configs are often accepted
/// and often rejected.
const VALUES: &[&str] = &[
    "0",
    "1",
    "2",
    "5",
    "20",
    "100",
    "150",
    "-1",
    "1.5",
    "abc",
    "",
    "4294967296",
    "999",
    "1000",
    "500ms",
    "1s",
    "2s",
    "10s",
    "30s",
    "30m",
    "2h",
    "-1s",
    "0s",
    "off",
    "true",
    "false",
    "maybe",
    "70",
    "90",
    "101",
    "full",
    "none",
    "127.0.0.1:9090",
    "[1, 2]",
    "postgres://u:p@127.0.0.1:5432/db",
    "redis://127.0.0.1:6379/0",
    "postgres://h:x/db",
    "{a = 1}",
];

/// Cases per property: `POOLSIDE_PROPTEST_CASES`, or 2,000.
fn cases() -> u32 {
    std::env::var("POOLSIDE_PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000)
}

fn var_for(key: &str) -> String {
    format!("POOLSIDE_{}", key.to_ascii_uppercase().replace('.', "__"))
}

fn settings() -> impl Strategy<Value = Vec<(String, String)>> {
    let keys: Vec<String> = key_paths()
        .map(var_for)
        .chain(legacy_names().map(|(name, _)| name.to_owned()))
        .chain(["POOLSIDE_PROFILE".to_owned()])
        .collect();
    proptest::collection::vec(
        (
            proptest::sample::select(keys),
            proptest::sample::select(VALUES),
        ),
        0..8,
    )
    .prop_map(|pairs| pairs.into_iter().map(|(k, v)| (k, v.to_owned())).collect())
}

fn load(pairs: &[(String, String)]) -> poolside_config::ConfigReport {
    let mut env: Vec<(String, String)> = vec![(
        "DATABASE_URL".into(),
        "postgres://app:pw@127.0.0.1:5432/app".into(),
    )];
    env.extend(pairs.iter().cloned());
    ConfigLoader::from_env(env.into_iter().collect()).check()
}

/// A connection manager that never connects: enough for bb8 to build a pool.
#[derive(Debug)]
struct NeverConnects;

impl bb8::ManageConnection for NeverConnects {
    type Connection = ();
    type Error = std::io::Error;

    async fn connect(&self) -> Result<(), std::io::Error> {
        Err(std::io::Error::other("no server in this test"))
    }

    async fn is_valid(&self, _: &mut ()) -> Result<(), std::io::Error> {
        Ok(())
    }

    fn has_broken(&self, _: &mut ()) -> bool {
        false
    }
}

/// Builds everything the pool core will build from `config`: panics (bb8 asserts) or
/// fails (driver parsers) on a value validation should have rejected.
fn build(config: &Config, runtime: &tokio::runtime::Runtime) {
    let pg = &config.postgres;
    tokio_postgres::Config::from_str(pg.url.expose()).expect("accepted postgres.url parses");
    for url in [&pg.direct_url, &config.overflow.secondary_url]
        .into_iter()
        .flatten()
    {
        tokio_postgres::Config::from_str(url.expose()).expect("accepted URL parses");
    }
    let _guard = runtime.enter();
    let _pool = bb8::Pool::builder()
        .max_size(pg.max_size)
        .min_idle(Some(pg.min_idle))
        .connection_timeout(pg.connection_timeout)
        .idle_timeout(Some(pg.idle_timeout))
        .max_lifetime(Some(pg.max_lifetime))
        .build_unchecked(NeverConnects);
    let _overflow = bb8::Pool::builder()
        .max_size(config.overflow.secondary_max_size)
        .connection_timeout(pg.connection_timeout)
        .build_unchecked(NeverConnects);
    if let Some(redis) = &config.redis {
        redis::Client::open(redis.url.expose()).expect("accepted redis.url opens");
        let _redis_pool = bb8::Pool::builder()
            .max_size(redis.max_size)
            .connection_timeout(redis.connection_timeout)
            .build_unchecked(NeverConnects);
    }
    assert!(config.retry.attempts >= 1);
    assert!(config.retry.base_delay <= config.retry.max_delay);
    assert!(config.health.warning_utilization < config.health.critical_utilization);
    assert!(config.postgres.connection_timeout >= Duration::from_secs(1));
}

/// A `poolside.toml` made of known and unknown sections and keys, values of every
/// kind, and lines that are not TOML at all.
fn toml_files() -> impl Strategy<Value = String> {
    let keys: Vec<String> = key_paths()
        .map(str::to_owned)
        .chain([
            "postgres.nope".to_owned(),
            "nosuch.key".to_owned(),
            "postgres".to_owned(),
        ])
        .collect();
    let value = prop_oneof![
        proptest::sample::select(VALUES).prop_map(|v| format!("{v:?}")),
        proptest::sample::select(VALUES).prop_map(str::to_owned),
        any::<String>().prop_map(|v| format!("{v:?}")),
        any::<i64>().prop_map(|n| n.to_string()),
    ];
    let line = prop_oneof![
        8 => (proptest::sample::select(keys), value).prop_map(|(key, value)| {
            match key.split_once('.') {
                Some((section, field)) => format!("[{section}]\n{field} = {value}"),
                None => format!("{key} = {value}"),
            }
        }),
        1 => any::<String>(),
        1 => Just("[postgres".to_owned()),
    ];
    proptest::collection::vec(line, 0..6).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        // A failure is shrunk and reported; nothing is written next to the sources.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_accepted_config_builds(pairs in settings()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        if let Ok(loaded) = load(&pairs).into_result() {
            build(&loaded.config, &runtime);
        }
    }

    #[test]
    fn every_accepted_config_splits_into_valid_shares(pairs in settings(), runtimes in 1..=16_u32) {
        let Ok(loaded) = load(&pairs).into_result() else {
            return Ok(());
        };
        let whole = &loaded.config;
        let share = whole.per_runtime(NonZeroU32::new(runtimes).expect("1 or more"));
        // Together the shares open at least what the whole would, and each keeps every
        // path the whole has.
        let (pg, whole_pg) = (&share.postgres, &whole.postgres);
        prop_assert!(pg.max_size * runtimes >= whole_pg.max_size);
        prop_assert!(pg.read_connections * runtimes >= whole_pg.read_connections);
        prop_assert_eq!(pg.read_connections > 0, whole_pg.read_connections > 0);
        prop_assert_eq!(pg.pipeline_connections > 0, whole_pg.pipeline_connections > 0);
        if let (Some(redis), Some(whole_redis)) = (&share.redis, &whole.redis) {
            prop_assert!(redis.max_size * runtimes >= whole_redis.max_size);
            prop_assert!(redis.max_size >= whole_redis.max_size.min(2));
        }
        // A share passes the rules the whole passed, each of its sizes set explicitly.
        let mut env: Vec<(String, String)> = vec![(
            "DATABASE_URL".into(),
            "postgres://app:pw@127.0.0.1:5432/app".into(),
        )];
        env.extend(pairs.iter().cloned());
        let mut loader = ConfigLoader::from_env(env.into_iter().collect())
            .set("postgres.max_size", pg.max_size)
            .set("postgres.min_idle", pg.min_idle)
            .set("postgres.max_waiting", pg.max_waiting)
            .set("postgres.pipeline_connections", pg.pipeline_connections)
            .set("postgres.read_connections", pg.read_connections)
            .set("postgres.expected_instances", pg.expected_instances)
            .set("overflow.secondary_max_size", share.overflow.secondary_max_size);
        if let Some(redis) = &share.redis {
            loader = loader
                .set("redis.max_size", redis.max_size)
                .set("redis.max_queued_commands", redis.max_queued_commands);
        }
        let report = loader.check();
        prop_assert!(report.is_valid(), "{share:?} of {whole:?} in {runtimes}:\n{report}");
        prop_assert_eq!(&report.into_result().expect("valid").config, &share);
    }

    #[test]
    fn every_rejection_names_a_key(pairs in settings()) {
        let report = load(&pairs);
        let known: Vec<&str> = key_paths().chain(["profile", "config file"]).collect();
        for error in &report.errors {
            let named = known.contains(&error.key())
                || known.iter().any(|k| k.starts_with(&format!("{}.", error.key())));
            prop_assert!(named, "unknown key in {error}");
            prop_assert!(error.to_string().starts_with(error.key()), "{error}");
        }
        // A value given by one variable is blamed on that variable.
        for error in &report.errors {
            let text = error.to_string();
            let blamed = pairs.iter().any(|(var, _)| text.contains(var.as_str()))
                || text.contains("DATABASE_URL")
                || text.contains("default of the");
            prop_assert!(blamed, "{error} names no source among {pairs:?}");
        }
    }

    #[test]
    fn loading_never_panics_on_arbitrary_strings(
        var in proptest::sample::select(
            key_paths().map(var_for).chain(legacy_names().map(|(n, _)| n.to_owned())).collect::<Vec<_>>()
        ),
        value in any::<String>(),
        url in any::<String>(),
    ) {
        let env: EnvSnapshot = [("DATABASE_URL".to_owned(), url.clone()), (var, value.clone())].into_iter().collect();
        let report = ConfigLoader::from_env(env).check();
        let _ = report.to_string();
        let _ = poolside_config::redact_text(&value);
        let _ = ConfigLoader::from_env(EnvSnapshot::default()).set("postgres.url", &url).check();
    }

    #[test]
    fn any_config_file_loads_or_is_rejected_by_key(text in toml_files(), pairs in settings()) {
        let dir = std::env::temp_dir().join(format!("poolside-proptest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        let file = dir.join(format!("{:?}.toml", std::thread::current().id()).replace(['(', ')'], ""));
        std::fs::write(&file, &text).expect("written");
        let mut env: Vec<(String, String)> = vec![(
            "DATABASE_URL".into(),
            "postgres://app:pw@127.0.0.1:5432/app".into(),
        )];
        env.extend(pairs);
        let report = ConfigLoader::from_env(env.into_iter().collect()).file(&file).check();
        let known: Vec<&str> = key_paths().chain(["profile", "config file"]).collect();
        for error in &report.errors {
            // A key of the table, a section of one, or a key the file itself wrote
            // (an unknown section given as a value).
            let named = known.contains(&error.key())
                || known.iter().any(|k| k.starts_with(&format!("{}.", error.key())))
                || (!error.key().is_empty()
                    && error.key().split('.').all(|part| text.contains(part)));
            prop_assert!(named, "an error that names no key: {error}\n--- file:\n{text}");
            prop_assert!(error.to_string().starts_with(error.key()), "{error}");
        }
        let _ = report.to_string();
    }
}

#[test]
fn profile_defaults_are_all_valid() {
    for profile in Profile::ALL {
        let report = ConfigLoader::from_env(
            [("DATABASE_URL", "postgres://app:pw@127.0.0.1:5432/app")]
                .into_iter()
                .collect(),
        )
        .profile(profile)
        .check();
        assert!(report.is_valid(), "{profile}: {report}");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        build(&report.into_result().expect("valid").config, &runtime);
    }
}
