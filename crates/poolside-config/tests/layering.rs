//! Precedence of the layers, legacy names, URL parameters and the source of each value.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use poolside_config::{ConfigLoader, EnvSnapshot, Profile, Source};

const URL: &str = "postgres://app:pw@127.0.0.1:5432/app";

fn env(vars: &[(&str, &str)]) -> EnvSnapshot {
    vars.iter().copied().collect()
}

/// A TOML file under the target directory, removed on drop.
struct TempToml(PathBuf);

impl Drop for TempToml {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn toml_file(text: &str) -> TempToml {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "poolside-{}-{}.toml",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, text).expect("write temp toml");
    TempToml(path)
}

fn source_of(report: &poolside_config::ConfigReport, key: &str) -> Source {
    report
        .entries
        .iter()
        .find(|e| e.key == key)
        .map(|e| e.source.clone())
        .unwrap_or_else(|| panic!("no entry for {key}"))
}

#[test]
fn profile_defaults_apply_and_are_named() {
    for (profile, min, max, idle, timeout, shutdown_delay) in [
        ("development", 2, 10, 10, 5, 0),
        ("test", 1, 5, 5, 3, 0),
        ("staging", 5, 20, 30, 10, 5),
        ("production", 5, 20, 30, 10, 5),
    ] {
        let loaded =
            ConfigLoader::from_env(env(&[("DATABASE_URL", URL), ("POOLSIDE_PROFILE", profile)]))
                .load()
                .expect("defaults are valid");
        let pg = &loaded.config.postgres;
        assert_eq!((pg.min_idle, pg.max_size), (min, max), "{profile}");
        assert_eq!(pg.idle_timeout, Duration::from_secs(idle), "{profile}");
        assert_eq!(
            pg.connection_timeout,
            Duration::from_secs(timeout),
            "{profile}"
        );
        assert_eq!(pg.max_lifetime, Duration::from_secs(30 * 60));
        assert!(loaded.config.redis.is_none());
        assert_eq!(
            loaded.config.health.shutdown_delay,
            Duration::from_secs(shutdown_delay),
            "{profile}"
        );
    }
    let report = ConfigLoader::from_env(env(&[("DATABASE_URL", URL)])).check();
    assert_eq!(
        source_of(&report, "postgres.max_size"),
        Source::Default(Profile::Development)
    );
}

#[test]
fn each_layer_overrides_the_one_below() {
    let file = toml_file(
        "[postgres]\nmax_size = 11\nmin_idle = 1\nidle_timeout = \"20s\"\nquery_timeout = 7000\n",
    );
    let vars = [
        ("DATABASE_URL", URL),
        ("POOLSIDE_CONFIG", file.0.to_str().expect("utf-8 path")),
        ("POOLSIDE_POSTGRES__MAX_SIZE", "12"),
        ("POOLSIDE_POSTGRES__IDLE_TIMEOUT", "25s"),
        ("DB_POOL_MAX", "13"),
    ];
    let report = ConfigLoader::from_env(env(&vars)).check();
    assert!(report.is_valid(), "{report}");
    let loaded = report.clone().into_result().expect("valid");
    let pg = &loaded.config.postgres;
    assert_eq!(pg.min_idle, 1, "file beats default");
    assert_eq!(
        pg.query_timeout,
        Duration::from_millis(7000),
        "bare number is milliseconds"
    );
    assert_eq!(
        pg.idle_timeout,
        Duration::from_secs(25),
        "POOLSIDE_ env beats file"
    );
    assert_eq!(pg.max_size, 13, "legacy env beats POOLSIDE_ env");
    assert_eq!(
        source_of(&report, "postgres.min_idle"),
        Source::File(file.0.clone())
    );
    assert_eq!(
        source_of(&report, "postgres.idle_timeout"),
        Source::Env("POOLSIDE_POSTGRES__IDLE_TIMEOUT".into())
    );
    assert_eq!(
        source_of(&report, "postgres.max_size"),
        Source::LegacyEnv("DB_POOL_MAX".into())
    );

    let loaded = ConfigLoader::from_env(env(&vars))
        .set("postgres.max_size", 14)
        .load()
        .expect("valid");
    assert_eq!(loaded.config.postgres.max_size, 14, "code beats everything");
}

