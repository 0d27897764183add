//! [`ConnectionBudget`]: whether `expected_instances x max_size` connections fit in
//! what the server (and PgBouncer, in front of it) leaves free, read at start-up and
//! shown by the detailed health view.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use tokio_postgres::SimpleQueryMessage;
use tokio_postgres::types::Type;

use super::{PgError, PgPool};
use crate::ErrorKind;

/// The server's connection budget as this pool sees it, and PgBouncer's when the pool
/// runs behind it. [`problems`](Self::problems) says what does not fit.
///
/// # Examples
///
/// ```no_run
/// # async fn run(pool: poolside_core::PgPool) -> Result<(), poolside_core::PgError> {
/// let budget = pool.budget().await?;
/// for problem in budget.problems() {
///     eprintln!("connection budget: {problem}");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ConnectionBudget {
    /// The server's `max_connections`.
    pub max_connections: u32,
    /// The server's `superuser_reserved_connections` plus `reserved_connections`
    /// (PostgreSQL 16 and later): slots ordinary roles cannot take.
    pub reserved_connections: u32,
    /// Client connections open on the server now that are not this service's: other
    /// applications, consoles, other poolers.
    pub held_by_others: u32,
    /// Client connections open on the server now that are this service's, every
    /// instance counted (through PgBouncer: PgBouncer's server connections).
    pub held_by_this: u32,
    /// `postgres.expected_instances`.
    pub expected_instances: u32,
    /// `postgres.max_size` of each instance.
    pub max_size: u32,
    /// Whether the pool runs behind PgBouncer (`postgres.pgbouncer`).
    pub behind_pgbouncer: bool,
    /// PgBouncer's side, when the pool runs behind it and its admin console answered.
    pub pgbouncer: Option<PgBouncerBudget>,
    /// What could not be read, and why (the budget is unchecked there).
    pub unread: Vec<String>,
}

/// PgBouncer's limits and pools, read over its admin console (`SHOW CONFIG`,
/// `SHOW POOLS`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PgBouncerBudget {
    /// `max_client_conn`: client connections PgBouncer accepts in all.
    pub max_client_conn: u32,
    /// `default_pool_size`: server connections per database and user.
    pub default_pool_size: u32,
    /// `reserve_pool_size`: extra server connections when clients wait too long.
    pub reserve_pool_size: u32,
    /// `max_db_connections`: server connections per database; 0 for no limit.
    pub max_db_connections: u32,
    /// `server_login_retry`, in milliseconds: after a failed login to PostgreSQL,
    /// how long PgBouncer refuses clients before it tries again. `None` when
    /// `SHOW CONFIG` did not list it.
    pub server_login_retry_ms: Option<u64>,
    /// The `pool_mode` of this service's database and user (`SHOW POOLS`), else
    /// PgBouncer's default (`SHOW CONFIG`): `session`, `transaction` or `statement`.
    pub pool_mode: Option<String>,
    /// `SHOW POOLS`, one row per database and user, column -> value.
    pub pools: Vec<BTreeMap<String, String>>,
}

/// The `server_login_retry` above which PgBouncer holds a service down well after
/// PostgreSQL restarted.
const SLOW_LOGIN_RETRY_MS: u64 = 2_000;

impl PgBouncerBudget {
    /// What keeps the service down after PostgreSQL restarts, with what to change;
    /// `None` when nothing does. During a restart PgBouncer's logins to the server
    /// fail, and for `server_login_retry` after the last failure PgBouncer refuses
    /// new statements (`08P01`) and holds those queued, the server back or not.
    pub fn slow_recovery(&self) -> Option<String> {
        let retry = self.server_login_retry_ms?;
        (retry > SLOW_LOGIN_RETRY_MS).then(|| {
            format!(
                "PgBouncer's server_login_retry is {:.1} s: after PostgreSQL restarts, \
                 PgBouncer refuses this service's statements, and holds those queued, for \
                 up to that long once the server is back; set server_login_retry = 1 in \
                 pgbouncer.ini",
                retry as f64 / 1000.0
            )
        })
    }

