//! Parsing of one configuration value of each kind, from whatever a layer gave (a TOML
//! number, an env string, a code override), and the text `config check` shows for it.
//!
//! Every parser returns a message that says what was expected; none panics.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use figment::value::Value;

use crate::config::{Jitter, MetricNaming, RedisMode};
use crate::{SecretToken, SecretUrl};

/// The value's text, for strings and numbers alike; `None` for dicts and arrays.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(_, s) => Some(s.trim().to_owned()),
        Value::Char(_, c) => Some(c.to_string()),
        Value::Bool(_, b) => Some(b.to_string()),
        Value::Num(_, n) => {
            let n = *n;
            n.to_u128()
                .map(|u| u.to_string())
                .or_else(|| n.to_i128().map(|i| i.to_string()))
                .or_else(|| n.to_f64().map(|f| f.to_string()))
        }
        Value::Empty(..) | Value::Dict(..) | Value::Array(..) => None,
    }
}

fn describe(value: &Value) -> String {
    match text(value) {
        Some(t) => format!("{t:?}"),
        None => "a table or list".to_owned(),
    }
}

/// A whole number `>= 0` that fits in 32 bits.
pub(crate) fn count(value: &Value) -> Result<u32, String> {
    text(value)
        .and_then(|t| t.parse::<u32>().ok())
        .ok_or_else(|| {
            format!(
                "{} is not a whole number from 0 to {}",
                describe(value),
                u32::MAX
            )
        })
}

/// A percentage, parsed as a whole number (the range is checked by validation).
/// A count that may be left unset.
pub(crate) fn optional_count(value: &Value) -> Result<Option<u32>, String> {
    count(value).map(Some)
}

pub(crate) fn percent(value: &Value) -> Result<u32, String> {
    count(value).map_err(|_| format!("{} is not a whole percentage such as 80", describe(value)))
}

/// A duration: `"10s"`, `"500ms"`, `"2m 30s"`, or a bare number of milliseconds.
pub(crate) fn duration(value: &Value) -> Result<Duration, String> {
    let expected = || {
        format!(
            "{} is not a duration: write it with a unit (\"10s\", \"500ms\", \"2m\") or as whole milliseconds",
            describe(value)
        )
    };
    let t = text(value).ok_or_else(expected)?;
    if let Ok(millis) = t.parse::<u64>() {
        return Ok(Duration::from_millis(millis));
    }
    humantime::parse_duration(&t).map_err(|_| expected())
}

/// A duration that `off`, `none`, `disabled` or 0 turns off.
pub(crate) fn optional_duration(value: &Value) -> Result<Option<Duration>, String> {
    if let Some(t) = text(value)
        && ["off", "none", "disabled", "false"].contains(&t.to_ascii_lowercase().as_str())
    {
        return Ok(None);
    }
    duration(value).map(|d| (!d.is_zero()).then_some(d))
}

/// `true`/`false`, also `1`/`0`, `yes`/`no`, `on`/`off`.
pub(crate) fn boolean(value: &Value) -> Result<bool, String> {
    let t = text(value).map(|t| t.to_ascii_lowercase());
    match t.as_deref() {
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        _ => Err(format!("{} is not true or false", describe(value))),
    }
}

/// A connection string. Its syntax is checked by validation, which knows the scheme.
/// The message never quotes the value: it may hold a password.
pub(crate) fn url(value: &Value) -> Result<SecretUrl, String> {
    match value {
        Value::String(_, s) => Ok(SecretUrl::new(s.trim())),
        _ => Err("is not a string: write the connection URL in quotes".to_owned()),
    }
}

/// A connection string that may be left out.
pub(crate) fn optional_url(value: &Value) -> Result<Option<SecretUrl>, String> {
    url(value).map(|u| (!u.is_empty()).then_some(u))
}

