//! [`PgManager`]: bb8-postgres's connection manager (one per connect, on the settings of
//! that moment: see `ConnectConfig`), wrapped to give each connection a statement cache
//! and a jittered lifetime, to publish every connect failure so that waiters fail
//! fast with the server's real error instead of a pool timeout, and to space connects
//! while they fail ([`ConnectSpacing`]).

use std::sync::Arc;
use std::time::Duration;

use bb8_postgres::PostgresConnectionManager;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::PgError;
use super::connect_config::ConnectConfig;
use super::connect_spacing::ConnectSpacing;
use super::connection::{ConnectionOptions, PgConnection, SessionCleaning};
use super::generation::Generation;
use super::lifetime;
use super::param_types::ParamTypes;
use super::read::Connector;
use super::schema_epoch::SchemaEpoch;
use super::session_effects;
use super::stats::Counters;
use crate::fair_pool::FailureSender;
use crate::observer::ObserverSlot;

/// When cancel requests go out for a statement whose future was dropped: at once,
/// and again in case the first arrived before the backend read the statement.
const CANCEL_AGAIN_AFTER: [Duration; 2] = [Duration::ZERO, Duration::from_millis(100)];

/// Opens, checks and retires PostgreSQL connections for bb8.
pub(crate) struct PgManager {
    /// The driver's settings, and the password file read at each connect.
    config: ConnectConfig,
    /// The same TLS setup, for cancel requests (a server that requires TLS refuses
    /// them in the clear).
    tls: MakeRustlsConnect,
    /// `host:port` list, for messages (no credentials).
    pub(crate) target: String,
    options: ConnectionOptions,
    max_lifetime: Duration,
    /// Bounds the whole connect, handshake and authentication included: the driver's
    /// own connect timeout covers the TCP connect only, and a server that speaks
    /// another protocol never answers the handshake.
    connect_timeout: Duration,
    failures: FailureSender<PgError>,
    /// Spaces connects while they fail; shared with the batched read path.
    spacing: Arc<ConnectSpacing>,
    counters: Arc<Counters>,
    pub(crate) generation: Arc<Generation>,
    /// Shared by every statement cache of the pool, the pipeline's included.
    pub(crate) schema: Arc<SchemaEpoch>,
    /// In PgBouncer mode, the parameter types of every connection's unnamed
    /// statements, learnt once for the pool.
    pub(crate) param_types: Option<Arc<ParamTypes>>,
    pub(crate) observer: ObserverSlot,
}

impl std::fmt::Debug for PgManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgManager")
            .field("target", &self.target)
            .field("pgbouncer", &self.options.pgbouncer)
            .finish_non_exhaustive()
    }
}

impl PgManager {
    pub(crate) fn new(
        config: ConnectConfig,
        tls: MakeRustlsConnect,
        failures: FailureSender<PgError>,
        options: ConnectionOptions,
        max_lifetime: Duration,
        counters: Arc<Counters>,
    ) -> Self {
        let target = describe_hosts(config.settings());
        let connect_timeout = config
            .settings()
            .get_connect_timeout()
            .copied()
            .unwrap_or(Duration::from_secs(10));
        Self {
            config,
            tls,
            target,
            options,
            max_lifetime,
            connect_timeout,
            failures,
            spacing: Arc::new(ConnectSpacing::new()),
            counters,
            generation: Arc::default(),
            schema: Arc::default(),
            param_types: options
                .pgbouncer
                .then(|| Arc::new(ParamTypes::new(options.cache_size))),
            observer: ObserverSlot::default(),
        }
    }
}