    /// What this service's `pool_mode` breaks, with what to change; `None` in
    /// transaction mode, which the pool is built for.
    fn pool_mode_problem(&self, instances: &str, needed: u32) -> Option<String> {
        let per_pool = self.server_connections_per_pool();
        match self.pool_mode.as_deref()? {
            "session" if needed > per_pool => Some(format!(
                "PgBouncer runs this database and user in session mode, where each client \
                 connection holds a server connection for its whole life, and {instances}, \
                 but PgBouncer opens at most {per_pool} for them (default_pool_size {} + \
                 reserve_pool_size {}): the connections past those wait for a server until \
                 query_wait_timeout; set pool_mode = transaction, or lower postgres.max_size",
                self.default_pool_size, self.reserve_pool_size
            )),
            "statement" => Some(
                "PgBouncer runs this database and user in statement mode, which refuses \
                 transactions of more than one statement (PgPool::transaction fails): set \
                 pool_mode = transaction"
                    .to_owned(),
            ),
            _ => None,
        }
    }

    /// The most server connections PgBouncer opens for one database and user.
    pub(crate) fn server_connections_per_pool(&self) -> u32 {
        let pool = self.default_pool_size + self.reserve_pool_size;
        match self.max_db_connections {
            0 => pool,
            limit => pool.min(limit),
        }
    }

    /// Server connections PgBouncer holds now, over all its pools.
    pub(crate) fn server_connections(&self) -> u32 {
        const SERVER_STATES: [&str; 5] =
            ["sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login"];
        self.pools
            .iter()
            .flat_map(|row| SERVER_STATES.iter().filter_map(|state| row.get(*state)))
            .filter_map(|value| value.parse::<u32>().ok())
            .sum()
    }
}

impl ConnectionBudget {
    /// Connections the service's instances may open together:
    /// `expected_instances x max_size`.
    pub fn needed(&self) -> u32 {
        self.expected_instances.saturating_mul(self.max_size)
    }

    /// Server connections left to this service: `max_connections`, less the reserved
    /// slots and what other clients hold.
    pub fn room(&self) -> u32 {
        self.max_connections
            .saturating_sub(self.reserved_connections)
            .saturating_sub(self.held_by_others)
    }

    /// What does not fit, each naming both numbers and what to change; empty when
    /// everything fits.
    pub fn problems(&self) -> Vec<String> {
        let (needed, room) = (self.needed(), self.room());
        let server = format!(
            "the server has room for {room} (max_connections {} - {} reserved - {} held by other clients)",
            self.max_connections, self.reserved_connections, self.held_by_others
        );
        let instances = format!(
            "postgres.expected_instances {} x postgres.max_size {} = {needed} connections",
            self.expected_instances, self.max_size
        );
        let mut problems = Vec::new();
        match &self.pgbouncer {
            None if !self.behind_pgbouncer && needed > room => {
                let fits = room / self.expected_instances.max(1);
                problems.push(format!(
                    "{instances}, but {server}: lower postgres.max_size to {fits}, raise the \
                     server's max_connections, or put PgBouncer in front"
                ));
            }
            // Fits; or behind a PgBouncer whose limits could not be read (`unread`
            // says so).
            None => {}
            Some(bouncer) => {
                if needed > bouncer.max_client_conn {
                    problems.push(format!(
                        "{instances}, but PgBouncer's max_client_conn is {}: raise max_client_conn \
                         or lower postgres.max_size",
                        bouncer.max_client_conn
                    ));
                }
                let per_pool = bouncer.server_connections_per_pool();
                problems.extend(bouncer.pool_mode_problem(&instances, needed));
                if per_pool > room {
                    problems.push(format!(
                        "PgBouncer may open {per_pool} server connections for this database and \
                         user (default_pool_size {} + reserve_pool_size {}), but {server}: lower \
                         default_pool_size or raise the server's max_connections",
                        bouncer.default_pool_size, bouncer.reserve_pool_size
                    ));
                }
            }
        }
        problems
    }
}