/// A file's path; empty for none.
pub(crate) fn optional_path(value: &Value) -> Result<Option<std::path::PathBuf>, String> {
    let path = text(value).ok_or_else(|| format!("{} is not a file path", describe(value)))?;
    Ok((!path.is_empty()).then(|| path.into()))
}

/// Connection strings: a list (TOML), or one text with the URLs separated by spaces
/// or by commas before each `postgres://` (a multi-host URL keeps its own commas).
pub(crate) fn url_list(value: &Value) -> Result<Vec<SecretUrl>, String> {
    match value {
        Value::Array(_, items) => items
            .iter()
            .map(url)
            .filter(|u| u.as_ref().map_or(true, |u| !u.is_empty()))
            .collect(),
        Value::String(_, s) => Ok(split_urls(s).into_iter().map(SecretUrl::new).collect()),
        _ => Err(
            "is not a list of connection URLs: write [\"scheme://...\", ...], or the URLs \
             separated by commas"
                .to_owned(),
        ),
    }
}

/// `text` split into URLs at whitespace, and at commas that start a new URL.
fn split_urls(text: &str) -> Vec<&str> {
    let mut urls = Vec::new();
    for part in text.split_whitespace() {
        // Commas are one byte: every cut below is on a character boundary.
        let mut cuts: Vec<usize> = [
            ",postgres://",
            ",postgresql://",
            ",redis://",
            ",rediss://",
            ",redis+unix://",
            ",unix://",
        ]
        .iter()
        .flat_map(|start| part.match_indices(start).map(|(at, _)| at))
        .collect();
        cuts.sort_unstable();
        let mut from = 0;
        for cut in cuts {
            urls.push(&part[from..cut]);
            from = cut + 1;
        }
        urls.push(&part[from..]);
    }
    urls.into_iter()
        .map(|u| u.trim_matches(','))
        .filter(|u| !u.is_empty())
        .collect()
}

#[cfg(test)]
mod url_list_tests {
    use super::split_urls;

    #[test]
    fn urls_split_at_spaces_and_at_commas_before_a_scheme() {
        assert_eq!(
            split_urls("postgres://a:1,b:2/db,postgresql://c/db  postgres://d/db,"),
            [
                "postgres://a:1,b:2/db",
                "postgresql://c/db",
                "postgres://d/db"
            ]
        );
        assert_eq!(split_urls(" , "), Vec::<&str>::new());
        assert_eq!(split_urls("é,postgres://x"), ["é", "postgres://x"]);
    }
}

