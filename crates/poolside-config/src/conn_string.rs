//! A PostgreSQL connection string's two forms, as libpq reads them: a URL
//! (`postgres://` or `postgresql://`, parameters in its query) or `key=value` pairs.

/// Whether `conn` is in URL form (`postgres://` or `postgresql://`, any case).
///
/// ```
/// use poolside_config::conn_string::is_url;
///
/// assert!(is_url("PostgreSQL://db/app"));
/// assert!(!is_url("host=db dbname=app"));
/// ```
pub fn is_url(conn: &str) -> bool {
    ["postgres://", "postgresql://"].iter().any(|scheme| {
        conn.get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    })
}

/// Whether `conn`, in either form, sets parameter `name` (its key, never a value or
/// a password that happens to read the same).
///
/// ```
/// use poolside_config::conn_string::sets_param;
///
/// assert!(sets_param("postgres://db/app?keepalives_idle=30", "keepalives_idle"));
/// assert!(sets_param("host=db keepalives_idle=30", "keepalives_idle"));
/// assert!(!sets_param("host=db password=keepalives_idle", "keepalives_idle"));
/// ```
pub fn sets_param(conn: &str, name: &str) -> bool {
    if is_url(conn) {
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
    use super::*;

    #[test]
    fn a_parameter_is_named_by_its_key_only() {
        assert!(!sets_param(
            "postgres://app:keepalives_idle@db/app",
            "keepalives_idle"
        ));
        assert!(!sets_param(
            "host=db password=keepalives_idle",
            "keepalives_idle"
        ));
        assert!(sets_param(
            "postgresql://db/app?sslmode=require&keepalives_idle=5",
            "keepalives_idle"
        ));
    }
}