#[test]
fn legacy_units_and_shadowing() {
    let report = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("DB_POOL_TIMEOUT", "20"),
        ("DB_IDLE_TIMEOUT", "600000"),
        ("DB_MAX_LIFETIME", "3600000"),
        ("DB_RETRY_DELAY", "250"),
        ("DB_ENABLE_FAILOVER", "true"),
        ("DB_FAILOVER_THRESHOLD", "75"),
        ("DB_STATEMENT_CACHE_SIZE", "1000"),
        ("DATABASE_POOL_MAX", "30"),
        ("DB_CONNECTION_LIMIT", "40"),
        ("REDIS_URL", "redis://127.0.0.1:6379/0"),
        ("REDIS_COMMAND_TIMEOUT", "3000"),
        ("REDIS_RETRY_DELAY", "1000"),
    ]))
    .check();
    assert!(report.is_valid(), "{report}");
    let loaded = report.clone().into_result().expect("valid");
    let c = &loaded.config;
    assert_eq!(
        c.postgres.connection_timeout,
        Duration::from_secs(20),
        "DB_POOL_TIMEOUT is seconds"
    );
    assert_eq!(c.postgres.idle_timeout, Duration::from_secs(600));
    assert_eq!(c.postgres.max_lifetime, Duration::from_secs(3600));
    assert_eq!(c.retry.base_delay, Duration::from_millis(250));
    assert!(c.overflow.enabled);
    assert_eq!(c.overflow.utilization_threshold, 75);
    assert_eq!(c.postgres.statement_cache_size, 1000);
    assert_eq!(c.postgres.max_size, 30, "the first-listed legacy name wins");
    let redis = c.redis.as_ref().expect("REDIS_URL configures redis");
    assert_eq!(redis.command_timeout, Duration::from_secs(3));
    assert!(
        report.warnings.iter().any(
            |w| w.key() == "postgres.max_size" && w.to_string().contains("DB_CONNECTION_LIMIT")
        ),
        "the shadowed name is reported: {report}"
    );
}

