//! The resilience layers over `PgPool` against the real PostgreSQL: the server's
//! SQLSTATE decides what `RetryLayer` retries; `DeadlineLayer` stops a statement on
//! the server, not only in the caller.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use poolside_core::{ErrorKind, PgPool};
use poolside_resilience::Jitter;
use poolside_resilience::breaker::{BreakerSettings, BreakerState};
use poolside_resilience::{
    Backoff, CircuitBreaker, CircuitBreakerLayer, DeadlineLayer, LoadShedLayer, RetryBudget,
    RetryLayer, RetryPolicy,
};
use poolside_tests::{load_config, pg_pool, required_env, statements_running};
use tower::{Layer, ServiceExt};

/// Runs a statement that fails on the server with `sqlstate`, through a retry layer
/// of three attempts; returns the error kind and how many times it ran.
async fn run_failing_with(pool: &PgPool, sqlstate: &'static str) -> (ErrorKind, u32) {
    let runs = Arc::new(AtomicU32::new(0));
    let service = tower::service_fn({
        let (pool, runs) = (pool.clone(), Arc::clone(&runs));
        move |()| {
            let (pool, runs) = (pool.clone(), Arc::clone(&runs));
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                let sql = format!(
                    "DO $$ BEGIN RAISE EXCEPTION 'scripted' USING ERRCODE = '{sqlstate}'; END $$"
                );
                pool.execute(&sql, &[]).await
            }
        }
    });
    let budget = RetryBudget::new(Duration::from_secs(10), 100, 100.0).expect("valid");
    let backoff = Backoff::new(
        Duration::from_millis(1),
        Duration::from_millis(5),
        Jitter::Full,
    );
    let policy = RetryPolicy::new(3, backoff, Duration::from_secs(5), budget);
    let error = RetryLayer::new(policy)
        .layer(service)
        .oneshot(())
        .await
        .expect_err("the statement always fails");
    (error.kind(), runs.load(Ordering::SeqCst))
}

#[tokio::test]
async fn the_servers_sqlstate_decides_what_is_retried() {
    let pool = pg_pool(&[]).await;
    for (sqlstate, kind, runs) in [
        ("40001", ErrorKind::Serialization, 3),
        ("40P01", ErrorKind::Deadlock, 3),
        ("57P03", ErrorKind::Connect, 3),
        ("23505", ErrorKind::UniqueViolation, 1),
        ("23503", ErrorKind::Query, 1),
    ] {
        assert_eq!(
            run_failing_with(&pool, sqlstate).await,
            (kind, runs),
            "{sqlstate}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_cancels_the_statement_on_the_server() {
    let pool = pg_pool(&[]).await;
    let marker = "deadline-cancel-check";
    let service = tower::service_fn({
        let pool = pool.clone();
        move |()| {
            let pool = pool.clone();
            async move {
                let mut conn = pool.get().await?;
                conn.execute(&format!("SELECT pg_sleep(30) /* {marker} */"), &[])
                    .await
            }
        }
    });
    let error = DeadlineLayer::new(Duration::from_millis(300))
        .layer(service)
        .oneshot(())
        .await
        .expect_err("a 30 s statement cannot finish in 300 ms");
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error}");
    assert!(error.to_string().contains("deadline"), "{error}");
    // The cancel request goes out as the connection returns; allow it a second.
    let mut left = i64::MAX;
    for _ in 0..20 {
        left = statements_running(marker).await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        left, 0,
        "the statement still runs on the server after the deadline"
    );
    assert!(
        pool.stats().closed.interrupted >= 1,
        "its connection was discarded"
    );
}

#[tokio::test]
async fn an_open_breaker_spares_a_down_server_and_fails_at_once() {
    // Nothing listens on port 1: every connection attempt is refused, as with a
    // stopped server.
    let down = load_config(&[
        (
            "DATABASE_URL",
            "postgres://poolside:poolside@127.0.0.1:1/poolside",
        ),
        ("POOLSIDE_PROFILE", "test"),
    ])
    .config
    .postgres;
    let attempts = Arc::new(AtomicU32::new(0));
    let service = tower::service_fn({
        let attempts = Arc::clone(&attempts);
        move |()| {
            let (down, attempts) = (down.clone(), Arc::clone(&attempts));
            async move {
                attempts.fetch_add(1, Ordering::SeqCst);
                PgPool::connect(&down).await.map(drop)
            }
        }
    });
    let breaker = CircuitBreaker::new(BreakerSettings {
        min_calls: 5,
        ..BreakerSettings::default()
    });
    let guarded = CircuitBreakerLayer::new(breaker.clone()).layer(service);
    let mut slowest_refusal = Duration::ZERO;
    for _ in 0..1000 {
        let started = std::time::Instant::now();
        let error = guarded
            .clone()
            .oneshot(())
            .await
            .expect_err("the server is down");
        if error.kind() == ErrorKind::Unavailable {
            slowest_refusal = slowest_refusal.max(started.elapsed());
        } else {
            assert_eq!(error.kind(), ErrorKind::Connect, "{error}");
        }
    }
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        5,
        "the server saw 5 connection attempts, not 1000"
    );
    assert!(
        slowest_refusal < Duration::from_millis(100),
        "refused in {slowest_refusal:?}"
    );
}

