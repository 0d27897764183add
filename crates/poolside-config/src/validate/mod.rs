//! The rules a parsed [`Config`] must meet, checked all at once: errors that stop the
//! pools from being built, and warnings about settings that work but are likely wrong.
//! One file per part of the configuration; `Checker` records what
//! they find, each problem under its key and where the key's value came from.

mod checker;
mod layers;
mod postgres;
mod redis;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::Config;
use crate::keys::KEYS;
use crate::problem::Problem;
use crate::source::Source;
use checker::Checker;

/// The shortest wait for a connection that is not a misconfiguration.
const MIN_POOL_TIMEOUT: Duration = Duration::from_millis(1000);

/// What validation found.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub(crate) errors: Vec<Problem>,
    pub(crate) warnings: Vec<Problem>,
}

/// Checks every rule, returning all errors and warnings.
pub(crate) fn validate(config: &Config, sources: &BTreeMap<&'static str, Source>) -> Findings {
    let mut c = Checker {
        config,
        sources,
        found: Findings::default(),
    };
    for key in KEYS {
        if let Some(problem) = (key.check)(config) {
            c.error(key.path, problem);
        }
    }
    postgres::check_postgres(&mut c);
    redis::check_redis(&mut c);
    layers::check_retry(&mut c);
    layers::check_overflow(&mut c);
    layers::check_breaker(&mut c);
    layers::check_health(&mut c);
    c.found
}

#[cfg(test)]
mod tests {
    use figment::value::Value;

    use super::*;
    use crate::Profile;

    /// Every key that takes a duration refuses one past a year, by its own rule or a
    /// rule across keys: a deadline that far out would overflow the clock.
    #[test]
    fn every_duration_key_refuses_more_than_a_year() {
        let four_hundred_days = crate::parse::show_duration(&Duration::from_secs(400 * 86_400));
        let mut duration_keys = 0;
        for key in KEYS {
            let mut config = Config::defaults(Profile::Production);
            if (key.set)(&mut config, &Value::from("400d")).is_err()
                || (key.show)(&config).as_ref() != Some(&four_hundred_days)
            {
                continue; // not a duration
            }
            duration_keys += 1;
            let findings = validate(&config, &BTreeMap::new());
            assert!(
                findings.errors.iter().any(|e| e.key() == key.path),
                "{} = 400d is accepted",
                key.path
            );
        }
        assert!(duration_keys >= 20, "{duration_keys} duration keys found");
    }

    /// Each key at the ends of what it parses, alone and with every other key at the
    /// same end: validation reports, it never panics (a sum of two counts overflowed).
    #[test]
    fn every_key_at_its_extremes_validates_without_panicking() {
        let extremes = ["0", "1", "4294967295", "18446744073709551615s", "101"];
        for value in extremes {
            let value = Value::from(value);
            let mut all = Config::defaults(Profile::Production);
            for key in KEYS {
                let mut alone = Config::defaults(Profile::Production);
                if (key.set)(&mut alone, &value).is_ok() {
                    validate(&alone, &BTreeMap::new());
                    // The per-runtime share of a configuration is computed from it too.
                    let _ = alone.per_runtime(std::num::NonZeroU32::MIN);
                    let _ = (key.set)(&mut all, &value);
                }
            }
            validate(&all, &BTreeMap::new());
            let _ = all.per_runtime(std::num::NonZeroU32::MAX);
        }
    }
}