#[test]
fn url_parameters_are_applied_and_stripped() {
    let url = "postgres://app:pw@127.0.0.1:6432/app?connection_limit=3&pool_timeout=12&pgbouncer=true&application_name=x";
    let report = ConfigLoader::from_env(env(&[("DATABASE_URL", url)])).check();
    assert!(report.is_valid(), "{report}");
    let loaded = report.clone().into_result().expect("valid");
    let pg = &loaded.config.postgres;
    assert_eq!(pg.max_size, 3);
    assert_eq!(pg.connection_timeout, Duration::from_secs(12));
    assert!(pg.pgbouncer);
    assert_eq!(
        pg.pipeline_connections, 1,
        "one pipelined connection behind PgBouncer"
    );
    assert_eq!(
        pg.url.expose(),
        "postgres://app:pw@127.0.0.1:6432/app?application_name=x"
    );
    assert_eq!(
        source_of(&report, "postgres.max_size"),
        Source::UrlParameter {
            parameter: "connection_limit".into(),
            url_source: Box::new(Source::LegacyEnv("DATABASE_URL".into())),
        }
    );

    // A key from a higher layer than the URL's wins over the parameter.
    let loaded = ConfigLoader::from_env(env(&[("DATABASE_URL", url)]))
        .set("postgres.max_size", 9)
        .load()
        .expect("valid");
    assert_eq!(loaded.config.postgres.max_size, 9);
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.message().contains("connection_limit"))
    );

    // A key of the URL's own layer loses to the parameter, with a warning.
    let loaded = ConfigLoader::from_env(env(&[("DATABASE_URL", url), ("DB_POOL_MAX", "8")]))
        .load()
        .expect("valid");
    assert_eq!(loaded.config.postgres.max_size, 3);
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.source() == &Source::LegacyEnv("DB_POOL_MAX".into())
                && w.message().contains("connection_limit")),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn every_problem_is_reported_at_once_with_its_source() {
    let file = toml_file(
        "[retry]\nbase_delay = \"3s\"\nmax_delay = \"1s\"\n[health]\nwarning_utilization = 95\ncritical_utilization = 90\n",
    );
    let err = ConfigLoader::from_env(env(&[
        (
            "DATABASE_URL",
            "postgres://app:pw@127.0.0.1:5432/app?connection_limit=many",
        ),
        ("POOLSIDE_CONFIG", file.0.to_str().expect("utf-8 path")),
        ("DATABASE_POOL_MIN", "30"),
        ("DB_POOL_TIMEOUT", "soon"),
        ("DB_IDLE_TIMEOUT", "7200000"),
        ("DB_FAILOVER_THRESHOLD", "150"),
        ("POOLSIDE_POSTGRES__LEAK_DETECTION_THRESHOLD", "1s"),
        ("POOLSIDE_REDIS__MAX_SIZE", "4"),
    ]))
    .load()
    .expect_err("invalid");
    let text = err.to_string();
    for expected in [
        "postgres.max_size (from URL parameter connection_limit of postgres.url (env DATABASE_URL))",
        "postgres.connection_timeout (from env DB_POOL_TIMEOUT)",
        "postgres.idle_timeout (from env DB_IDLE_TIMEOUT)",
        "overflow.utilization_threshold (from env DB_FAILOVER_THRESHOLD)",
        "postgres.leak_detection_threshold (from env POOLSIDE_POSTGRES__LEAK_DETECTION_THRESHOLD)",
        "retry.base_delay (from file",
        "health.warning_utilization (from file",
        "redis.url",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(err.errors.len() >= 8, "{text}");
}

#[test]
fn min_idle_above_max_size_names_both_variables() {
    let err = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("DATABASE_POOL_MIN", "30"),
        ("DATABASE_POOL_MAX", "20"),
    ]))
    .load()
    .expect_err("min > max");
    let text = err.to_string();
    assert!(
        text.contains("DATABASE_POOL_MIN") && text.contains("DATABASE_POOL_MAX"),
        "{text}"
    );
    // README's `config check` example: its last line counts the problems.
    let report = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("DATABASE_POOL_MIN", "30"),
        ("DATABASE_POOL_MAX", "20"),
    ]))
    .check()
    .to_string();
    assert!(
        report.ends_with("configuration is invalid: 1 error, 0 warnings"),
        "{report}"
    );
}

#[test]
fn a_duration_past_a_year_is_refused_before_a_deadline_could_overflow() {
    let err = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        (
            "POOLSIDE_POSTGRES__CONNECTION_TIMEOUT",
            "18446744073709551615s",
        ),
        ("POOLSIDE_HEALTH__SHUTDOWN_DELAY", "400d"),
    ]))
    .load()
    .expect_err("two durations past a year");
    let text = err.to_string();
    for key in ["postgres.connection_timeout", "health.shutdown_delay"] {
        assert!(
            text.contains(&format!("{key} (from env"))
                && text.contains("longer than a year, the longest duration poolside takes"),
            "{key} in:\n{text}"
        );
    }
}

#[test]
fn a_missing_or_broken_file_is_an_error_naming_it() {
    let err = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("POOLSIDE_CONFIG", "/nonexistent/poolside.toml"),
    ]))
    .load()
    .expect_err("missing file");
    assert!(err.to_string().contains("POOLSIDE_CONFIG"), "{err}");

    let file = toml_file("[postgres\nurl = \"postgres://u:TopSecret1@h/db\"\n");
    let err = ConfigLoader::from_env(env(&[("DATABASE_URL", URL)]))
        .file(&file.0)
        .load()
        .expect_err("broken file");
    let text = err.to_string();
    assert!(text.contains("config file"), "{text}");
    assert!(!text.contains("TopSecret1"), "{text}");
}