/// The facade's order (deadline -> retry -> breaker -> shedding -> pool) and another
/// order both serve real queries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layers_compose_in_any_order_over_the_pool() {
    let pool = pg_pool(&[]).await;
    let query = tower::service_fn({
        let pool = pool.clone();
        move |n: i32| {
            let pool = pool.clone();
            async move {
                Ok::<i32, poolside_core::PgError>(
                    pool.query_one("SELECT $1::int4 * 2", &[&n]).await?.get(0),
                )
            }
        }
    });
    let budget = RetryBudget::new(Duration::from_secs(10), 10, 20.0).expect("valid");
    let backoff = Backoff::new(
        Duration::from_millis(100),
        Duration::from_secs(2),
        Jitter::Full,
    );
    let retry = RetryLayer::new(RetryPolicy::new(
        3,
        backoff,
        Duration::from_secs(10),
        budget,
    ));
    let breaker = CircuitBreakerLayer::new(CircuitBreaker::new(BreakerSettings::default()));
    let deadline = DeadlineLayer::new(Duration::from_secs(5));
    let shed = LoadShedLayer::new(1000);
    let facade_order = tower::ServiceBuilder::new()
        .layer(deadline)
        .layer(retry.clone())
        .layer(breaker.clone())
        .layer(shed.clone())
        .service(query.clone());
    let other_order = tower::ServiceBuilder::new()
        .layer(shed)
        .layer(breaker)
        .layer(retry)
        .layer(deadline)
        .service(query);
    let calls: Vec<_> = (0..200)
        .map(|n| {
            let (a, b) = (facade_order.clone(), other_order.clone());
            tokio::spawn(async move { (a.oneshot(n).await, b.oneshot(n).await) })
        })
        .collect();
    for (n, call) in calls.into_iter().enumerate() {
        let (a, b) = call.await.expect("task");
        assert_eq!(
            (a.expect("facade order"), b.expect("other order")),
            (2 * n as i32, 2 * n as i32)
        );
    }
}

/// A critical or ordinary query, answered with the name of the pool that ran it.
#[derive(Debug, Clone, Copy)]
struct Op {
    critical: bool,
}

impl poolside_resilience::Critical for Op {
    fn is_critical(&self) -> bool {
        self.critical
    }
}

async fn named(application_name: &str, max_size: &str) -> PgPool {
    let url = format!(
        "{}?application_name={application_name}",
        required_env("DATABASE_URL")
    );
    let config = load_config(&[
        ("DATABASE_URL", &url),
        ("POOLSIDE_PROFILE", "test"),
        ("POOLSIDE_POSTGRES__MAX_SIZE", max_size),
        ("POOLSIDE_POSTGRES__MIN_IDLE", "1"),
        ("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", "1s"),
    ]);
    PgPool::connect(&config.config.postgres)
        .await
        .expect("connects")
}

fn which_pool(
    pool: PgPool,
) -> impl tower::Service<Op, Response = String, Error = poolside_core::PgError, Future: Send> + Clone
{
    tower::service_fn(move |_: Op| {
        let pool = pool.clone();
        async move {
            let mut conn = pool.get().await?;
            Ok(conn
                .query_one("SELECT current_setting('application_name')", &[])
                .await?
                .get(0))
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn critical_work_overflows_to_the_secondary_while_the_primary_is_full_then_comes_back() {
    use poolside_resilience::overflow::{OverflowSwitch, PrimaryLoad};

    let primary = named("overflow-primary", "2").await;
    let secondary = named("overflow-secondary", "2").await;
    let switch = OverflowSwitch::new(80, 10);
    let gauge = primary.clone();
    let layer = poolside_resilience::OverflowLayer::new(
        which_pool(secondary),
        move || {
            let stats = gauge.stats();
            PrimaryLoad {
                utilization_percent: stats.utilization_percent,
                healthy: true,
            }
        },
        switch.clone(),
    );
    let service = layer.layer(which_pool(primary.clone()));
    let critical = Op { critical: true };
    assert_eq!(
        service.clone().oneshot(critical).await.expect("query"),
        "overflow-primary"
    );

    // Hold every primary connection: the primary is at 100%.
    let held = (
        primary.get().await.expect("one"),
        primary.get().await.expect("two"),
    );
    assert_eq!(
        service.clone().oneshot(critical).await.expect("query"),
        "overflow-secondary"
    );
    let ordinary = service.clone().oneshot(Op { critical: false }).await;
    assert_eq!(
        ordinary.expect_err("waits for the full primary").kind(),
        ErrorKind::PoolTimeout
    );
    assert!(switch.is_on());

    drop(held);
    assert_eq!(
        service.clone().oneshot(critical).await.expect("query"),
        "overflow-primary",
        "handed back"
    );
    assert_eq!((switch.is_on(), switch.activations()), (false, 1));
}