impl PgManager {
    /// A connector for the batched read path: the same server, settings and TLS
    /// setup, its connects spaced with these, or why it cannot serve that URL.
    pub(crate) fn read_connector(&self, timeout: Duration) -> Result<Connector, &'static str> {
        Connector::new(
            &self.config,
            self.tls.clone(),
            Arc::clone(&self.spacing),
            timeout,
            &self.target,
        )
    }

    /// bb8-postgres's connect, on the settings of now (the password in the file read
    /// anew when there is one).
    async fn connect_driver(&self) -> Result<tokio_postgres::Client, PgError> {
        let connecting = |e| {
            let error = PgError::connecting(e, &format!("connecting to {}", self.target));
            self.config.explain(error)
        };
        let settings = self.config.for_connect()?.into_owned();
        let manager = PostgresConnectionManager::new(settings, self.tls.clone());
        bb8::ManageConnection::connect(&manager)
            .await
            .map_err(connecting)
    }

    /// Opens one connection (the body of `connect`, run in its span).
    async fn open(&self) -> Result<PgConnection, PgError> {
        let began = match self.spacing.start(&self.target) {
            Ok(began) => began,
            Err(held_off) => {
                // Published, so that waiters fail at once as on a real failure; not
                // logged, as waiters ask every 100 ms.
                self.failures
                    .send_replace(Some(Arc::new(held_off.duplicate())));
                return Err(held_off);
            }
        };
        let started = self.observer.get().map(|_| began);
        let connected = tokio::time::timeout(self.connect_timeout, self.connect_driver()).await;
        let connected = match connected {
            Ok(result) => result,
            Err(_) => Err(PgError::new(
                crate::ErrorKind::Connect,
                format!(
                    "connecting to {}: no answer to the PostgreSQL handshake within {:?}: check \
                     that postgres.url names a PostgreSQL server (or PgBouncer) on that port{}",
                    self.target,
                    self.connect_timeout,
                    if self.options.pgbouncer {
                        ", and that its database was not killed there (a KILL holds new \
                         connections until RESUME <database>)"
                    } else {
                        ""
                    }
                ),
            )
            .unsent()),
        };
        self.spacing.record(began, &connected);
        match connected {
            Ok(client) => {
                self.counters.created();
                if let (Some(observer), Some(started)) = (self.observer.get(), started) {
                    observer.connected(started.elapsed());
                }
                Ok(PgConnection::new(
                    client,
                    self.options,
                    lifetime::jittered(self.max_lifetime),
                    Arc::clone(&self.generation),
                    Arc::clone(&self.schema),
                    self.param_types.clone(),
                ))
            }
            Err(error) => {
                self.failures
                    .send_replace(Some(Arc::new(error.duplicate())));
                Err(error)
            }
        }
    }

    /// Readies a connection whose caller may have left a transaction block open
    /// ([`PgConnection::client`], or a BEGIN that nothing ended) or changed a setting
    /// (`SET`): passed once the server says no block is open, its settings put back.
    /// One left inside a block fails and is closed, which rolls the block back, rather
    /// than taking in the next caller's statements.
    async fn clean_session(
        &self,
        conn: &PgConnection,
        cleaning: SessionCleaning,
    ) -> Result<(), PgError> {
        match session_effects::clean_session(conn.driver(), cleaning).await {
            Ok(true) => {
                conn.session_cleaned();
                Ok(())
            }
            Ok(false) => {
                self.counters.interrupted();
                tracing::warn!(
                    target: "poolside::pg",
                    "a connection came back to the pool inside a transaction block (a BEGIN \
                     with no COMMIT or ROLLBACK after it): closed, so that the server rolls \
                     the block back"
                );
                Err(PgError::new(
                    crate::ErrorKind::Connect,
                    "the connection was left inside a transaction block and was closed: end \
                     every block (COMMIT or ROLLBACK) before the connection goes back, or use \
                     PgPool::transaction",
                ))
            }
            Err(e) => Err(PgError::from_driver(e, "readying a connection's session")),
        }
    }
}

impl bb8::ManageConnection for PgManager {
    type Connection = PgConnection;
    type Error = PgError;

    async fn connect(&self) -> Result<PgConnection, PgError> {
        use tracing::Instrument as _;
        self.open()
            .instrument(tracing::info_span!(target: "poolside::db", "poolside.connect"))
            .await
    }

    async fn is_valid(&self, conn: &mut PgConnection) -> Result<(), PgError> {
        if conn.is_retired() {
            self.counters.retired();
            return Err(PgError::new(
                crate::ErrorKind::Connect,
                "connection retired: a connection of its generation found the server read-only",
            ));
        }
        if conn.is_expired() {
            self.counters.expired();
            return Err(PgError::new(
                crate::ErrorKind::Connect,
                "connection reached its max_lifetime",
            ));
        }
        if let Some(cleaning) = conn.session_to_clean() {
            // Boxed, as below.
            return Box::pin(self.clean_session(conn, cleaning)).await;
        }
        if conn.recently_used() && !conn.is_closed() {
            return Ok(());
        }
        // Boxed: bb8 holds this future inside every checkout's, which mostly skips it.
        Box::pin(conn.driver().simple_query(""))
            .await
            .map(drop)
            .map_err(|e| PgError::from_driver(e, "checking a connection"))
    }

    fn has_broken(&self, conn: &mut PgConnection) -> bool {
        if conn.may_hold_session_locks() && !conn.was_interrupted() {
            // Idle in the pool, the session would hold its advisory locks, and keep
            // every process asking for one waiting: closing it releases them.
            self.counters.interrupted();
            return true;
        }
        if conn.is_in_transaction() && !conn.was_interrupted() {
            // A transaction's future was dropped between statements: closing the
            // connection makes the server roll it back.
            self.counters.interrupted();
            return true;
        }
        if conn.was_interrupted() || conn.has_timed_out() {
            // A statement's future was dropped mid-flight (or a transaction's, with
            // pipelined statements unread), or it ran past the query timeout (on this
            // connection or, pipelined, on one it shared): the server may still be
            // running it, or the network under it may be stalled. Cancel it there, and
            // never hand this connection out again
            // (a cancel racing the next statement could hit that one instead).
            self.counters.interrupted();
            let token = conn.driver().cancel_token();
            let tls = self.tls.clone();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    // A cancel that reaches the backend before it has read the
                    // statement is a no-op, and the statement then runs to its end:
                    // cancel once more a moment later. The connection is discarded,
                    // so a second cancel can only hit this statement or nothing.
                    for delay in CANCEL_AGAIN_AFTER {
                        tokio::time::sleep(delay).await;
                        if let Err(e) = token.cancel_query(tls.clone()).await {
                            tracing::debug!(target: "poolside::pg", error = %e, "cancel request failed");
                        }
                    }
                });
            }
            return true;
        }
        if conn.is_retired() {
            self.counters.retired();
            return true;
        }
        if conn.is_expired() {
            self.counters.expired();
            return true;
        }
        conn.is_closed()
    }
}

/// `host:port` of every host in the config, comma separated.
fn describe_hosts(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let ports = config.get_ports();
    config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match host {
                Host::Tcp(name) => format!("{name}:{port}"),
                Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}
