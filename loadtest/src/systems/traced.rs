//! `poolside-traced`: the default path under the `TraceLayer`, its spans recorded by
//! `tracing-opentelemetry` into the OpenTelemetry SDK (a batch processor, and an
//! exporter that drops what it gets, as no collector runs here): what spans cost.
//!
//! The subscriber is the process's global one, installed on first use. Its OpenTelemetry
//! layer records only while this system runs (a flag its `close` clears), so the
//! systems measured after it make no spans; they pay the registry's check of that flag.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Result, anyhow};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use poolside_metrics::{DbTarget, TraceLayer};
use tower::Layer;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::{Layer as _, filter};

use super::{Prepared, Target, observed, postgres};
use crate::workload::Workload;

/// Whether the OpenTelemetry layer records: only while `poolside-traced` runs.
static RECORDING: AtomicBool = AtomicBool::new(false);

/// Spans exported into nothing: the SDK builds and batches them as for a collector.
#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        drop(batch);
        Ok(())
    }
}

/// Installs the global subscriber once: the registry with the OpenTelemetry layer,
/// gated by [`RECORDING`].
fn install() -> Result<()> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let provider = SdkTracerProvider::builder()
                .with_batch_exporter(Discard)
                .build();
            // As the README sets it up: no per-poll timing (busy/idle), no OpenTelemetry
            // context attached on each poll (only code that reads
            // `opentelemetry::Context::current()` needs it), no thread or source
            // location on every span.
            let layer = tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("poolside-loadtest"))
                .with_tracked_inactivity(false)
                .with_context_activation(false)
                .with_threads(false)
                .with_location(false)
                .with_target(false)
                // Asked at every span: `filter_fn` would cache its first answer for
                // each callsite, and the flag would then switch nothing.
                .with_filter(filter::dynamic_filter_fn(|_, _| {
                    RECORDING.load(Ordering::Relaxed)
                }));
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
                .map_err(|e| format!("another tracing subscriber is installed: {e}"))
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

/// The select, in its span.
pub(super) async fn poolside(workload: Workload, target: &Target) -> Result<Prepared> {
    if workload != Workload::Select {
        return Err(anyhow!("poolside-traced runs the select workload only"));
    }
    install()?;
    let config = postgres::poolside_config(target)?;
    let pool = poolside_core::PgPool::connect(&config.postgres).await?;
    let spans = DbTarget::postgres_url("postgres", config.postgres.url.expose());
    let service = TraceLayer::new(spans).layer(observed::select_service(&pool));
    let operation = observed::select_operation(service, target.data.accounts);
    RECORDING.store(true, Ordering::Relaxed);
    let mut prepared = postgres::poolside_prepared(pool, operation, false);
    let close = prepared.close;
    prepared.close = Box::new(move || {
        RECORDING.store(false, Ordering::Relaxed);
        close()
    });
    Ok(prepared)
}
