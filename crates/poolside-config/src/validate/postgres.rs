//! The rules of `postgres.*`: its URL and password file, timeouts that fit together,
//! the batched read path's connections, and a pool size that fits the machine.

use std::str::FromStr;
use std::time::Duration;

use crate::SecretUrl;
use crate::parse::show_duration;
use crate::tls_params::SslMode;

use super::MIN_POOL_TIMEOUT;
use super::checker::Checker;

/// The shortest leak threshold: below it, ordinary transactions would be reported.
const MIN_LEAK_THRESHOLD: Duration = Duration::from_secs(2);
/// The most connections PostgreSQL takes: `max_connections` is at most this
/// (`MAX_BACKENDS`, 2^18 - 1).
const MAX_BACKENDS: u32 = 262_143;
/// `max_size` above this many times `(cores * 2) + 1` draws a warning.
const SIZING_FACTOR: u32 = 4;

impl Checker<'_> {
    /// `postgres.password_file` must hold a password now, and `postgres.url` (`url`, as
    /// the driver reads it) must not name one of its own, which would win over the file.
    pub(super) fn password_file(
        &mut self,
        file: &std::path::Path,
        url: Option<&tokio_postgres::Config>,
    ) {
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

    /// A PostgreSQL URL of `key`; its settings as the driver reads them, when it is
    /// valid.
    pub(super) fn postgres_url(
        &mut self,
        key: &str,
        url: &SecretUrl,
    ) -> Option<tokio_postgres::Config> {
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
}

pub(super) fn check_postgres(c: &mut Checker<'_>) {
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
pub(super) fn check_read_connections(c: &mut Checker<'_>) {
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
    } else if pg
        .read_connections
        .saturating_add(pg.shared_pipeline_connections())
        >= pg.max_size
    {
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

pub(super) fn check_sizing(c: &mut Checker<'_>) {
    let pg = &c.config.postgres;
    let (max_size, min_idle) = (pg.max_size, pg.min_idle);
    if max_size > MAX_BACKENDS {
        c.error(
            "postgres.max_size",
            format!(
                "{max_size} is over {MAX_BACKENDS}, the most connections a PostgreSQL server \
                 takes (its max_connections cannot go higher): lower it"
            ),
        );
    } else if max_size > 100 {
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