/// One round trip: the server's limits and who holds its client connections.
const SERVER_SQL: &str = "SELECT current_setting('max_connections')::int4, \
     current_setting('superuser_reserved_connections')::int4 \
       + COALESCE(current_setting('reserved_connections', true), '0')::int4, \
     (count(*) FILTER (WHERE application_name IS DISTINCT FROM $1))::int4, \
     (count(*) FILTER (WHERE application_name = $1))::int4 \
     FROM pg_stat_activity WHERE COALESCE(backend_type, 'client backend') = 'client backend'";

impl PgPool {
    /// Reads the connection budget: the server's `max_connections`, its reserved
    /// slots and who holds its connections now; behind PgBouncer
    /// (`postgres.pgbouncer`), also PgBouncer's `SHOW CONFIG` and `SHOW POOLS` over
    /// its admin console, which needs the pool's user in PgBouncer's `stats_users`
    /// or `admin_users` (when it refuses, [`ConnectionBudget::unread`] says so).
    ///
    /// Fails when the server does not answer.
    pub async fn budget(&self) -> Result<ConnectionBudget, PgError> {
        let config = self.config();
        let mut conn = self.get().await?;
        let rows = conn
            .query_typed(
                SERVER_SQL,
                &[(&self.application_name().to_owned(), Type::TEXT)],
            )
            .await?;
        drop(conn);
        let row = rows
            .first()
            .ok_or_else(|| PgError::new(ErrorKind::Query, "pg_stat_activity returned no row"))?;
        let count = |i: usize| u32::try_from(row.get::<_, i32>(i)).unwrap_or(0);
        let mut budget = ConnectionBudget {
            max_connections: count(0),
            reserved_connections: count(1),
            held_by_others: count(2),
            held_by_this: count(3),
            expected_instances: config.expected_instances,
            max_size: config.max_size,
            behind_pgbouncer: config.pgbouncer,
            pgbouncer: None,
            unread: Vec::new(),
        };
        if config.pgbouncer {
            match self.pgbouncer_budget(config.connection_timeout).await {
                Ok(bouncer) => {
                    // PgBouncer passes each client's application_name on to the server
                    // connection it lends, so the server cannot tell them apart by it:
                    // everything but PgBouncer's own connections belongs to others.
                    let all = budget.held_by_others + budget.held_by_this;
                    budget.held_by_this = bouncer.server_connections().min(all);
                    budget.held_by_others = all - budget.held_by_this;
                    budget.pgbouncer = Some(bouncer);
                }
                Err(error) => budget.unread.push(format!(
                    "PgBouncer's admin console (database pgbouncer: SHOW CONFIG, SHOW POOLS) \
                     did not answer ({error}): its limits are unchecked; add the pool's user \
                     to PgBouncer's stats_users to check them"
                )),
            }
        }
        Ok(budget)
    }

    /// Checks the budget once and logs what does not fit (a warning each) and what
    /// could not be read; never fails. Run by [`connect`](Self::connect).
    pub(crate) async fn check_budget(&self) {
        let timeout = self.config().connection_timeout;
        match tokio::time::timeout(timeout, self.budget()).await {
            Ok(Ok(budget)) => {
                for problem in budget.problems() {
                    tracing::warn!(target: "poolside::pg", "connection budget: {problem}");
                }
                if let Some(slow) = budget.pgbouncer.as_ref().and_then(|b| b.slow_recovery()) {
                    tracing::warn!(target: "poolside::pg", "{slow}");
                }
                for unread in &budget.unread {
                    tracing::info!(target: "poolside::pg", "connection budget: {unread}");
                }
            }
            Ok(Err(error)) => tracing::info!(
                target: "poolside::pg",
                "connection budget unchecked: the server's limits could not be read ({error})"
            ),
            Err(_) => tracing::info!(
                target: "poolside::pg",
                "connection budget unchecked: the server's limits were not read within {timeout:?}"
            ),
        }
    }