#[test]
fn unknown_keys_are_warned_and_sections_must_be_tables() {
    let report = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("POOLSIDE_POSTGRES__MAX_SIZ", "10"),
        ("POOLSIDE_HTTP_ADDR", "127.0.0.1:8080"),
    ]))
    .check();
    assert!(report.is_valid(), "{report}");
    let warned: Vec<_> = report.warnings.iter().map(|w| w.key().to_owned()).collect();
    assert!(
        warned.contains(&"postgres.max_siz".to_owned()),
        "{warned:?}"
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.source() == &Source::Env("POOLSIDE_POSTGRES__MAX_SIZ".into()))
    );

    let err = ConfigLoader::from_env(env(&[("DATABASE_URL", URL)]))
        .set("retry", 5)
        .load()
        .expect_err("section as value");
    assert!(
        err.to_string()
            .contains("retry (from set in code): is a section"),
        "{err}"
    );
}

#[test]
fn the_old_failover_section_is_read_as_overflow_and_a_retired_key_names_its_successor() {
    let file = toml_file(
        "[failover]\nenabled = true\nutilization_threshold = 70\n\n\
         [postgres]\nslow_query_threshold = \"50ms\"\n",
    );
    let report = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("POOLSIDE_FAILOVER__HAND_BACK_MARGIN", "5"),
        ("POOLSIDE_BREAKR__PROBES", "2"),
    ]))
    .file(&file.0)
    .check();
    assert!(report.is_valid(), "{report}");
    let loaded = report.clone().into_result().expect("valid");
    let c = &loaded.config;
    assert!(c.overflow.enabled);
    assert_eq!(
        (
            c.overflow.utilization_threshold,
            c.overflow.hand_back_margin
        ),
        (70, 5)
    );
    let warning = |key: &str| {
        report
            .warnings
            .iter()
            .find(|w| w.key() == key)
            .map(ToString::to_string)
            .unwrap_or_else(|| panic!("no warning for {key}: {report}"))
    };
    let renamed = warning("failover.enabled");
    assert!(
        renamed.contains("[overflow]") && renamed.contains("POOLSIDE_OVERFLOW__ENABLED"),
        "{renamed}"
    );
    assert!(
        warning("failover.hand_back_margin").contains("POOLSIDE_FAILOVER__HAND_BACK_MARGIN"),
        "the warning names where the old key was set"
    );
    let retired = warning("postgres.slow_query_threshold");
    assert!(
        retired.contains("metrics.slow_query_threshold"),
        "{retired}"
    );
    let unknown = warning("breakr");
    assert!(
        unknown.contains("breaker") && unknown.contains("overflow"),
        "the known sections come from the key table: {unknown}"
    );
}

#[test]
fn each_keys_own_rule_is_checked_and_every_breach_named_at_once() {
    let err = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("REDIS_URL", "redis://127.0.0.1:6379/0"),
        ("POOLSIDE_POSTGRES__MAX_SIZE", "0"),
        ("POOLSIDE_REDIS__COMMAND_TIMEOUT", "0s"),
        ("POOLSIDE_BREAKER__PROBES", "0"),
        ("POOLSIDE_HEALTH__ERROR_RATE_PERCENT", "101"),
        ("POOLSIDE_METRICS__WINDOW", "0s"),
    ]))
    .load()
    .expect_err("five keys break their rule");
    let text = err.to_string();
    for expected in [
        "postgres.max_size (from env POOLSIDE_POSTGRES__MAX_SIZE): must be at least 1",
        "redis.command_timeout (from env POOLSIDE_REDIS__COMMAND_TIMEOUT): must be longer than zero",
        "breaker.probes (from env POOLSIDE_BREAKER__PROBES): must be at least 1",
        "health.error_rate_percent (from env POOLSIDE_HEALTH__ERROR_RATE_PERCENT): 101 is outside 0..=100 percent",
        "metrics.window (from env POOLSIDE_METRICS__WINDOW): must be longer than zero",
    ] {
        assert!(text.contains(expected), "{expected} in:\n{text}");
    }
}

