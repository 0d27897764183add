//! Every metric poolside exports: Prometheus conventions (`poolside_` prefix, base
//! units, `_seconds`, `_total`), modelled on HikariCP's set. Labels stay few and
//! bounded: `pool`, the caller's `operation` name, `outcome`, a close `reason`.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Operations by outcome (`ok`, or the error kind such as `pool_timeout`).
pub const OPERATIONS: &str = "poolside_operations_total";
/// Operation latency, from the call to its answer.
pub const OPERATION_SECONDS: &str = "poolside_operation_duration_seconds";
/// Operations at or over `metrics.slow_query_threshold`.
pub const SLOW_OPERATIONS: &str = "poolside_slow_operations_total";
/// Retry decisions: `retry`, or why the layer gave up.
pub const RETRIES: &str = "poolside_retries_total";
/// Connections handed out.
pub const CONNECTIONS_ACTIVE: &str = "poolside_connections_active";
/// Connections open and free.
pub const CONNECTIONS_IDLE: &str = "poolside_connections_idle";
/// Tasks waiting for a connection.
pub const CONNECTIONS_PENDING: &str = "poolside_connections_pending";
/// Most connections the pool opens.
pub const CONNECTIONS_MAX: &str = "poolside_connections_max";
/// Idle connections the pool keeps.
pub const CONNECTIONS_MIN: &str = "poolside_connections_min";
/// Time a checkout waited for its connection.
pub const CONNECTIONS_ACQUIRE_SECONDS: &str = "poolside_connections_acquire_seconds";
/// Time a connection was held before it came back.
pub const CONNECTIONS_USAGE_SECONDS: &str = "poolside_connections_usage_seconds";
/// Time opening a connection took.
pub const CONNECTIONS_CREATION_SECONDS: &str = "poolside_connections_creation_seconds";
/// Checkouts that gave up after the connection timeout.
pub const CONNECTIONS_TIMEOUT: &str = "poolside_connections_timeout_total";
/// Checkouts refused at once because `postgres.max_waiting` were waiting already.
pub const CONNECTIONS_REJECTED: &str = "poolside_connections_rejected_total";
/// Connections opened.
pub const CONNECTIONS_CREATED: &str = "poolside_connections_created_total";
/// Connections closed, by `reason`.
pub const CONNECTIONS_CLOSED: &str = "poolside_connections_closed_total";
/// Connections held past the leak detection threshold.
pub const CONNECTIONS_LEAKED: &str = "poolside_connections_leaked_total";
/// Circuit breaker state: 0 closed, 1 half-open, 2 open.
pub const BREAKER_STATE: &str = "poolside_breaker_state";
/// Times the overflow switch sent critical requests to the secondary.
pub const FAILOVER_ACTIVATIONS: &str = "poolside_failover_activations_total";
/// Cache reads that found a value.
pub const CACHE_HITS: &str = "poolside_cache_hits_total";
/// Cache reads that found none.
pub const CACHE_MISSES: &str = "poolside_cache_misses_total";
/// Cache calls that failed.
pub const CACHE_ERRORS: &str = "poolside_cache_errors_total";
/// The last health check of each dependency, by `component`: 0 pass, 1 warn, 2 fail,
/// as the health reports give it (an optional dependency that fails is 1, a warning).
pub const HEALTH_STATUS: &str = "poolside_health_status";
/// Whether each read replica takes reads (1) or not (0), by `replica`.
pub const REPLICA_FIT: &str = "poolside_replica_fit";
/// Each read replica's replay lag when last sampled, by `replica`.
pub const REPLICA_LAG_SECONDS: &str = "poolside_replica_lag_seconds";
/// Read-only statements each replica ran, by `replica`.
pub const REPLICA_READS: &str = "poolside_replica_reads_total";
/// Read-only statements that ran on the primary, by `reason`.
pub const REPLICA_PRIMARY_READS: &str = "poolside_replica_primary_reads_total";
/// Whether each Redis node was up in `role` (1) or not (0) when last read, by `node`
/// and `role` (`primary`, `replica`: every node has both series, 1 only for the role
/// it has); past one server only.
pub const REDIS_NODE_UP: &str = "poolside_redis_node_up";
/// Whether the Redis Cluster served every slot (1) or not (0) when last read.
pub const REDIS_CLUSTER_OK: &str = "poolside_redis_cluster_ok";
/// Failovers the Redis sentinels announced since the pool started.
pub const REDIS_FAILOVERS: &str = "poolside_redis_failovers_total";
/// Redis writes refused after the primary took them, too few replicas having them
/// within `redis.wait_timeout`.
pub const REDIS_UNREPLICATED_WRITES: &str = "poolside_redis_unreplicated_writes_total";