    async fn pgbouncer_budget(&self, timeout: Duration) -> Result<PgBouncerBudget, PgError> {
        let admin = self.connect_outside("pgbouncer", timeout).await?;
        let read = |sql: &'static str| {
            let admin = &admin;
            async move {
                match tokio::time::timeout(timeout, admin.simple_query(sql)).await {
                    Ok(Ok(messages)) => Ok(rows_of(&messages)),
                    Ok(Err(e)) => Err(PgError::from_driver(e, sql)),
                    Err(_) => Err(PgError::new(
                        ErrorKind::Unavailable,
                        format!("{sql}: no answer within {timeout:?}"),
                    )),
                }
            }
        };
        let settings: BTreeMap<String, String> = read("SHOW CONFIG")
            .await?
            .into_iter()
            .filter_map(|mut row| Some((row.remove("key")?, row.remove("value")?)))
            .collect();
        let setting = |key: &str| {
            settings
                .get(key)
                .and_then(|v| v.parse::<u32>().ok())
                .ok_or_else(|| {
                    PgError::new(
                        ErrorKind::Query,
                        format!("SHOW CONFIG has no number for {key}"),
                    )
                })
        };
        let pools = read("SHOW POOLS").await?;
        let driver = self.driver_settings();
        Ok(PgBouncerBudget {
            max_client_conn: setting("max_client_conn")?,
            default_pool_size: setting("default_pool_size")?,
            reserve_pool_size: setting("reserve_pool_size")?,
            max_db_connections: setting("max_db_connections")?,
            server_login_retry_ms: settings
                .get("server_login_retry")
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|secs| secs.is_finite() && *secs >= 0.0)
                .map(|secs| (secs * 1000.0).round() as u64),
            pool_mode: pool_mode(&pools, &settings, driver.get_dbname(), driver.get_user()),
            pools,
        })
    }
}

/// The `pool_mode` of the pool of `database` and `user` in `SHOW POOLS`, else the
/// default in `SHOW CONFIG`'s `settings`.
fn pool_mode(
    pools: &[BTreeMap<String, String>],
    settings: &BTreeMap<String, String>,
    database: Option<&str>,
    user: Option<&str>,
) -> Option<String> {
    pools
        .iter()
        .find(|row| {
            row.get("database").map(String::as_str) == database
                && row.get("user").map(String::as_str) == user
        })
        .and_then(|row| row.get("pool_mode"))
        .or_else(|| settings.get("pool_mode"))
        .cloned()
}