#[test]
fn blank_variables_count_as_unset() {
    let loaded = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("POOLSIDE_POSTGRES__MAX_SIZE", " "),
        ("DB_POOL_MIN", ""),
    ]))
    .load()
    .expect("blank variables are ignored");
    assert_eq!(
        (
            loaded.config.postgres.min_idle,
            loaded.config.postgres.max_size
        ),
        (2, 10)
    );
}

#[test]
fn a_bad_profile_is_named() {
    let err = ConfigLoader::from_env(env(&[("DATABASE_URL", URL), ("POOLSIDE_PROFILE", "prod")]))
        .load()
        .expect_err("bad profile");
    assert!(
        err.to_string()
            .contains("profile (from env POOLSIDE_PROFILE)"),
        "{err}"
    );
}

#[test]
fn warnings_for_large_pools() {
    let loaded = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("DB_POOL_MAX", "150"),
        ("DB_POOL_MIN", "60"),
    ]))
    .load()
    .expect("warnings only");
    let keys: Vec<_> = loaded.warnings.iter().map(|w| w.key()).collect();
    assert!(
        keys.contains(&"postgres.max_size") && keys.contains(&"postgres.min_idle"),
        "{keys:?}"
    );
}

#[test]
fn pipeline_connections_must_leave_room_when_set() {
    let err = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("DB_POOL_MAX", "4"),
        ("POOLSIDE_POSTGRES__PIPELINE_CONNECTIONS", "4"),
    ]))
    .load()
    .expect_err("no room left");
    assert!(
        err.to_string().contains(
            "postgres.pipeline_connections (from env POOLSIDE_POSTGRES__PIPELINE_CONNECTIONS)"
        ),
        "{err}"
    );
    // The default fits itself to a small pool instead.
    let loaded = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("DB_POOL_MAX", "2"),
        ("DB_POOL_MIN", "1"),
    ]))
    .load()
    .expect("valid");
    assert_eq!(loaded.config.postgres.pipeline_connections, 2);
}

#[test]
fn redis_reconnect_delays_are_bounded() {
    let load = |retries: &str| {
        ConfigLoader::from_env(env(&[
            ("DATABASE_URL", URL),
            ("REDIS_URL", "redis://127.0.0.1:6379/0"),
            ("REDIS_RETRY_DELAY", "5000"),
            ("REDIS_MAX_RETRIES", retries),
        ]))
        .load()
    };
    let loaded = load("4").expect("5 s doubled three times: 40 s");
    let redis = loaded.config.redis.expect("REDIS_URL configures redis");
    assert_eq!(redis.reconnect_delay(u32::MAX), Duration::from_secs(40));
    let err = load("5").expect_err("80 s is too long to wait once Redis is back");
    assert!(
        err.to_string().contains(
            "redis.max_retries (from env REDIS_MAX_RETRIES): with redis.retry_delay = 5s (from env REDIS_RETRY_DELAY), the delay before reconnecting to Redis would grow to 1m 20s"
        ),
        "{err}"
    );
    load("4000000000").expect_err("no overflow, and still too long");
}

#[test]
fn several_hosts_without_read_write_are_warned_not_rejected() {
    let warned = |url: &str| {
        ConfigLoader::from_env(env(&[("DATABASE_URL", url)]))
            .load()
            .expect("a warning at most")
            .warnings
            .iter()
            .any(|w| w.key() == "postgres.url" && w.to_string().contains("target_session_attrs"))
    };
    assert!(warned("postgres://app:s3cret@db1:5432,db2:5433/app"));
    assert!(!warned(
        "postgres://app:s3cret@db1:5432,db2:5433/app?target_session_attrs=read-write"
    ));
    assert!(!warned("postgres://app:s3cret@db1:5432/app"));
}

