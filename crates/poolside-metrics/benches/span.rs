//! What an operation's span costs, without I/O: a call through `TraceLayer` over a
//! service that answers at once, with the span recorded by `tracing-opentelemetry`
//! into the OpenTelemetry SDK (a batch processor, an exporter that drops what it
//! gets) as README sets them up; the same with that layer filtered off; the service
//! bare; and the SDK alone, building a span with the same attributes from its own
//! API: the least any bridge from `tracing` into the SDK can cost.
//!
//! Run with: `cargo bench -p poolside-metrics --bench span`

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use poolside_metrics::{DbTarget, TraceLayer};
use tower::{Layer, ServiceExt};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::{Layer as _, filter};

/// Whether the OpenTelemetry layer records.
static RECORDING: AtomicBool = AtomicBool::new(false);
/// Spans the exporter received.
static EXPORTED: AtomicU64 = AtomicU64::new(0);

/// Counts the spans it gets and drops them, as a collector that is not there.
#[derive(Debug)]
struct CountAndDrop;

impl SpanExporter for CountAndDrop {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        EXPORTED.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

fn span(c: &mut Criterion) {
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(CountAndDrop)
        .build();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("poolside-bench"))
        .with_tracked_inactivity(false)
        .with_context_activation(false)
        .with_threads(false)
        .with_location(false)
        .with_target(false)
        // Asked at every span (`filter_fn` would cache its first answer per callsite).
        .with_filter(filter::dynamic_filter_fn(|_, _| {
            RECORDING.load(Ordering::Relaxed)
        }));
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
        .expect("no other subscriber in this process");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let bare = tower::service_fn(|(_, n): (&'static str, u32)| async move {
        Ok::<u32, std::convert::Infallible>(n)
    });
    let target = DbTarget::postgres("postgres", "app", "127.0.0.1", 5432);
    let traced = TraceLayer::new(target).layer(bare);

    c.bench_function("call, bare", |b| {
        b.to_async(&runtime)
            .iter(|| bare.oneshot(("get_product", 1)));
    });
    c.bench_function("call, TraceLayer, OpenTelemetry layer filtered off", |b| {
        b.to_async(&runtime)
            .iter(|| traced.clone().oneshot(("get_product", 1)));
    });
    RECORDING.store(true, Ordering::Relaxed);
    let mut made = 0u64;
    c.bench_function(
        "call, TraceLayer, exported through tracing-opentelemetry",
        |b| {
            b.to_async(&runtime).iter(|| {
                made += 1;
                traced.clone().oneshot(("get_product", 1))
            });
        },
    );
    RECORDING.store(false, Ordering::Relaxed);
    exported("tracing-opentelemetry", &provider, made);

    // The same attributes, from the SDK's own API: no `tracing` span, no bridge.
    let tracer = provider.tracer("poolside-bench-sdk");
    let mut made = 0u64;
    c.bench_function("SDK alone: a span with the same attributes", |b| {
        b.iter(|| {
            made += 1;
            let mut span = tracer
                .span_builder("get_product")
                .with_kind(SpanKind::Client)
                .with_attributes([
                    KeyValue::new("db.system.name", "postgresql"),
                    KeyValue::new("db.operation.name", "get_product"),
                    KeyValue::new("db.namespace", "app"),
                    KeyValue::new("server.address", "127.0.0.1"),
                    KeyValue::new("server.port", 5432),
                    KeyValue::new("poolside.pool", "postgres"),
                ])
                .start(&tracer);
            span.set_attribute(KeyValue::new("poolside.path", "pipelined"));
            span.end();
        });
    });
    exported("the SDK alone", &provider, made);
}

/// Prints how many of the `made` spans reached the exporter since the last call; the
/// batch processor drops those that find its queue full.
fn exported(what: &str, provider: &SdkTracerProvider, made: u64) {
    provider
        .force_flush()
        .expect("the exporter takes every batch");
    let exported = EXPORTED.swap(0, Ordering::Relaxed);
    println!("{what}: {made} spans made, {exported} exported");
}

criterion_group!(benches, span);
criterion_main!(benches);
