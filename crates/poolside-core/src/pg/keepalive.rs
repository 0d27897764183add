//! [`keepalive_defaults`]: TCP keepalive on every PostgreSQL connection of the pool
//! after a minute idle ([`crate::tcp_keepalive`]), where the driver's default is 2 h;
//! each of `keepalives_idle`, `keepalives_interval` and `keepalives_retries` that the
//! connection string sets is kept as given, and `keepalives=0` turns probes off.

use poolside_config::conn_string::sets_param;

use crate::tcp_keepalive::{KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_RETRIES};

/// Sets poolside's keepalive timings on `driver` where `conn`, the connection string
/// it was parsed from, sets none of its own.
pub(crate) fn keepalive_defaults(driver: &mut tokio_postgres::Config, conn: &str) {
    if !sets_param(conn, "keepalives_idle") {
        driver.keepalives_idle(KEEPALIVE_IDLE);
    }
    if !sets_param(conn, "keepalives_interval") {
        driver.keepalives_interval(KEEPALIVE_INTERVAL);
    }
    if !sets_param(conn, "keepalives_retries") {
        driver.keepalives_retries(KEEPALIVE_RETRIES);
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;
    use std::time::Duration;

    use super::*;

    fn settings(conn: &str) -> tokio_postgres::Config {
        let mut driver = tokio_postgres::Config::from_str(conn).expect("parses");
        keepalive_defaults(&mut driver, conn);
        driver
    }

    #[test]
    fn probes_start_after_a_minute_unless_the_string_says() {
        for conn in ["postgres://app@db/app", "host=db user=app dbname=app"] {
            let driver = settings(conn);
            assert!(driver.get_keepalives(), "{conn}");
            assert_eq!(driver.get_keepalives_idle(), KEEPALIVE_IDLE, "{conn}");
            assert_eq!(driver.get_keepalives_interval(), Some(KEEPALIVE_INTERVAL));
            assert_eq!(driver.get_keepalives_retries(), Some(KEEPALIVE_RETRIES));
        }
        for conn in [
            "postgres://app@db/app?keepalives_idle=300&keepalives_retries=9",
            "host=db keepalives_idle=300 keepalives_retries=9",
        ] {
            let driver = settings(conn);
            assert_eq!(
                driver.get_keepalives_idle(),
                Duration::from_secs(300),
                "{conn}"
            );
            assert_eq!(driver.get_keepalives_retries(), Some(9), "{conn}");
            assert_eq!(
                driver.get_keepalives_interval(),
                Some(KEEPALIVE_INTERVAL),
                "the one not set takes poolside's: {conn}"
            );
        }
        assert!(!settings("postgres://app@db/app?keepalives=0").get_keepalives());
    }
}
