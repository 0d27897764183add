//! The operation spans as an OpenTelemetry collector receives them: tracing's spans
//! through `tracing-opentelemetry` into opentelemetry_sdk's in-memory exporter, for a
//! query, a failed one, a retried one, a transaction and cache commands, with their
//! attributes and parents.

use opentelemetry::trace::{SpanKind, Status, TracerProvider as _};
use opentelemetry::{Key, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use poolside::Poolside;
use poolside_tests::services_config;
use tracing_subscriber::layer::SubscriberExt as _;

/// The attribute `key` of `span`, as a string.
fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == Key::from(key.to_owned()))
        .map(|kv| match &kv.value {
            Value::String(s) => s.to_string(),
            other => other.to_string(),
        })
}

/// The port of the URL in the environment variable `name` (`scheme://...:PORT/...`).
fn port_of(name: &str) -> String {
    let url = poolside_tests::required_env(name);
    url.rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap_or_else(|| panic!("a port in {name}"))
        .to_owned()
}

/// The one finished span named `name`.
fn span<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let named: Vec<&SpanData> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(
        named.len(),
        1,
        "one span named {name} in {:?}",
        names(spans)
    );
    named[0]
}

fn names(spans: &[SpanData]) -> Vec<String> {
    spans.iter().map(|s| s.name.to_string()).collect()
}