#[test]
fn behind_pgbouncer_a_pipeline_size_that_was_set_is_kept() {
    let url = "postgres://app:pw@127.0.0.1:6432/app?pgbouncer=true";
    let loaded = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", url),
        ("POOLSIDE_POSTGRES__PIPELINE_CONNECTIONS", "3"),
    ]))
    .load()
    .expect("valid");
    assert_eq!(loaded.config.postgres.pipeline_connections, 3);
    let direct = ConfigLoader::from_env(env(&[("DATABASE_URL", "postgres://app@db/app")]))
        .load()
        .expect("valid");
    assert_eq!(direct.config.postgres.pipeline_connections, 2);
}

#[test]
fn metric_naming_reads_poolside_or_otel_and_names_anything_else() {
    let naming = |value: &str| {
        ConfigLoader::from_env(env(&[
            ("DATABASE_URL", URL),
            ("POOLSIDE_METRICS__NAMING", value),
        ]))
        .load()
    };
    let loaded = naming("OTel").expect("valid");
    assert_eq!(
        loaded.config.metrics.naming,
        poolside_config::MetricNaming::Otel
    );
    assert_eq!(
        poolside_config::MetricsConfig::default().naming,
        poolside_config::MetricNaming::Poolside
    );
    let text = naming("prometheus").expect_err("not a naming").to_string();
    assert!(
        text.contains("metrics.naming") && text.contains("expected poolside or otel"),
        "{text}"
    );
}

#[test]
fn redis_sentinel_and_cluster_modes_read_their_own_keys() {
    let loaded = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("POOLSIDE_REDIS__MODE", "Sentinel"),
        (
            "POOLSIDE_REDIS__SENTINELS",
            "redis://:s3cret@10.0.0.1:26379,redis://:s3cret@10.0.0.2:26379",
        ),
        ("POOLSIDE_REDIS__MASTER_NAME", "cache"),
    ]))
    .load()
    .expect("valid");
    let redis = loaded.config.redis.expect("a redis section");
    assert_eq!(redis.mode, poolside_config::RedisMode::Sentinel);
    assert_eq!(redis.sentinels.len(), 2);
    assert_eq!(redis.master_name, "cache");
    let shown = format!("{:?}", redis.sentinels);
    assert!(!shown.contains("s3cret"), "{shown}");

    let loaded = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("POOLSIDE_REDIS__MODE", "cluster"),
        (
            "POOLSIDE_REDIS__CLUSTER_NODES",
            "redis://10.0.0.1:6379 redis://10.0.0.2:6379,redis://10.0.0.3:6380",
        ),
    ]))
    .load()
    .expect("valid");
    let redis = loaded.config.redis.expect("a redis section");
    assert_eq!(redis.mode, poolside_config::RedisMode::Cluster);
    assert_eq!(redis.cluster_nodes.len(), 3);

    // The legacy REDIS_URL still means one server.
    let loaded = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("REDIS_URL", "redis://127.0.0.1:6379/0"),
    ]))
    .load()
    .expect("valid");
    let redis = loaded.config.redis.expect("a redis section");
    assert_eq!(redis.mode, poolside_config::RedisMode::Single);
}

