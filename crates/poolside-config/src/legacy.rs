//! The legacy environment names that existing services already set (Prisma-era
//! `DATABASE_*`, `DB_*` and `REDIS_*`), mapped onto poolside's keys.

use figment::value::Value;

use crate::env::{EnvLayer, EnvSnapshot, env_value};
use crate::problem::Problem;
use crate::source::Source;

/// What a bare number in a legacy variable means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// Not a duration: the value passes through as it is.
    Plain,
    /// Milliseconds (the default of the old names).
    Millis,
    /// Seconds (names that say so: `DB_POOL_TIMEOUT`).
    Seconds,
}

/// Every legacy name, grouped by the key it sets. Where several names of one key are
/// set, the first listed wins and a warning names the others.
const LEGACY_NAMES: &[(&str, Unit, &[&str])] = &[
    ("postgres.url", Unit::Plain, &["DATABASE_URL"]),
    ("postgres.direct_url", Unit::Plain, &["DATABASE_URL_DIRECT"]),
    (
        "postgres.min_idle",
        Unit::Plain,
        &["DATABASE_POOL_MIN", "DB_MIN_CONNECTIONS", "DB_POOL_MIN"],
    ),
    (
        "postgres.max_size",
        Unit::Plain,
        &[
            "DATABASE_POOL_MAX",
            "DB_MAX_CONNECTIONS",
            "DB_POOL_MAX",
            "DB_CONNECTION_LIMIT",
        ],
    ),
    (
        "postgres.idle_timeout",
        Unit::Millis,
        &[
            "DATABASE_POOL_IDLE_TIMEOUT",
            "DB_IDLE_TIMEOUT",
            "DB_POOL_IDLE_TIMEOUT",
        ],
    ),
    (
        "postgres.connection_timeout",
        Unit::Millis,
        &["DATABASE_POOL_CONNECTION_TIMEOUT", "DB_CONNECTION_TIMEOUT"],
    ),
    // Prisma's pool_timeout, in seconds: the same wait as connection_timeout.
    (
        "postgres.connection_timeout",
        Unit::Seconds,
        &["DB_POOL_TIMEOUT"],
    ),
    ("postgres.max_lifetime", Unit::Millis, &["DB_MAX_LIFETIME"]),
    (
        "postgres.query_timeout",
        Unit::Millis,
        &["DB_QUERY_TIMEOUT"],
    ),
    (
        "postgres.statement_cache_size",
        Unit::Plain,
        &["DB_STATEMENT_CACHE_SIZE"],
    ),
    ("retry.attempts", Unit::Plain, &["DB_RETRY_ATTEMPTS"]),
    ("retry.base_delay", Unit::Millis, &["DB_RETRY_DELAY"]),
    ("overflow.enabled", Unit::Plain, &["DB_ENABLE_FAILOVER"]),
    (
        "overflow.utilization_threshold",
        Unit::Plain,
        &["DB_FAILOVER_THRESHOLD"],
    ),
    ("redis.url", Unit::Plain, &["REDIS_URL"]),
    ("redis.max_retries", Unit::Plain, &["REDIS_MAX_RETRIES"]),
    ("redis.retry_delay", Unit::Millis, &["REDIS_RETRY_DELAY"]),
    (
        "redis.connection_timeout",
        Unit::Millis,
        &["REDIS_CONNECTION_TIMEOUT"],
    ),
    (
        "redis.command_timeout",
        Unit::Millis,
        &["REDIS_COMMAND_TIMEOUT"],
    ),
];

/// Every legacy variable name, for documentation and `config check`.
pub fn legacy_names() -> impl Iterator<Item = (&'static str, &'static str)> {
    LEGACY_NAMES
        .iter()
        .flat_map(|(key, _, names)| names.iter().map(move |name| (*name, *key)))
}

/// Builds the legacy layer from `env`, pushing a warning for each variable shadowed by
/// another name of the same key.
pub(crate) fn legacy_layer(env: &EnvSnapshot, warnings: &mut Vec<Problem>) -> EnvLayer {
    let mut chosen: Vec<(&'static str, String, Value)> = Vec::new();
    for (key, unit, names) in LEGACY_NAMES {
        for name in *names {
            let Some(raw) = env.get(name) else { continue };
            if let Some((_, winner, _)) = chosen.iter().find(|(k, _, _)| k == key) {
                warnings.push(Problem::new(
                    *key,
                    Source::LegacyEnv((*name).to_owned()),
                    format!("ignored: {winner} also sets this key and takes precedence"),
                ));
                continue;
            }
            chosen.push((*key, (*name).to_owned(), legacy_value(raw, *unit)));
        }
    }
    EnvLayer::legacy(chosen)
}

/// Turns a legacy variable's text into the value its key parses: a bare number becomes
/// a duration in the variable's unit; anything else passes through to be parsed (and
/// rejected, naming the variable) like any other value.
fn legacy_value(raw: &str, unit: Unit) -> Value {
    let raw = raw.trim();
    let is_number = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
    match unit {
        Unit::Seconds if is_number => Value::from(format!("{raw}s")),
        Unit::Millis if is_number => Value::from(format!("{raw}ms")),
        Unit::Plain => env_value(raw),
        Unit::Seconds | Unit::Millis => Value::from(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_issue_listed_name_is_mapped() {
        let names: Vec<_> = legacy_names().map(|(n, _)| n).collect();
        for name in [
            "DATABASE_URL",
            "DATABASE_URL_DIRECT",
            "DATABASE_POOL_MIN",
            "DATABASE_POOL_MAX",
            "DATABASE_POOL_IDLE_TIMEOUT",
            "DATABASE_POOL_CONNECTION_TIMEOUT",
            "DB_CONNECTION_LIMIT",
            "DB_POOL_TIMEOUT",
            "DB_MAX_CONNECTIONS",
            "DB_MIN_CONNECTIONS",
            "DB_CONNECTION_TIMEOUT",
            "DB_IDLE_TIMEOUT",
            "DB_MAX_LIFETIME",
            "DB_RETRY_ATTEMPTS",
            "DB_RETRY_DELAY",
            "DB_POOL_MAX",
            "DB_POOL_MIN",
            "DB_POOL_IDLE_TIMEOUT",
            "DB_QUERY_TIMEOUT",
            "DB_ENABLE_FAILOVER",
            "DB_FAILOVER_THRESHOLD",
            "DB_STATEMENT_CACHE_SIZE",
            "REDIS_URL",
            "REDIS_MAX_RETRIES",
            "REDIS_RETRY_DELAY",
            "REDIS_CONNECTION_TIMEOUT",
            "REDIS_COMMAND_TIMEOUT",
        ] {
            assert!(names.contains(&name), "{name} is not mapped");
        }
    }

    #[test]
    fn bare_numbers_take_the_unit_of_the_name() {
        assert_eq!(
            legacy_value("20", Unit::Seconds),
            Value::from("20s".to_owned())
        );
        assert_eq!(
            legacy_value("2000", Unit::Millis),
            Value::from("2000ms".to_owned())
        );
        assert_eq!(
            legacy_value("2s", Unit::Millis),
            Value::from("2s".to_owned())
        );
        assert_eq!(legacy_value("20", Unit::Plain).to_u128(), Some(20));
    }
}
