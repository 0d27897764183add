//! Prisma-style pool parameters in a PostgreSQL URL (`?connection_limit=20&pool_timeout=10`),
//! which the driver would reject: taken out of the URL and turned into keys.

use figment::value::Value;

/// A pool parameter found in a URL.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UrlParam {
    /// The parameter as written, such as `connection_limit`.
    pub(crate) name: String,
    /// The key it sets, such as `postgres.max_size`.
    pub(crate) key: &'static str,
    /// The value, in the form the key's parser reads.
    pub(crate) value: Value,
}

/// The parameters poolside takes, the key each sets, and whether a bare number is seconds.
const POOL_PARAMS: [(&str, &str, bool); 4] = [
    ("connection_limit", "postgres.max_size", false),
    ("pool_timeout", "postgres.connection_timeout", true),
    ("connect_timeout", "postgres.connect_timeout", true),
    ("pgbouncer", "postgres.pgbouncer", false),
];

/// Splits the pool parameters out of a `postgres://` or `postgresql://` URL. Returns the
/// URL without them (other parameters are kept as written) and the parameters found.
/// Anything else (a key/value connection string) is returned unchanged.
pub(crate) fn split_pool_params(url: &str) -> (String, Vec<UrlParam>) {
    let is_url = crate::conn_string::is_url(url);
    let Some((base, query)) = url.split_once('?').filter(|_| is_url) else {
        return (url.to_owned(), Vec::new());
    };
    let mut kept = Vec::new();
    let mut found = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded: Vec<(String, String)> = url::form_urlencoded::parse(pair.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let (name, value) = decoded
            .into_iter()
            .next()
            .unwrap_or_else(|| (raw_name.to_owned(), raw_value.to_owned()));
        match POOL_PARAMS.iter().find(|(param, _, _)| *param == name) {
            Some((_, key, bare_is_seconds)) => {
                let value = value.trim().to_owned();
                let is_number = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
                let value = if *bare_is_seconds && is_number {
                    format!("{value}s")
                } else {
                    value
                };
                found.push(UrlParam {
                    name,
                    key,
                    value: Value::from(value),
                });
            }
            None => kept.push(pair),
        }
    }
    let stripped = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (stripped, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_pool_params_and_keeps_the_rest() {
        let (url, params) = split_pool_params(
            "postgres://u:p@h/db?sslmode=disable&connection_limit=7&pool_timeout=20&pgbouncer=true&connect_timeout=3",
        );
        assert_eq!(url, "postgres://u:p@h/db?sslmode=disable");
        let got: Vec<_> = params
            .iter()
            .map(|p| (p.key, p.value.as_str().unwrap_or_default().to_owned()))
            .collect();
        assert_eq!(
            got,
            [
                ("postgres.max_size", "7".to_owned()),
                ("postgres.connection_timeout", "20s".to_owned()),
                ("postgres.pgbouncer", "true".to_owned()),
                ("postgres.connect_timeout", "3s".to_owned()),
            ]
        );
    }

    #[test]
    fn leaves_other_strings_alone() {
        for s in [
            "postgres://h/db",
            "host=h connection_limit=5",
            "redis://h?connection_limit=5",
            "",
            "?",
        ] {
            assert_eq!(split_pool_params(s), (s.to_owned(), Vec::new()));
        }
        assert_eq!(
            split_pool_params("postgresql://h/db?pgbouncer=true").0,
            "postgresql://h/db"
        );
    }
}
