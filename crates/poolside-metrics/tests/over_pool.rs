//! The recording layer and the exporter over a real `PgPool`: the output passes
//! `promtool check metrics`, carries the HikariCP-style pool figures, and never holds
//! SQL text or parameter values; the snapshot lists slow operations by shape only.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use poolside_config::MetricNaming;
use poolside_core::{PgError, PgPool};
use poolside_metrics::{
    Exporter, MetricsLayer, Operation, OperationRecorder, PoolFigures, PoolLabel, observe_pg_pool,
    record_pg_stats, retry_observer,
};
use poolside_resilience::{Backoff, Jitter, RetryBudget, RetryLayer, RetryPolicy};
use poolside_tests::pg_pool;
use tower::{Service, ServiceExt};

/// A statement with its name and one parameter, as the facade will send them.
#[derive(Clone)]
struct Statement {
    name: &'static str,
    sql: &'static str,
    parameter: String,
}

impl Operation for Statement {
    fn operation(&self) -> &'static str {
        self.name
    }

    fn statement(&self) -> Option<std::borrow::Cow<'static, str>> {
        Some(self.sql.into())
    }
}

/// The pool under a metrics layer and a retry layer that reports its decisions, both
/// labelled as the recorder's pool (each test its own, as tests share the recorder).
fn stack(
    pool: &PgPool,
    recorder: &Arc<OperationRecorder>,
) -> impl Service<Statement, Response = (), Error = PgError, Future: Send> + Clone {
    let label = recorder.pool();
    let budget = RetryBudget::new(Duration::from_secs(10), 10, 20.0).expect("valid");
    let backoff = Backoff::new(
        Duration::from_millis(100),
        Duration::from_secs(2),
        Jitter::Full,
    );
    let policy = RetryPolicy::new(3, backoff, Duration::from_secs(10), budget)
        .observe(retry_observer(label));
    let pool = pool.clone();
    tower::ServiceBuilder::new()
        .layer(MetricsLayer::new(Arc::clone(recorder)))
        .layer(RetryLayer::new(policy))
        .service(tower::service_fn(move |statement: Statement| {
            let pool = pool.clone();
            async move {
                pool.execute(statement.sql, &[&statement.parameter])
                    .await
                    .map(drop)
            }
        }))
}

