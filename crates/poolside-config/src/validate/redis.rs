//! The rules of `redis.*`: its URLs in each mode (one server, a Sentinel group, a
//! cluster), their TLS files, the password file, and timeouts that fit together.

use std::time::Duration;

use crate::SecretUrl;
use crate::parse::show_duration;
use crate::tls_params::{SslMode, TlsParams};

use super::MIN_POOL_TIMEOUT;
use super::checker::Checker;

/// The longest delay before reconnecting to Redis that `redis.retry_delay` and
/// `redis.max_retries` may lead to: once Redis is back, the pool may wait this long.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(60);

impl Checker<'_> {
    /// `redis.password_file` must hold a password now (text, as Redis's AUTH takes it),
    /// and be the only password of the data nodes' URLs (`data_urls`, parsed: a
    /// Sentinel group's URLs are the sentinels', whose password stays theirs).
    pub(super) fn redis_password_file(
        &mut self,
        file: &std::path::Path,
        redis: &crate::RedisConfig,
        data_urls: &[url::Url],
    ) {
        const KEY: &str = "redis.password_file";
        match crate::password_file::read_password_file(file) {
            Err(e) => self.error(
                KEY,
                format!(
                    "{} cannot be read ({e}): mount the secret there, or unset the key",
                    file.display()
                ),
            ),
            Ok(password) if std::str::from_utf8(&password).is_err() => self.error(
                KEY,
                format!(
                    "{} does not hold text: a Redis password is text",
                    file.display()
                ),
            ),
            Ok(_) => {}
        }
        let key = match redis.mode {
            crate::RedisMode::Single => "redis.url",
            crate::RedisMode::Cluster => "redis.cluster_nodes",
            crate::RedisMode::Sentinel => return,
        };
        if data_urls.iter().any(|url| url.password().is_some()) {
            self.error(
                KEY,
                format!(
                    "is set, but {key} names a password of its own, which would be \
                     contradicted: take the password out of the URL, or unset {KEY}"
                ),
            );
        }
    }

    /// A Redis URL of `key`: `redis://` or `unix://`, or `rediss://` (TLS), whose
    /// certificate files must be files. The URL parsed, when it parses.
    pub(super) fn redis_url(&mut self, key: &str, url: &SecretUrl) -> Option<url::Url> {
        const SCHEMES: [&str; 3] = ["redis", "unix", "redis+unix"];
        let parsed = url::Url::parse(url.expose());
        match &parsed {
            Ok(parsed)
                if SCHEMES.contains(&parsed.scheme())
                    && parsed.query_pairs().any(|(name, _)| name == "sslcert") =>
            {
                self.error(
                    key,
                    format!(
                        "{url} names a client certificate (sslcert), which is sent over TLS \
                         only: use rediss://, or remove sslcert and sslkey"
                    ),
                );
            }
            Ok(parsed) if SCHEMES.contains(&parsed.scheme()) => {}
            Ok(parsed) if parsed.scheme() == "rediss" => {
                if parsed.fragment().is_some() {
                    self.error(
                        key,
                        format!(
                            "{url} has a #fragment (such as #insecure): poolside always checks \
                             the server's certificate; give sslrootcert=<CA PEM file> for a \
                             private CA"
                        ),
                    );
                }
                match crate::tls_params::client_cert_param(parsed) {
                    Ok(client_cert) => {
                        let tls = TlsParams {
                            mode: SslMode::VerifyFull,
                            root_cert: crate::tls_params::root_cert_param(parsed),
                            client_cert,
                        };
                        self.tls_files(key, url, &tls);
                    }
                    Err(e) => self.error(key, format!("{url}: {e}")),
                }
            }
            Ok(parsed) => self.error(
                key,
                format!(
                    "{url} has scheme {:?}: expected redis://, rediss:// or unix://",
                    parsed.scheme()
                ),
            ),
            Err(e) => self.error(key, format!("{url} is not a valid Redis URL ({e})")),
        }
        parsed.ok()
    }
}

pub(super) fn check_redis(c: &mut Checker<'_>) {
    let Some(redis) = &c.config.redis else { return };
    check_redis_mode(c, redis);
    let longest = redis.reconnect_delay(u32::MAX);
    if longest > MAX_RECONNECT_DELAY {
        let retry_delay = c.named("redis.retry_delay", show_duration(&redis.retry_delay));
        c.error(
            "redis.max_retries",
            format!(
                "with {retry_delay}, the delay before reconnecting to Redis would grow to {}: once Redis is back, the pool could wait that long to use it. Lower redis.max_retries or redis.retry_delay, to {} at most",
                show_duration(&longest),
                show_duration(&MAX_RECONNECT_DELAY)
            ),
        );
    }
    if redis.replicas_to_wait_for() > 0 && redis.wait_timeout >= redis.command_timeout {
        let command_timeout = c.named(
            "redis.command_timeout",
            show_duration(&redis.command_timeout),
        );
        c.error(
            "redis.wait_timeout",
            format!(
                "{} is not under {command_timeout}: a write's WAIT would time out as a \
                 command before it could say how many replicas have the write; lower it",
                show_duration(&redis.wait_timeout)
            ),
        );
    }
    if !redis.connection_timeout.is_zero() && redis.connection_timeout < MIN_POOL_TIMEOUT {
        c.error(
            "redis.connection_timeout",
            format!(
                "{} is under 1s: use 1s or more",
                show_duration(&redis.connection_timeout)
            ),
        );
    }
}