/// Every name above.
pub const ALL: &[&str] = &[
    OPERATIONS,
    OPERATION_SECONDS,
    SLOW_OPERATIONS,
    RETRIES,
    CONNECTIONS_ACTIVE,
    CONNECTIONS_IDLE,
    CONNECTIONS_PENDING,
    CONNECTIONS_MAX,
    CONNECTIONS_MIN,
    CONNECTIONS_ACQUIRE_SECONDS,
    CONNECTIONS_USAGE_SECONDS,
    CONNECTIONS_CREATION_SECONDS,
    CONNECTIONS_TIMEOUT,
    CONNECTIONS_REJECTED,
    CONNECTIONS_CREATED,
    CONNECTIONS_CLOSED,
    CONNECTIONS_LEAKED,
    BREAKER_STATE,
    FAILOVER_ACTIVATIONS,
    CACHE_HITS,
    CACHE_MISSES,
    CACHE_ERRORS,
    HEALTH_STATUS,
    REPLICA_FIT,
    REPLICA_LAG_SECONDS,
    REPLICA_READS,
    REPLICA_PRIMARY_READS,
    REDIS_NODE_UP,
    REDIS_CLUSTER_OK,
    REDIS_FAILOVERS,
    REDIS_UNREPLICATED_WRITES,
];

/// Registers the help text and unit of every metric above with the installed recorder,
/// so the exporter prints `# HELP` lines.
pub fn describe() {
    describe_counter!(
        OPERATIONS,
        Unit::Count,
        "Operations, by pool, operation and outcome."
    );
    describe_histogram!(
        OPERATION_SECONDS,
        Unit::Seconds,
        "Operation latency, by pool, operation and outcome."
    );
    describe_counter!(
        SLOW_OPERATIONS,
        Unit::Count,
        "Operations at or over the slow query threshold."
    );
    describe_counter!(
        RETRIES,
        Unit::Count,
        "Retry decisions, by pool and decision."
    );
    describe_gauge!(CONNECTIONS_ACTIVE, Unit::Count, "Connections handed out.");
    describe_gauge!(CONNECTIONS_IDLE, Unit::Count, "Connections open and free.");
    describe_gauge!(
        CONNECTIONS_PENDING,
        Unit::Count,
        "Tasks waiting for a connection."
    );
    describe_gauge!(
        CONNECTIONS_MAX,
        Unit::Count,
        "Most connections the pool opens."
    );
    describe_gauge!(
        CONNECTIONS_MIN,
        Unit::Count,
        "Idle connections the pool keeps."
    );
    describe_histogram!(
        CONNECTIONS_ACQUIRE_SECONDS,
        Unit::Seconds,
        "Time a checkout waited for its connection."
    );
    describe_histogram!(
        CONNECTIONS_USAGE_SECONDS,
        Unit::Seconds,
        "Time a connection was held before it came back."
    );
    describe_histogram!(
        CONNECTIONS_CREATION_SECONDS,
        Unit::Seconds,
        "Time opening a connection took."
    );
    describe_counter!(
        CONNECTIONS_TIMEOUT,
        Unit::Count,
        "Checkouts that gave up after the connection timeout."
    );
    describe_counter!(
        CONNECTIONS_REJECTED,
        Unit::Count,
        "Checkouts refused at once because postgres.max_waiting were waiting already."
    );
    describe_counter!(CONNECTIONS_CREATED, Unit::Count, "Connections opened.");
    describe_counter!(
        CONNECTIONS_CLOSED,
        Unit::Count,
        "Connections closed, by reason."
    );
    describe_counter!(
        CONNECTIONS_LEAKED,
        Unit::Count,
        "Connections held past the leak detection threshold."
    );
    describe_gauge!(
        BREAKER_STATE,
        Unit::Count,
        "Circuit breaker state: 0 closed, 1 half-open, 2 open."
    );
    describe_counter!(
        FAILOVER_ACTIVATIONS,
        Unit::Count,
        "Times critical requests were sent to the secondary pool."
    );
    describe_counter!(CACHE_HITS, Unit::Count, "Cache reads that found a value.");
    describe_counter!(CACHE_MISSES, Unit::Count, "Cache reads that found none.");
    describe_counter!(CACHE_ERRORS, Unit::Count, "Cache calls that failed.");
    describe_gauge!(
        HEALTH_STATUS,
        Unit::Count,
        "Last health check of each dependency: 0 pass, 1 warn (an optional one failing), 2 fail."
    );
    describe_gauge!(
        REPLICA_FIT,
        Unit::Count,
        "Whether each read replica takes reads: 1 yes, 0 no."
    );
    describe_gauge!(
        REPLICA_LAG_SECONDS,
        Unit::Seconds,
        "Each read replica's replay lag when last sampled."
    );
    describe_counter!(
        REPLICA_READS,
        Unit::Count,
        "Read-only statements each replica ran."
    );
    describe_counter!(
        REPLICA_PRIMARY_READS,
        Unit::Count,
        "Read-only statements that ran on the primary, by reason."
    );
    describe_gauge!(
        REDIS_NODE_UP,
        Unit::Count,
        "Whether each Redis node was up in this role when last read: 1 yes, 0 no."
    );
    describe_gauge!(
        REDIS_CLUSTER_OK,
        Unit::Count,
        "Whether the Redis Cluster served every slot when last read: 1 yes, 0 no."
    );
    describe_counter!(
        REDIS_FAILOVERS,
        Unit::Count,
        "Failovers the Redis sentinels announced since the pool started."
    );
    describe_counter!(
        REDIS_UNREPLICATED_WRITES,
        Unit::Count,
        "Redis writes refused after the primary took them: too few replicas had them within redis.wait_timeout."
    );
}