// One thread: the subscriber is this thread's default, and every poll runs on it.
#[tokio::test(flavor = "current_thread")]
async fn operations_export_as_client_spans_with_the_database_conventions() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("poolside-test")));
    let _default = tracing::subscriber::set_default(subscriber);

    let db = Poolside::builder()
        .config(services_config(&[
            ("REDIS_URL", &poolside_tests::required_env("REDIS_URL")),
            ("POOLSIDE_RETRY__ATTEMPTS", "3"),
            ("POOLSIDE_RETRY__BASE_DELAY", "10ms"),
        ]))
        .build()
        .await
        .expect("starts");
    db.execute(
        "CREATE OR REPLACE FUNCTION span_flaky(seq text) RETURNS int LANGUAGE plpgsql AS $$ \
         BEGIN IF nextval(seq) = 1 THEN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; \
         END IF; RETURN 1; END $$",
        &[],
    )
    .await
    .expect("creates the function");
    db.execute("DROP SEQUENCE IF EXISTS span_flaky_seq", &[])
        .await
        .expect("drops");
    db.execute("CREATE SEQUENCE span_flaky_seq", &[])
        .await
        .expect("creates the sequence");
    exporter.reset();

    db.op("get_answer")
        .query_one("SELECT 42", &[])
        .await
        .expect("runs");
    let error = db
        .op("divide")
        .query_one("SELECT 1/0", &[])
        .await
        .expect_err("division by zero");
    db.op("flaky")
        .idempotent()
        .query_one("SELECT span_flaky('span_flaky_seq')", &[])
        .await
        .expect("runs on the second attempt");
    let sale: i32 = db
        .transaction("record_sale", async |tx| {
            Ok(tx.query_one("SELECT 7", &[]).await?.get(0))
        })
        .await
        .expect("commits");
    assert_eq!(sale, 7);
    db.cache()
        .set("spans:answer", &42, None)
        .await
        .expect("Redis takes it");
    let cached: Option<i32> = db.cache().get("spans:answer").await.expect("Redis answers");
    assert_eq!(cached, Some(42));
    provider.force_flush().expect("flushes");
    let spans = exporter.get_finished_spans().expect("spans");

    let port = port_of("DATABASE_URL");
    let query = span(&spans, "get_answer");
    assert_eq!(query.span_kind, SpanKind::Client);
    assert_eq!(
        query.parent_span_id,
        opentelemetry::trace::SpanId::INVALID,
        "a root span"
    );
    for (key, value) in [
        ("db.system.name", "postgresql"),
        ("db.operation.name", "get_answer"),
        ("server.address", "127.0.0.1"),
        ("server.port", port.as_str()),
        ("poolside.pool", "postgres"),
        ("poolside.path", "pipelined"),
    ] {
        assert_eq!(
            attribute(query, key).as_deref(),
            Some(value),
            "{key} of {query:?}"
        );
    }
    assert!(attribute(query, "db.namespace").is_some_and(|ns| !ns.is_empty()));
    assert_eq!(
        attribute(query, "db.query.text"),
        None,
        "no SQL unless asked for"
    );
    assert_eq!(attribute(query, "error.type"), None);

    let failed = span(&spans, "divide");
    assert_eq!(
        attribute(failed, "db.response.status_code").as_deref(),
        Some("22012")
    );
    assert_eq!(
        attribute(failed, "error.type").as_deref(),
        Some(error.kind().as_str())
    );
    assert!(
        matches!(failed.status, Status::Error { .. }),
        "{:?}",
        failed.status
    );

    let retried = span(&spans, "flaky");
    assert_eq!(
        attribute(retried, "poolside.retry.attempt").as_deref(),
        Some("2")
    );
    assert_eq!(
        attribute(retried, "error.type"),
        None,
        "it succeeded in the end"
    );

    let redis_port = port_of("REDIS_URL");
    for command in ["SET", "GET"] {
        let cache = span(&spans, command);
        assert_eq!(cache.span_kind, SpanKind::Client);
        for (key, value) in [
            ("db.system.name", "redis"),
            ("db.operation.name", command),
            ("server.port", redis_port.as_str()),
            ("poolside.pool", "redis"),
        ] {
            assert_eq!(
                attribute(cache, key).as_deref(),
                Some(value),
                "{key} of {cache:?}"
            );
        }
    }

    let transaction = span(&spans, "record_sale");
    assert_eq!(
        attribute(transaction, "poolside.path").as_deref(),
        Some("transaction")
    );
    let checkouts: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.name == "poolside.checkout")
        .collect();
    assert!(
        checkouts
            .iter()
            .any(|c| c.parent_span_id == transaction.span_context.span_id()),
        "the transaction's checkout is its child: {:?}",
        names(&spans)
    );
    db.shutdown(std::time::Duration::from_secs(5)).await;

    // With the query text on, and a secondary that takes every critical operation.
    let url = poolside_tests::required_env("DATABASE_URL");
    let db = Poolside::builder()
        .config(services_config(&[
            ("POOLSIDE_METRICS__TRACE_QUERY_TEXT", "true"),
            ("POOLSIDE_OVERFLOW__ENABLED", "true"),
            ("POOLSIDE_OVERFLOW__SECONDARY_URL", &url),
            ("POOLSIDE_OVERFLOW__UTILIZATION_THRESHOLD", "0"),
            ("POOLSIDE_OVERFLOW__HAND_BACK_MARGIN", "0"),
        ]))
        .build()
        .await
        .expect("starts");
    exporter.reset();
    db.op("critical_read")
        .critical()
        .query_one("SELECT $1::int4", &[&5_i32])
        .await
        .expect("runs on the secondary");
    provider.force_flush().expect("flushes");
    let spans = exporter.get_finished_spans().expect("spans");
    let critical = span(&spans, "critical_read");
    assert_eq!(
        attribute(critical, "db.query.text").as_deref(),
        Some("SELECT $1::int4")
    );
    assert_eq!(
        attribute(critical, "poolside.overflow").as_deref(),
        Some("true")
    );
    db.shutdown(std::time::Duration::from_secs(5)).await;

    // Sampling at 0%: no operation, transaction or checkout makes a span.
    let db = Poolside::builder()
        .config(services_config(&[(
            "POOLSIDE_METRICS__TRACE_SAMPLE_PERCENT",
            "0",
        )]))
        .build()
        .await
        .expect("starts");
    exporter.reset();
    for _ in 0..20 {
        db.op("unsampled")
            .query_one("SELECT 1", &[])
            .await
            .expect("runs");
    }
    db.transaction("unsampled_sale", async |tx| {
        tx.batch_execute("SELECT 1").await
    })
    .await
    .expect("commits");
    provider.force_flush().expect("flushes");
    let spans = exporter.get_finished_spans().expect("spans");
    let unsampled = ["unsampled", "unsampled_sale", "poolside.checkout"];
    assert!(
        spans.iter().all(|s| !unsampled.contains(&&*s.name)),
        "{:?}",
        names(&spans)
    );
    db.shutdown(std::time::Duration::from_secs(5)).await;
}