/// What `redis.mode` needs is set, each URL is a Redis URL, and no key of another
/// mode is set (each such key is named, all at once).
pub(super) fn check_redis_mode(c: &mut Checker<'_>, redis: &crate::RedisConfig) {
    use crate::RedisMode;
    let mode = c.named("redis.mode", redis.mode);
    let needs =
        |key: &str, what: &str| format!("is not set, but {mode} needs it: set {key} to {what}");
    let other_mode = format!(
        "is set, but {mode} does not use it: remove it, or set redis.mode to the mode it \
         belongs to"
    );
    match redis.mode {
        RedisMode::Single if redis.url.is_empty() => c.error(
            "redis.url",
            "is not set, but other redis keys are: set REDIS_URL or POOLSIDE_REDIS__URL \
             (or redis.mode = sentinel or cluster, with their keys)",
        ),
        RedisMode::Sentinel if redis.sentinels.is_empty() => c.error(
            "redis.sentinels",
            needs(
                "POOLSIDE_REDIS__SENTINELS",
                "the sentinels' URLs, separated by commas",
            ),
        ),
        RedisMode::Cluster if redis.cluster_nodes.is_empty() => c.error(
            "redis.cluster_nodes",
            needs(
                "POOLSIDE_REDIS__CLUSTER_NODES",
                "some nodes' URLs, separated by commas",
            ),
        ),
        _ => {}
    }
    if redis.mode == RedisMode::Sentinel && redis.master_name.is_empty() {
        c.error(
            "redis.master_name",
            needs(
                "POOLSIDE_REDIS__MASTER_NAME",
                "the name the sentinels monitor the primary under",
            ),
        );
    }
    if redis.mode != RedisMode::Single && !redis.url.is_empty() {
        c.error("redis.url", &other_mode);
    }
    if redis.mode != RedisMode::Sentinel {
        if !redis.sentinels.is_empty() {
            c.error("redis.sentinels", &other_mode);
        }
        if !redis.master_name.is_empty() {
            c.error("redis.master_name", &other_mode);
        }
    }
    if redis.mode != RedisMode::Cluster && !redis.cluster_nodes.is_empty() {
        c.error("redis.cluster_nodes", &other_mode);
    }
    let url = if redis.url.is_empty() {
        None
    } else {
        c.redis_url("redis.url", &redis.url)
    };
    group_urls(c, "redis.sentinels", &redis.sentinels);
    let cluster_nodes = group_urls(c, "redis.cluster_nodes", &redis.cluster_nodes);
    if let Some(file) = &redis.password_file {
        let data_urls = match redis.mode {
            crate::RedisMode::Cluster => cluster_nodes,
            _ => url.into_iter().collect(),
        };
        c.redis_password_file(file, redis, &data_urls);
    }
}

/// The URLs of group `key` (`redis.cluster_nodes`, `redis.sentinels`) that parse,
/// each that does not reported, once checked that the group's connections all speak
/// TLS or none do, trusting one CA file and presenting one client certificate: the
/// client learns the other servers from the first it reaches (a cluster's nodes, a
/// Sentinel group's primary and replica) and reaches them as it reached it.
fn group_urls(c: &mut Checker<'_>, key: &str, urls: &[SecretUrl]) -> Vec<url::Url> {
    let urls: Vec<url::Url> = urls
        .iter()
        .filter_map(|url| c.redis_url(key, url))
        .collect();
    check_group_tls(c, key, &urls);
    urls
}

/// [`group_urls`]'s TLS check, of the URLs that parse.
fn check_group_tls(c: &mut Checker<'_>, key: &str, urls: &[url::Url]) {
    let kinds: Vec<_> = urls
        .iter()
        .map(|url| {
            (
                url.scheme() == "rediss",
                crate::tls_params::root_cert_param(url),
                crate::tls_params::client_cert_param(url).ok().flatten(),
            )
        })
        .collect();
    let Some(first) = kinds.first() else { return };
    if kinds.iter().any(|kind| kind.0 != first.0) {
        c.error(
            key,
            "mixes rediss:// (TLS) and redis:// URLs: the group's servers are all reached \
             the same way; use one scheme for all of them",
        );
    } else if kinds.iter().any(|kind| kind.1 != first.1) {
        c.error(
            key,
            "names different sslrootcert files: the connections to every server trust the \
             same CAs; give the same sslrootcert in each URL (or in none, for the \
             system's CAs)",
        );
    } else if kinds.iter().any(|kind| kind.2 != first.2) {
        c.error(
            key,
            "names different client certificates (sslcert, sslkey): the connections to \
             every server present the same one; give the same files in each URL (or in \
             none)",
        );
    }
}