#[tokio::test]
async fn the_exporter_output_passes_promtool_and_holds_no_sql() {
    let exporter = Exporter::global().expect("no other recorder in this test binary");
    let pool = pg_pool(&[]).await;
    assert!(
        observe_pg_pool(poolside_metrics::PoolLabel::Postgres, &pool),
        "the pool had no observer"
    );
    exporter.add_sampler({
        let pool = pool.clone();
        move || record_pg_stats(poolside_metrics::PoolLabel::Postgres, &pool.stats())
    });
    let recorder = Arc::new(OperationRecorder::new(
        poolside_metrics::PoolLabel::Postgres,
        Duration::from_millis(100),
        Duration::from_secs(60),
    ));
    let mut service = stack(&pool, &recorder);
    let secret_value = "parameter-value-7f3a";
    for _ in 0..5 {
        service
            .ready()
            .await
            .expect("ready")
            .call(Statement {
                name: "echo",
                sql: "SELECT $1::text",
                parameter: secret_value.into(),
            })
            .await
            .expect("runs");
    }
    let failed = service
        .ready()
        .await
        .expect("ready")
        .call(Statement {
            name: "bad_cast",
            sql: "SELECT $1::text::int",
            parameter: secret_value.into(),
        })
        .await
        .expect_err("not a number");
    assert_eq!(failed.kind(), poolside_core::ErrorKind::Query);

    let text = exporter.render();
    for expected in [
        r#"poolside_operations_total{pool="postgres",operation="echo",outcome="ok"} 5"#,
        r#"poolside_operations_total{pool="postgres",operation="bad_cast",outcome="query"} 1"#,
        r#"poolside_retries_total{pool="postgres",decision="not_retryable"} 1"#,
        "poolside_operation_duration_seconds_bucket{",
        "poolside_connections_acquire_seconds_bucket{",
        "poolside_connections_usage_seconds_bucket{",
        "poolside_connections_creation_seconds_bucket{",
        r#"poolside_connections_max{pool="postgres"}"#,
        r#"poolside_connections_closed_total{pool="postgres",reason="retired"} 0"#,
        "# HELP poolside_connections_pending Tasks waiting for a connection.",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    for forbidden in ["SELECT", secret_value] {
        assert!(
            !text.contains(forbidden),
            "{forbidden:?} in the exporter output"
        );
    }

    assert_promtool_passes(&text);
}

/// `promtool check metrics` accepts `text`.
fn assert_promtool_passes(text: &str) {
    assert_promtool_passes_but(text, &[]);
}

/// `promtool check metrics` accepts `text`, but for the problems in `known` (each a
/// line of its report, exactly).
fn assert_promtool_passes_but(text: &str, known: &[&str]) {
    let mut check = Command::new(poolside_tests::tools::promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    check
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("writes the metrics");
    let output = check.wait_with_output().expect("promtool finishes");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let unknown: Vec<&str> = report
        .lines()
        .filter(|line| !line.trim().is_empty() && !known.contains(line))
        .collect();
    assert!(
        output.status.success() || unknown.is_empty() && !known.is_empty(),
        "promtool check metrics: {report}\n{text}"
    );
    assert!(
        unknown.is_empty(),
        "promtool check metrics: {unknown:?}\n{text}"
    );
}

#[tokio::test]
async fn the_otel_naming_exports_the_conventions_names_and_passes_promtool() {
    let exporter = Exporter::global().expect("no other recorder in this test binary");
    let pool = pg_pool(&[]).await;
    // A label of its own: the other test records the primary's figures in this binary.
    let figures = PoolFigures::new(PoolLabel::Secondary, MetricNaming::Otel);
    assert!(figures.observe_pg_pool(&pool), "the pool had no observer");
    exporter.add_sampler({
        let pool = pool.clone();
        move || figures.record_pg_stats(&pool.stats())
    });
    let recorder = Arc::new(
        OperationRecorder::new(
            PoolLabel::Secondary,
            Duration::from_millis(100),
            Duration::from_secs(60),
        )
        .with_naming(MetricNaming::Otel),
    );
    let mut service = stack(&pool, &recorder);
    for (name, sql, runs) in [
        ("otel_echo", "SELECT $1::text", 3),
        ("otel_bad_cast", "SELECT $1::text::int", 1),
    ] {
        for _ in 0..runs {
            let _ = service
                .ready()
                .await
                .expect("ready")
                .call(Statement {
                    name,
                    sql,
                    parameter: "x".into(),
                })
                .await;
        }
    }

    let text = exporter.render();
    for expected in [
        r#"db_client_operation_duration_seconds_count{db_system_name="postgresql",db_operation_name="otel_echo"} 3"#,
        r#"db_client_operation_duration_seconds_count{db_system_name="postgresql",db_operation_name="otel_bad_cast",error_type="query"} 1"#,
        r#"db_client_connection_count{db_client_connection_pool_name="postgres_secondary",db_client_connection_state="used"} "#,
        r#"db_client_connection_count{db_client_connection_pool_name="postgres_secondary",db_client_connection_state="idle"} "#,
        r#"db_client_connection_max{db_client_connection_pool_name="postgres_secondary"} "#,
        r#"db_client_connection_idle_max{db_client_connection_pool_name="postgres_secondary"} "#,
        r#"db_client_connection_idle_min{db_client_connection_pool_name="postgres_secondary"} "#,
        r#"db_client_connection_pending_requests{db_client_connection_pool_name="postgres_secondary"} "#,
        r#"db_client_connection_timeouts_total{db_client_connection_pool_name="postgres_secondary"} 0"#,
        r#"db_client_connection_wait_time_seconds_bucket{db_client_connection_pool_name="postgres_secondary","#,
        r#"db_client_connection_use_time_seconds_bucket{db_client_connection_pool_name="postgres_secondary","#,
        r#"db_client_connection_create_time_seconds_bucket{db_client_connection_pool_name="postgres_secondary","#,
        "# HELP db_client_operation_duration_seconds Duration of database client operations.",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    for poolside_named in [
        r#"poolside_operations_total{pool="postgres_secondary""#,
        r#"poolside_connections_active{pool="postgres_secondary""#,
        r#"poolside_connections_acquire_seconds_bucket{pool="postgres_secondary""#,
    ] {
        assert!(
            !text.contains(poolside_named),
            "{poolside_named} under the otel naming"
        );
    }
    // The render holds both namings (the other test's figures too): promtool lints
    // each family on its own. One problem is the conventions' own: the UpDownCounter
    // `db.client.connection.count` renders as a gauge named `_count`, which promtool's
    // lint reserves for histograms and summaries. The name is kept as a collector
    // renders it from OTLP, so that dashboards built on the conventions read it.
    assert_promtool_passes_but(
        &text,
        &[
            r#"db_client_connection_count non-histogram and non-summary metrics should not have "_count" suffix"#,
        ],
    );
}

#[tokio::test]
async fn slow_operations_are_listed_by_shape_and_dropped_calls_count_as_cancelled() {
    let pool = pg_pool(&[]).await;
    // Wide margins on both sides of the slow threshold: the dropped call ends 250 ms
    // under it even when a loaded machine runs its 50 ms timeout late (CI saw 114 ms),
    // and the nap lasts 100 ms past it.
    let recorder = Arc::new(OperationRecorder::new(
        // A label no other test here records under: the first test records under
        // PoolLabel::Postgres, and the OpenTelemetry test checks that
        // PoolLabel::Secondary holds no poolside-named figure while this one runs.
        PoolLabel::Redis,
        Duration::from_millis(300),
        Duration::from_secs(60),
    ));
    let service = stack(&pool, &recorder);
    service
        .clone()
        .oneshot(Statement {
            name: "nap",
            sql: "SELECT pg_sleep($1::text::float8)",
            parameter: "0.4000271".into(),
        })
        .await
        .expect("sleeps");
    let dropped = tokio::time::timeout(
        Duration::from_millis(50),
        service.oneshot(Statement {
            name: "long_nap",
            sql: "SELECT pg_sleep($1::text::float8)",
            parameter: "5".into(),
        }),
    )
    .await;
    assert!(dropped.is_err(), "the long nap was dropped at 50 ms");

    let snapshot = recorder.snapshot();
    assert_eq!(snapshot.operations, 2, "{snapshot:?}");
    assert_eq!(snapshot.slow, 1, "{snapshot:?}");
    let slow = &snapshot.slowest[0];
    assert_eq!(slow.operation, "nap");
    assert_eq!(
        slow.statement.as_deref(),
        Some("SELECT pg_sleep($1::text::float8)")
    );
    assert!(slow.duration_ms >= 400.0, "{slow:?}");
    let json = serde_json::to_string(&snapshot).expect("serializes");
    assert!(!json.contains("4000271"), "a parameter value in {json}");
    assert!(
        (snapshot.error_percent - 50.0).abs() < 1e-9,
        "the dropped call counts as a failure: {snapshot:?}"
    );

    let report = poolside_metrics::PoolReport {
        postgres: Some(pool.stats()),
        operations: snapshot,
        ..Default::default()
    };
    let status = report.status();
    assert!(
        status.contains("postgres ") && status.contains("slow"),
        "{status}"
    );
}
