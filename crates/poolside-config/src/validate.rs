//! The rules a parsed [`Config`] must meet, checked all at once: errors that stop the
//! pools from being built, and warnings about settings that work but are likely wrong.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use crate::keys::KEYS;
use crate::parse::show_duration;
use crate::problem::Problem;
use crate::source::Source;
use crate::tls_params::{SslMode, TlsParams};
use crate::{Config, SecretUrl};

/// The shortest wait for a connection that is not a misconfiguration.
const MIN_POOL_TIMEOUT: Duration = Duration::from_millis(1000);
/// The shortest leak threshold: below it, ordinary transactions would be reported.
const MIN_LEAK_THRESHOLD: Duration = Duration::from_secs(2);
/// The longest delay before reconnecting to Redis that `redis.retry_delay` and
/// `redis.max_retries` may lead to: once Redis is back, the pool may wait this long.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(60);
/// `max_size` above this many times `(cores * 2) + 1` draws a warning.
const SIZING_FACTOR: u32 = 4;

/// What validation found.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub(crate) errors: Vec<Problem>,
    pub(crate) warnings: Vec<Problem>,
}

struct Checker<'a> {
    config: &'a Config,
    sources: &'a BTreeMap<&'static str, Source>,
    found: Findings,
}

impl Checker<'_> {
    fn source(&self, key: &str) -> Source {
        self.sources
            .get(key)
            .cloned()
            .unwrap_or(Source::Default(self.config.profile))
    }

    /// `key = value (from source)`, for naming a second key in a message.
    fn named(&self, key: &str, value: impl std::fmt::Display) -> String {
        format!("{key} = {value} (from {})", self.source(key))
    }

    fn error(&mut self, key: &str, message: impl AsRef<str>) {
        let problem = Problem::new(key, self.source(key), message);
        self.found.errors.push(problem);
    }

    fn warn(&mut self, key: &str, message: impl AsRef<str>) {
        let problem = Problem::new(key, self.source(key), message);
        self.found.warnings.push(problem);
    }

    /// The certificate files `url` names (`tls`: its `sslrootcert`, `sslcert` and
    /// `sslkey`) must be files.
    fn tls_files(&mut self, key: &str, url: &SecretUrl, tls: &TlsParams) {
        let client = tls.client_cert.as_ref();
        for (param, file, what) in [
            (
                "sslrootcert",
                tls.root_cert.as_deref(),
                "the CA that signed the server's certificate",
            ),
            (
                "sslcert",
                client.map(|files| files.cert.as_path()),
                "the client certificate",
            ),
            (
                "sslkey",
                client.map(|files| files.key.as_path()),
                "the client certificate's private key",
            ),
        ] {
            if let Some(file) = file.filter(|path| !path.is_file()) {
                self.error(
                    key,
                    format!(
                        "{url}: {param} {} is not a file: give the PEM file of {what}",
                        file.display()
                    ),
                );
            }
        }
    }

    /// `postgres.password_file` must hold a password now, and `postgres.url` (`url`, as
    /// the driver reads it) must not name one of its own, which would win over the file.
    fn password_file(&mut self, file: &std::path::Path, url: Option<&tokio_postgres::Config>) {
        const KEY: &str = "postgres.password_file";
        if let Err(e) = crate::password_file::read_password_file(file) {
            self.error(
                KEY,
                format!(
                    "{} cannot be read ({e}): mount the secret there, or unset the key",
                    file.display()
                ),
            );
        }
        if url.is_some_and(|url| url.get_password().is_some()) {
            let other = self.named("postgres.url", &self.config.postgres.url);
            self.error(
                KEY,
                format!(
                    "is set, but {other} names a password of its own, which would win: \
                     take the password out of the URL, or unset {KEY}"
                ),
            );
        }
    }

    /// `redis.password_file` must hold a password now (text, as Redis's AUTH takes it),
    /// and be the only password of the data nodes' URLs (`data_urls`, parsed: a
    /// Sentinel group's URLs are the sentinels', whose password stays theirs).
    fn redis_password_file(
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

    /// A PostgreSQL URL of `key`; its settings as the driver reads them, when it is
    /// valid.
    fn postgres_url(&mut self, key: &str, url: &SecretUrl) -> Option<tokio_postgres::Config> {
        let driver_url = match crate::tls_params::split_tls_params(url.expose()) {
            Ok((driver_url, tls)) => {
                self.tls_files(key, url, &tls);
                if tls.client_cert.is_some() && tls.mode == SslMode::Disable {
                    self.warn(
                        key,
                        format!(
                            "{url} names a client certificate (sslcert) with sslmode=disable, \
                             which never sends it: remove sslcert and sslkey, or use \
                             sslmode=verify-full"
                        ),
                    );
                }
                driver_url
            }
            Err(e) => {
                self.error(key, format!("{url}: {e}"));
                return None;
            }
        };
        let parsed = match tokio_postgres::Config::from_str(&driver_url) {
            Err(e) => {
                self.error(
                    key,
                    format!("{url} is not a valid PostgreSQL connection string ({e})"),
                );
                return None;
            }
            Ok(parsed) => parsed,
        };
        if parsed.get_hosts().len() > 1
            && parsed.get_target_session_attrs()
                != tokio_postgres::config::TargetSessionAttrs::ReadWrite
        {
            self.warn(
                key,
                format!(
                    "{url} names several hosts without target_session_attrs=read-write: \
                     after a failover the pool may connect to a read-only standby; \
                     add ?target_session_attrs=read-write"
                ),
            );
        }
        Some(parsed)
    }

    /// A Redis URL of `key`: `redis://` or `unix://`, or `rediss://` (TLS), whose
    /// certificate files must be files. The URL parsed, when it parses.
    fn redis_url(&mut self, key: &str, url: &SecretUrl) -> Option<url::Url> {
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
    check_postgres(&mut c);
    check_redis(&mut c);
    check_retry(&mut c);
    check_overflow(&mut c);
    check_breaker(&mut c);
    check_health(&mut c);
    c.found
}

fn check_postgres(c: &mut Checker<'_>) {
    let pg = &c.config.postgres;
    let url = if pg.url.is_empty() {
        c.error(
            "postgres.url",
            "is not set: set DATABASE_URL, POOLSIDE_POSTGRES__URL, or url under [postgres] in poolside.toml",
        );
        None
    } else {
        c.postgres_url("postgres.url", &pg.url)
    };
    if let Some(file) = &pg.password_file {
        c.password_file(file, url.as_ref());
    }
    if let Some(direct) = &pg.direct_url {
        c.postgres_url("postgres.direct_url", direct);
    }
    for replica in &pg.replicas {
        c.postgres_url("postgres.replicas", replica);
    }
    if pg.min_idle > pg.max_size {
        let other = c.named("postgres.max_size", pg.max_size);
        c.error(
            "postgres.min_idle",
            format!(
                "{} is greater than {other}: lower min_idle or raise max_size",
                pg.min_idle
            ),
        );
    }
    if !pg.connection_timeout.is_zero() && pg.connection_timeout < MIN_POOL_TIMEOUT {
        c.error(
            "postgres.connection_timeout",
            format!(
                "{} is under 1s: a pool timeout this short fails requests that would have been served; use 1s or more",
                show_duration(&pg.connection_timeout)
            ),
        );
    }
    if pg.idle_timeout >= pg.max_lifetime && !pg.max_lifetime.is_zero() {
        let other = c.named("postgres.max_lifetime", show_duration(&pg.max_lifetime));
        c.error(
            "postgres.idle_timeout",
            format!(
                "{} is not shorter than {other}: an idle connection would never time out; lower idle_timeout",
                show_duration(&pg.idle_timeout)
            ),
        );
    }
    if let Some(leak) = pg.leak_detection_threshold {
        if leak < MIN_LEAK_THRESHOLD {
            c.error(
                "postgres.leak_detection_threshold",
                format!(
                    "{} is under 2s: ordinary queries would be reported as leaks; use 2s or more, or off",
                    show_duration(&leak)
                ),
            );
        } else if leak > pg.max_lifetime {
            let other = c.named("postgres.max_lifetime", show_duration(&pg.max_lifetime));
            c.error(
                "postgres.leak_detection_threshold",
                format!(
                    "{} is over {other}: no connection lives long enough to be reported",
                    show_duration(&leak)
                ),
            );
        }
    }
    if let Some(connect) = pg.connect_timeout
        && connect > pg.connection_timeout
    {
        let other = c.named(
            "postgres.connection_timeout",
            show_duration(&pg.connection_timeout),
        );
        c.warn(
            "postgres.connect_timeout",
            format!(
                "{} is longer than {other}, which bounds the whole wait",
                show_duration(&connect)
            ),
        );
    }
    if pg.pipeline_connections > 0
        && pg.pipeline_connections >= pg.max_size
        && c.source("postgres.pipeline_connections").rank() > 0
    {
        let other = c.named("postgres.max_size", pg.max_size);
        c.error(
            "postgres.pipeline_connections",
            format!(
                "{} is not below {other}: the pipelined path would leave no connection for \
                 transactions; lower it, or set 0 to turn the path off",
                pg.pipeline_connections
            ),
        );
    }
    check_read_connections(c);
    check_sizing(c);
}

/// The batched read path's connections are reserved within `max_size`, and need
/// statements prepared per connection, which PgBouncer's transaction mode cannot keep.
fn check_read_connections(c: &mut Checker<'_>) {
    let pg = &c.config.postgres;
    if pg.read_connections == 0 {
        return;
    }
    if pg.pgbouncer {
        let other = c.named("postgres.pgbouncer", true);
        c.error(
            "postgres.read_connections",
            format!(
                "{} with {other}: the batched read path prepares statements per server \
                 connection, which PgBouncer's transaction mode does not keep; set it to 0",
                pg.read_connections
            ),
        );
    } else if pg.read_connections + pg.shared_pipeline_connections() >= pg.max_size {
        let other = c.named("postgres.max_size", pg.max_size);
        c.error(
            "postgres.read_connections",
            format!(
                "{} plus the pipelined path's {} is not below {other}: nothing would be left \
                 for transactions; lower one, or raise max_size",
                pg.read_connections,
                pg.shared_pipeline_connections()
            ),
        );
    }
}

fn check_sizing(c: &mut Checker<'_>) {
    let pg = &c.config.postgres;
    let (max_size, min_idle) = (pg.max_size, pg.min_idle);
    if max_size > 100 {
        c.warn(
            "postgres.max_size",
            format!(
                "{max_size} is very high (over 100) and may exhaust the server's max_connections"
            ),
        );
    }
    if min_idle > 50 {
        c.warn(
            "postgres.min_idle",
            format!("{min_idle} is very high (over 50): each idle connection costs server memory"),
        );
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let usual = cores * 2 + 1;
    if max_size > usual * SIZING_FACTOR && max_size <= 100 {
        c.warn(
            "postgres.max_size",
            format!(
                "{max_size} is far above (cores * 2) + 1 = {usual} for this machine's {cores} cores: \
                 a database runs few more queries at once than it has cores, so size to the \
                 database's cores and measure"
            ),
        );
    }
}

fn check_redis(c: &mut Checker<'_>) {
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
fn check_redis_mode(c: &mut Checker<'_>, redis: &crate::RedisConfig) {
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
    let sentinels: Vec<url::Url> = redis
        .sentinels
        .iter()
        .filter_map(|url| c.redis_url("redis.sentinels", url))
        .collect();
    check_group_tls(c, "redis.sentinels", &sentinels);
    let cluster_nodes: Vec<url::Url> = redis
        .cluster_nodes
        .iter()
        .filter_map(|url| c.redis_url("redis.cluster_nodes", url))
        .collect();
    check_group_tls(c, "redis.cluster_nodes", &cluster_nodes);
    if let Some(file) = &redis.password_file {
        let data_urls = match redis.mode {
            crate::RedisMode::Cluster => cluster_nodes,
            _ => url.into_iter().collect(),
        };
        c.redis_password_file(file, redis, &data_urls);
    }
}

/// A group's connections all speak TLS or none do, trusting one CA file and
/// presenting one client certificate: the client learns the other servers from the
/// first it reaches (a cluster's nodes, a Sentinel group's primary and replica) and
/// reaches them as it reached it. `urls`: the URLs of `key` (`redis.cluster_nodes`,
/// `redis.sentinels`) that parse.
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

fn check_retry(c: &mut Checker<'_>) {
    let retry = &c.config.retry;
    if retry.budget_percent > 1000 {
        c.error(
            "retry.budget_percent",
            format!("{} is outside 0..=1000 percent", retry.budget_percent),
        );
    }
    if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&retry.budget_window) {
        c.error(
            "retry.budget_window",
            format!(
                "{} is outside 1s..=60s: the budget counts requests over a window of 1 to 60 seconds",
                show_duration(&retry.budget_window)
            ),
        );
    }
    if retry.base_delay > retry.max_delay {
        let other = c.named("retry.max_delay", show_duration(&retry.max_delay));
        c.error(
            "retry.base_delay",
            format!(
                "{} is greater than {other}: lower base_delay or raise max_delay",
                show_duration(&retry.base_delay)
            ),
        );
    }
}

fn check_breaker(c: &mut Checker<'_>) {
    let breaker = &c.config.breaker;
    if breaker.failure_rate_percent == 0 {
        c.error(
            "breaker.failure_rate_percent",
            "0 would open the breaker on every call: use 1..=100",
        );
    }
}

fn check_overflow(c: &mut Checker<'_>) {
    let overflow = &c.config.overflow;
    if overflow.hand_back_margin > overflow.utilization_threshold {
        let other = c.named(
            "overflow.utilization_threshold",
            overflow.utilization_threshold,
        );
        c.error(
            "overflow.hand_back_margin",
            format!(
                "{} is greater than {other}: the primary could never be that far below the threshold",
                overflow.hand_back_margin
            ),
        );
    }
    if let Some(url) = &overflow.secondary_url {
        c.postgres_url("overflow.secondary_url", url);
    }
}

fn check_health(c: &mut Checker<'_>) {
    let health = &c.config.health;
    if health.warning_utilization >= health.critical_utilization {
        let other = c.named("health.critical_utilization", health.critical_utilization);
        c.error(
            "health.warning_utilization",
            format!(
                "{} is not below {other}: warning must come before critical",
                health.warning_utilization
            ),
        );
    }
    if health.check_timeout > health.check_interval {
        let other = c.named(
            "health.check_interval",
            show_duration(&health.check_interval),
        );
        c.warn(
            "health.check_timeout",
            format!(
                "{} is longer than {other}: checks would overlap",
                show_duration(&health.check_timeout)
            ),
        );
    }
}