/// The rows of a simple-protocol answer, each as column -> value (NULL left out).
fn rows_of(messages: &[SimpleQueryMessage]) -> Vec<BTreeMap<String, String>> {
    messages
        .iter()
        .filter_map(|message| match message {
            SimpleQueryMessage::Row(row) => Some(
                row.columns()
                    .iter()
                    .enumerate()
                    .filter_map(|(i, column)| {
                        Some((column.name().to_owned(), row.get(i)?.to_owned()))
                    })
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct(max_size: u32, instances: u32, others: u32) -> ConnectionBudget {
        ConnectionBudget {
            max_connections: 100,
            reserved_connections: 3,
            held_by_others: others,
            held_by_this: 0,
            expected_instances: instances,
            max_size,
            behind_pgbouncer: false,
            pgbouncer: None,
            unread: Vec::new(),
        }
    }

    /// A PgBouncer of 1,000 clients and 20 + 5 server connections per pool, in
    /// transaction mode, retrying logins after 1 s.
    fn bouncer() -> PgBouncerBudget {
        PgBouncerBudget {
            max_client_conn: 1000,
            default_pool_size: 20,
            reserve_pool_size: 5,
            max_db_connections: 0,
            server_login_retry_ms: Some(1_000),
            pool_mode: Some("transaction".to_owned()),
            pools: Vec::new(),
        }
    }

    #[test]
    fn direct_budget_names_both_numbers_and_the_fix() {
        assert!(direct(20, 4, 10).problems().is_empty(), "80 of 87 fit");
        let problems = direct(20, 5, 10).problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        let problem = &problems[0];
        for part in [
            "postgres.expected_instances 5 x postgres.max_size 20 = 100 connections",
            "room for 87 (max_connections 100 - 3 reserved - 10 held by other clients)",
            "lower postgres.max_size to 17",
        ] {
            assert!(problem.contains(part), "{part:?} missing from {problem}");
        }
    }

    #[test]
    fn pgbouncer_budget_checks_its_client_and_server_limits() {
        let mut budget = direct(50, 10, 0);
        budget.behind_pgbouncer = true;
        budget.pgbouncer = Some(PgBouncerBudget {
            pools: vec![BTreeMap::from([
                ("sv_active".to_owned(), "3".to_owned()),
                ("sv_idle".to_owned(), "4".to_owned()),
            ])],
            ..bouncer()
        });
        assert!(
            budget.problems().is_empty(),
            "500 clients, 25 server connections fit"
        );
        let bouncer = budget.pgbouncer.as_mut().expect("set");
        assert_eq!(bouncer.server_connections(), 7);
        bouncer.max_client_conn = 400;
        bouncer.default_pool_size = 95;
        let problems = budget.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].contains("max_client_conn is 400"),
            "{}",
            problems[0]
        );
        assert!(
            problems[1].contains("may open 100 server connections"),
            "{}",
            problems[1]
        );
        budget.pgbouncer.as_mut().expect("set").max_db_connections = 98;
        assert!(budget.problems()[1].contains("may open 98"));
    }

    #[test]
    fn the_pool_mode_is_this_database_and_users_own_else_the_default() {
        let row = |database: &str, user: &str, mode: &str| {
            BTreeMap::from([
                ("database".to_owned(), database.to_owned()),
                ("user".to_owned(), user.to_owned()),
                ("pool_mode".to_owned(), mode.to_owned()),
            ])
        };
        let pools = [
            row("pgbouncer", "pgbouncer", "statement"),
            row("app", "other", "transaction"),
            row("app", "app", "session"),
        ];
        let settings = BTreeMap::from([("pool_mode".to_owned(), "transaction".to_owned())]);
        assert_eq!(
            pool_mode(&pools, &settings, Some("app"), Some("app")).as_deref(),
            Some("session"),
            "the database's own override"
        );
        assert_eq!(
            pool_mode(&pools, &settings, Some("new"), Some("app")).as_deref(),
            Some("transaction"),
            "no pool yet: the default"
        );
    }

    #[test]
    fn session_and_statement_modes_are_named_with_their_fix() {
        // 5 instances x 10 = 50 clients; PgBouncer opens 20 + 5 server connections.
        let mut budget = direct(10, 5, 0);
        budget.behind_pgbouncer = true;
        let bouncer = bouncer();
        budget.pgbouncer = Some(bouncer.clone());
        assert!(budget.problems().is_empty(), "transaction mode multiplexes");

        budget.pgbouncer = Some(PgBouncerBudget {
            pool_mode: Some("session".to_owned()),
            ..bouncer.clone()
        });
        let problems = budget.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        for part in [
            "session mode",
            "= 50 connections",
            "at most 25",
            "set pool_mode = transaction",
        ] {
            assert!(
                problems[0].contains(part),
                "{part:?} missing from {}",
                problems[0]
            );
        }
        budget.max_size = 5;
        assert!(budget.problems().is_empty(), "25 session clients fit in 25");

        budget.pgbouncer = Some(PgBouncerBudget {
            pool_mode: Some("statement".to_owned()),
            ..bouncer
        });
        let problems = budget.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("statement mode"), "{}", problems[0]);
    }

    #[test]
    fn a_slow_server_login_retry_is_named_with_its_fix() {
        let mut bouncer = bouncer();
        assert_eq!(bouncer.slow_recovery(), None, "1 s is quick enough");
        bouncer.server_login_retry_ms = None;
        assert_eq!(bouncer.slow_recovery(), None, "not listed: nothing to say");
        bouncer.server_login_retry_ms = Some(15_000);
        let slow = bouncer
            .slow_recovery()
            .expect("15 s, PgBouncer's default, is slow");
        for part in ["server_login_retry is 15.0 s", "set server_login_retry = 1"] {
            assert!(slow.contains(part), "{part:?} missing from {slow}");
        }
    }

    #[test]
    fn an_unread_pgbouncer_is_not_judged_as_a_direct_connection() {
        let mut budget = direct(50, 10, 0);
        budget.behind_pgbouncer = true;
        budget
            .unread
            .push("PgBouncer's admin console did not answer".to_owned());
        assert!(budget.problems().is_empty());
    }
}
