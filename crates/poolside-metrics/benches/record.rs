//! What recording one operation costs, without I/O: `OperationRecorder::record` (the
//! `metrics` figures through the installed Prometheus recorder, and the sliding
//! window), and a call through `MetricsLayer` over a service that answers at once,
//! against the same service bare.
//!
//! Run with: `cargo bench -p poolside-metrics --bench record`

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use poolside_metrics::{Exporter, MetricsLayer, OperationRecorder, Outcome};
use tower::{Layer, ServiceExt};

fn record(c: &mut Criterion) {
    let _exporter = Exporter::global().expect("no other recorder in this process");
    let recorder = Arc::new(OperationRecorder::new(
        poolside_metrics::PoolLabel::Postgres,
        Duration::from_millis(100),
        Duration::from_secs(60),
    ));
    c.bench_function("record one operation", |b| {
        b.iter(|| recorder.record("get_product", None, Duration::from_micros(420), Outcome::Ok));
    });

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let bare = tower::service_fn(|(_, n): (&'static str, u32)| async move {
        Ok::<u32, std::convert::Infallible>(n)
    });
    let layered = MetricsLayer::new(Arc::clone(&recorder)).layer(bare);
    c.bench_function("call, bare", |b| {
        b.to_async(&runtime)
            .iter(|| bare.oneshot(("get_product", 1)));
    });
    c.bench_function("call, through MetricsLayer", |b| {
        b.to_async(&runtime)
            .iter(|| layered.clone().oneshot(("get_product", 1)));
    });
}

criterion_group!(benches, record);
criterion_main!(benches);