#[test]
fn redis_modes_name_every_missing_or_contradictory_key_at_once() {
    let text = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("REDIS_URL", "redis://:s3cret@127.0.0.1:6379/0"),
        ("POOLSIDE_REDIS__MODE", "sentinel"),
        (
            "POOLSIDE_REDIS__CLUSTER_NODES",
            "redis://:s3cret@10.0.0.1:6379 http://10.0.0.2:6379",
        ),
    ]))
    .load()
    .expect_err("sentinels and master name missing, url and cluster nodes contradict")
    .to_string();
    for expected in [
        "redis.sentinels (from default of the development profile): is not set, but redis.mode = sentinel (from env POOLSIDE_REDIS__MODE) needs it",
        "redis.master_name (from default of the development profile): is not set, but redis.mode = sentinel",
        "redis.url (from env REDIS_URL): is set, but redis.mode = sentinel (from env POOLSIDE_REDIS__MODE) does not use it",
        "redis.cluster_nodes (from env POOLSIDE_REDIS__CLUSTER_NODES): is set, but redis.mode = sentinel",
        "has scheme \"http\": expected redis://, rediss:// or unix://",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("s3cret"), "{text}");

    // TLS: to one server or a cluster, with its CA file checked; not to sentinels,
    // and never without checking the certificate.
    let text = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        (
            "REDIS_URL",
            "rediss://:s3cret@10.0.0.1:6380/0?sslrootcert=/nonexistent/ca.pem",
        ),
    ]))
    .load()
    .expect_err("the CA file is missing")
    .to_string();
    assert!(
        text.contains("sslrootcert /nonexistent/ca.pem is not a file"),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
    ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("REDIS_URL", "rediss://:s3cret@10.0.0.1:6380/0"),
    ]))
    .load()
    .expect("TLS to one server, with the system's CAs");
    let text = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("REDIS_URL", "rediss://10.0.0.1:6380/0#insecure"),
    ]))
    .load()
    .expect_err("#insecure is refused")
    .to_string();
    assert!(text.contains("always checks"), "{text}");
    ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("POOLSIDE_REDIS__MODE", "cluster"),
        (
            "POOLSIDE_REDIS__CLUSTER_NODES",
            "rediss://10.0.0.1:6380 rediss://10.0.0.2:6380",
        ),
    ]))
    .load()
    .expect("TLS to a cluster's nodes");
    let ca = toml_file("not read by validation");
    let text = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("POOLSIDE_REDIS__MODE", "cluster"),
        (
            "POOLSIDE_REDIS__CLUSTER_NODES",
            &format!(
                "rediss://10.0.0.1:6380?sslrootcert={} rediss://10.0.0.2:6380",
                ca.0.display()
            ),
        ),
    ]))
    .load()
    .expect_err("two CA settings")
    .to_string();
    assert!(text.contains("names different sslrootcert files"), "{text}");
    let text = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("POOLSIDE_REDIS__MODE", "cluster"),
        (
            "POOLSIDE_REDIS__CLUSTER_NODES",
            "rediss://10.0.0.1:6380 redis://10.0.0.2:6379",
        ),
    ]))
    .load()
    .expect_err("TLS to some nodes only")
    .to_string();
    assert!(
        text.contains("mixes rediss:// (TLS) and redis://"),
        "{text}"
    );
    ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("POOLSIDE_REDIS__MODE", "sentinel"),
        ("POOLSIDE_REDIS__MASTER_NAME", "main"),
        (
            "POOLSIDE_REDIS__SENTINELS",
            "rediss://10.0.0.1:26380,rediss://10.0.0.2:26380",
        ),
    ]))
    .load()
    .expect("TLS to a Sentinel group");
    let text = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("POOLSIDE_REDIS__MODE", "sentinel"),
        ("POOLSIDE_REDIS__MASTER_NAME", "main"),
        (
            "POOLSIDE_REDIS__SENTINELS",
            "rediss://10.0.0.1:26380,redis://10.0.0.2:26379",
        ),
    ]))
    .load()
    .expect_err("TLS to some sentinels only")
    .to_string();
    assert!(
        text.contains("redis.sentinels") && text.contains("mixes rediss:// (TLS) and redis://"),
        "{text}"
    );

    let text = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("POOLSIDE_REDIS__MODE", "sharded"),
    ]))
    .load()
    .expect_err("not a mode")
    .to_string();
    assert!(
        text.contains("redis.mode") && text.contains("expected single, sentinel or cluster"),
        "{text}"
    );
}

