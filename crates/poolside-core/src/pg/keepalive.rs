//! [`keepalive_defaults`]: TCP keepalive on every PostgreSQL connection of the pool
//! after a minute idle ([`crate::tcp_keepalive`]), where the driver's default is 2 h;
//! each of `keepalives_idle`, `keepalives_interval` and `keepalives_retries` that the
//! connection string sets is kept as given, and `keepalives=0` turns probes off.

use crate::tcp_keepalive::{KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_RETRIES};

/// Sets poolside's keepalive timings on `driver` where `conn`, the connection string
/// it was parsed from, sets none of its own.
pub(crate) fn keepalive_defaults(driver: &mut tokio_postgres::Config, conn: &str) {
    if !names_param(conn, "keepalives_idle") {
        driver.keepalives_idle(KEEPALIVE_IDLE);
    }
    if !names_param(conn, "keepalives_interval") {
        driver.keepalives_interval(KEEPALIVE_INTERVAL);
    }
    if !names_param(conn, "keepalives_retries") {
        driver.keepalives_retries(KEEPALIVE_RETRIES);
    }
}

/// Whether `conn` (a `postgres://` URL or `key=value` pairs) sets parameter `name`.
fn names_param(conn: &str, name: &str) -> bool {
    let is_url = ["postgres://", "postgresql://"].iter().any(|scheme| {
        conn.get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    });
    if is_url {
        let query = conn.split_once('?').map_or("", |(_, query)| query);
        url::form_urlencoded::parse(query.as_bytes()).any(|(key, _)| key == name)
    } else {
        conn.split_whitespace()
            .filter_map(|token| token.split_once('='))
            .any(|(key, _)| key.trim() == name)
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

    #[test]
    fn a_parameter_is_named_by_its_key_only() {
        assert!(!names_param(
            "postgres://app:keepalives_idle@db/app",
            "keepalives_idle"
        ));
        assert!(!names_param(
            "host=db password=keepalives_idle",
            "keepalives_idle"
        ));
        assert!(names_param(
            "postgresql://db/app?sslmode=require&keepalives_idle=5",
            "keepalives_idle"
        ));
    }
}
