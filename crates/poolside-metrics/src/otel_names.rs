//! The OpenTelemetry database client metrics (semantic conventions, `db.client.*`),
//! under `metrics.naming = "otel"`, as Prometheus renders them from OTLP: dots become
//! underscores, a unit of seconds adds `_seconds`, a counter `_total`, and a
//! `{connection}`-style unit adds nothing. Their attributes become labels the same way
//! (`db.client.connection.pool.name` is `db_client_connection_pool_name`).
//!
//! Figures the conventions do not name (refused and closed connections, leaks,
//! retries, the breaker, the cache, replicas, health) keep their `poolside_*` names
//! ([`names`](crate::names)) in both namings.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// `db.client.operation.duration` (histogram, s): operations by `db_system_name`,
/// `db_operation_name` and, when they failed, `error_type`.
pub const OPERATION_DURATION: &str = "db_client_operation_duration_seconds";
/// `db.client.connection.count` (updowncounter, {connection}): connections by
/// `db_client_connection_state` (`used`, `idle`).
pub const CONNECTION_COUNT: &str = "db_client_connection_count";
/// `db.client.connection.max` ({connection}): most connections the pool opens.
pub const CONNECTION_MAX: &str = "db_client_connection_max";
/// `db.client.connection.idle.max` ({connection}): most idle connections allowed.
pub const CONNECTION_IDLE_MAX: &str = "db_client_connection_idle_max";
/// `db.client.connection.idle.min` ({connection}): idle connections the pool keeps.
pub const CONNECTION_IDLE_MIN: &str = "db_client_connection_idle_min";
/// `db.client.connection.pending_requests` ({request}): requests waiting for a
/// connection.
pub const CONNECTION_PENDING_REQUESTS: &str = "db_client_connection_pending_requests";
/// `db.client.connection.timeouts` (counter, {timeout}): checkouts that timed out.
pub const CONNECTION_TIMEOUTS: &str = "db_client_connection_timeouts_total";
/// `db.client.connection.create_time` (histogram, s): time opening a connection took.
pub const CONNECTION_CREATE_TIME: &str = "db_client_connection_create_time_seconds";
/// `db.client.connection.wait_time` (histogram, s): time a checkout waited.
pub const CONNECTION_WAIT_TIME: &str = "db_client_connection_wait_time_seconds";
/// `db.client.connection.use_time` (histogram, s): time a connection was held.
pub const CONNECTION_USE_TIME: &str = "db_client_connection_use_time_seconds";

/// The pool label of every connection metric.
pub const POOL_NAME: &str = "db_client_connection_pool_name";
/// The connection state label of [`CONNECTION_COUNT`].
pub const CONNECTION_STATE: &str = "db_client_connection_state";

/// Every name above.
pub const ALL: &[&str] = &[
    OPERATION_DURATION,
    CONNECTION_COUNT,
    CONNECTION_MAX,
    CONNECTION_IDLE_MAX,
    CONNECTION_IDLE_MIN,
    CONNECTION_PENDING_REQUESTS,
    CONNECTION_TIMEOUTS,
    CONNECTION_CREATE_TIME,
    CONNECTION_WAIT_TIME,
    CONNECTION_USE_TIME,
];

/// Registers the help text of every metric above, in the conventions' own words.
pub fn describe() {
    describe_histogram!(
        OPERATION_DURATION,
        Unit::Seconds,
        "Duration of database client operations."
    );
    describe_gauge!(
        CONNECTION_COUNT,
        Unit::Count,
        "The number of connections that are currently in state described by the state attribute."
    );
    describe_gauge!(
        CONNECTION_MAX,
        Unit::Count,
        "The maximum number of open connections allowed."
    );
    describe_gauge!(
        CONNECTION_IDLE_MAX,
        Unit::Count,
        "The maximum number of idle open connections allowed."
    );
    describe_gauge!(
        CONNECTION_IDLE_MIN,
        Unit::Count,
        "The minimum number of idle open connections allowed."
    );
    describe_gauge!(
        CONNECTION_PENDING_REQUESTS,
        Unit::Count,
        "The number of current pending requests for an open connection."
    );
    describe_counter!(
        CONNECTION_TIMEOUTS,
        Unit::Count,
        "The number of connection timeouts that have occurred trying to obtain a connection from the pool."
    );
    describe_histogram!(
        CONNECTION_CREATE_TIME,
        Unit::Seconds,
        "The time it took to create a new connection."
    );
    describe_histogram!(
        CONNECTION_WAIT_TIME,
        Unit::Seconds,
        "The time it took to obtain an open connection from the pool."
    );
    describe_histogram!(
        CONNECTION_USE_TIME,
        Unit::Seconds,
        "The time between borrowing a connection and returning it to the pool."
    );
}