#[test]
fn a_password_file_must_hold_a_password_and_not_contradict_the_url() {
    let secret = toml_file("r0tated-s3cret\n");
    let path = secret.0.display().to_string();
    let url_without_password = "postgres://app@127.0.0.1:5432/app";
    let loaded = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", url_without_password),
        ("POOLSIDE_POSTGRES__PASSWORD_FILE", &path),
    ]))
    .load()
    .expect("a readable file and a URL without a password");
    assert_eq!(
        loaded.config.postgres.password_file.as_deref(),
        Some(secret.0.as_path())
    );
    // config check shows where the password is, never what it is.
    let shown = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", url_without_password),
        ("POOLSIDE_POSTGRES__PASSWORD_FILE", &path),
    ]))
    .check()
    .to_string();
    assert!(shown.contains(&path), "{shown}");
    assert!(!shown.contains("r0tated"), "{shown}");

    let text = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("POOLSIDE_POSTGRES__PASSWORD_FILE", &path),
    ]))
    .load()
    .expect_err("the URL's password would win over the file")
    .to_string();
    assert!(text.contains("names a password of its own"), "{text}");
    assert!(
        !text.contains("r0tated") && !text.contains(":pw@"),
        "{text}"
    );

    let text = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", url_without_password),
        (
            "POOLSIDE_POSTGRES__PASSWORD_FILE",
            "/nonexistent/db-password",
        ),
    ]))
    .load()
    .expect_err("the file is missing")
    .to_string();
    assert!(
        text.contains("/nonexistent/db-password cannot be read"),
        "{text}"
    );

    let empty = toml_file("\n");
    let text = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", url_without_password),
        (
            "POOLSIDE_POSTGRES__PASSWORD_FILE",
            &empty.0.display().to_string(),
        ),
    ]))
    .load()
    .expect_err("the file is empty")
    .to_string();
    assert!(text.contains("empty: it must hold the password"), "{text}");
}

#[test]
fn a_redis_password_file_is_the_only_password_of_the_data_nodes() {
    let secret = toml_file("r0tated-redis-s3cret\n");
    let path = secret.0.display().to_string();
    let loaded = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("REDIS_URL", "redis://app@127.0.0.1:6379/0"),
        ("POOLSIDE_REDIS__PASSWORD_FILE", &path),
    ]))
    .load()
    .expect("a readable file and a URL without a password");
    let redis = loaded.config.redis.expect("a redis section");
    assert_eq!(redis.password_file.as_deref(), Some(secret.0.as_path()));
    ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("POOLSIDE_REDIS__MODE", "cluster"),
        (
            "POOLSIDE_REDIS__CLUSTER_NODES",
            "redis://10.0.0.1:6379 redis://10.0.0.2:6379",
        ),
        ("POOLSIDE_REDIS__PASSWORD_FILE", &path),
    ]))
    .load()
    .expect("a cluster's nodes without passwords");

    let text = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("POOLSIDE_REDIS__MODE", "cluster"),
        (
            "POOLSIDE_REDIS__CLUSTER_NODES",
            "redis://10.0.0.1:6379 redis://:s3cret@10.0.0.2:6379",
        ),
        ("POOLSIDE_REDIS__PASSWORD_FILE", &path),
    ]))
    .load()
    .expect_err("a node URL with a password of its own")
    .to_string();
    assert!(
        text.contains("redis.cluster_nodes names a password of its own"),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
    ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("POOLSIDE_REDIS__MODE", "sentinel"),
        ("POOLSIDE_REDIS__MASTER_NAME", "main"),
        (
            "POOLSIDE_REDIS__SENTINELS",
            "redis://app:sentinel-s3cret@10.0.0.1:26379",
        ),
        ("POOLSIDE_REDIS__PASSWORD_FILE", &path),
    ]))
    .load()
    .expect("the sentinels' password stays in their URLs");
    let text = ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        ("REDIS_URL", "redis://127.0.0.1:6379/0"),
        (
            "POOLSIDE_REDIS__PASSWORD_FILE",
            "/nonexistent/redis-password",
        ),
    ]))
    .load()
    .expect_err("no such file")
    .to_string();
    assert!(
        text.contains("redis.password_file") && text.contains("cannot be read"),
        "{text}"
    );
}