/// How `config check` shows connection strings: masked, comma separated, or `none`.
pub(crate) fn show_url_list(urls: &[SecretUrl]) -> String {
    if urls.is_empty() {
        return "none".to_owned();
    }
    urls.iter()
        .map(SecretUrl::redacted)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A `host:port` socket address, or `off`/`none` for none.
pub(crate) fn optional_socket_addr(value: &Value) -> Result<Option<SocketAddr>, String> {
    let t = text(value).unwrap_or_default();
    if t.is_empty() || ["off", "none"].contains(&t.to_ascii_lowercase().as_str()) {
        return Ok(None);
    }
    SocketAddr::from_str(&t).map(Some).map_err(|_| {
        format!(
            "{} is not an address such as 127.0.0.1:9090 (or off)",
            describe(value)
        )
    })
}

/// A bearer token of at least [`SecretToken::MIN_LEN`] characters without spaces, or
/// empty/`off`/`none` for none. Messages never quote the value.
pub(crate) fn optional_token(value: &Value) -> Result<Option<SecretToken>, String> {
    let Some(t) = text(value) else {
        return Err("a table or list is not a token".to_owned());
    };
    if t.is_empty() || ["off", "none"].contains(&t.to_ascii_lowercase().as_str()) {
        return Ok(None);
    }
    if t.chars().count() < SecretToken::MIN_LEN || t.chars().any(char::is_whitespace) {
        return Err(format!(
            "the token (not shown) must be at least {} characters without spaces",
            SecretToken::MIN_LEN
        ));
    }
    Ok(Some(SecretToken::new(t)))
}

/// A jitter name.
pub(crate) fn jitter(value: &Value) -> Result<Jitter, String> {
    text(value)
        .ok_or_else(|| {
            format!(
                "{} is not a jitter: expected full, equal or none",
                describe(value)
            )
        })?
        .parse()
}

/// A metric naming.
pub(crate) fn redis_mode(value: &Value) -> Result<RedisMode, String> {
    text(value)
        .ok_or_else(|| {
            format!(
                "{} is not a Redis mode: expected single, sentinel or cluster",
                describe(value)
            )
        })?
        .parse()
}

/// A name, such as a Sentinel group's master name.
pub(crate) fn name(value: &Value) -> Result<String, String> {
    text(value).ok_or_else(|| format!("{} is not a name", describe(value)))
}

pub(crate) fn metric_naming(value: &Value) -> Result<MetricNaming, String> {
    text(value)
        .ok_or_else(|| {
            format!(
                "{} is not a metric naming: expected poolside or otel",
                describe(value)
            )
        })?
        .parse()
}

/// How `config check` shows a duration.
pub(crate) fn show_duration(d: &Duration) -> String {
    humantime::format_duration(*d).to_string()
}

/// How `config check` shows an optional duration.
pub(crate) fn show_optional_duration(d: &Option<Duration>) -> String {
    d.as_ref().map_or_else(|| "off".to_owned(), show_duration)
}

/// How `config check` shows an optional connection string (masked).
pub(crate) fn show_optional_url(u: &Option<SecretUrl>) -> String {
    u.as_ref()
        .map_or_else(|| "none".to_owned(), SecretUrl::redacted)
}

/// How `config check` shows an optional path: the path (never the file's content), or
/// `none`.
pub(crate) fn show_optional_path(p: &Option<std::path::PathBuf>) -> String {
    p.as_ref()
        .map_or_else(|| "none".to_owned(), |p| p.display().to_string())
}

/// How `config check` shows an optional token: masked, or `off`.
pub(crate) fn show_optional_token(t: &Option<SecretToken>) -> String {
    t.as_ref()
        .map_or_else(|| "off".to_owned(), ToString::to_string)
}

/// How `config check` shows an optional address.
pub(crate) fn show_optional_addr(a: &Option<SocketAddr>) -> String {
    a.map_or_else(|| "off".to_owned(), |a| a.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::from(v.to_owned())
    }

    #[test]
    fn durations_take_units_or_milliseconds() {
        assert_eq!(duration(&s("10s")), Ok(Duration::from_secs(10)));
        assert_eq!(duration(&s("500ms")), Ok(Duration::from_millis(500)));
        assert_eq!(duration(&s("2m 30s")), Ok(Duration::from_secs(150)));
        assert_eq!(
            duration(&Value::from(1500u64)),
            Ok(Duration::from_millis(1500))
        );
        assert_eq!(duration(&s("1500")), Ok(Duration::from_millis(1500)));
        assert!(duration(&s("ten seconds")).is_err());
        assert!(duration(&s("-5s")).is_err());
        assert!(duration(&Value::from(-5i64)).is_err());
        assert_eq!(optional_duration(&s("off")), Ok(None));
        assert_eq!(optional_duration(&Value::from(0u8)), Ok(None));
    }

    #[test]
    fn counts_reject_what_is_not_a_whole_number() {
        assert_eq!(count(&Value::from(20u8)), Ok(20));
        assert_eq!(count(&s(" 20 ")), Ok(20));
        for bad in ["-1", "1.5", "twenty", "99999999999", ""] {
            let message = count(&s(bad)).expect_err("not a count");
            assert!(message.contains("whole number"), "{message}");
        }
        assert!(count(&Value::from(1.5f64)).is_err());
    }

    #[test]
    fn url_errors_never_quote_the_value() {
        let message = url(&Value::from(5u8)).expect_err("not a string");
        assert!(!message.contains('5'));
    }
}
