//! The fields of an operation's span that the pools record into, by name, whoever
//! made the span (`poolside_metrics::TraceLayer` declares them). Recording into a span
//! that lacks a field, or when there is no span, does nothing.

/// How the pool ran the statement: `pipelined`, `batched_read`, `exclusive` or
/// `transaction`.
pub const PATH: &str = "poolside.path";
/// The replica that ran a read.
pub const REPLICA: &str = "poolside.replica";
/// The attempt that is running, from 2 (absent on the first).
pub const RETRY_ATTEMPT: &str = "poolside.retry.attempt";
/// `true` when the overflow layer sent the request to the secondary pool (recorded
/// by poolside-resilience, which names it `overflow::SPAN_FIELD`).
pub const OVERFLOW: &str = poolside_resilience::overflow::SPAN_FIELD;

/// A checkout's span, a child of the current operation's; none when there is no
/// current span (an operation its sampling left out, or no tracing at all), so that
/// no orphan appears as a trace of its own.
pub(crate) fn checkout_span() -> tracing::Span {
    if tracing::Span::current().is_none() {
        return tracing::Span::none();
    }
    tracing::info_span!(target: "poolside::db", "poolside.checkout")
}

/// Records the path the pool took on the current span.
pub(crate) fn record_path(path: &'static str) {
    tracing::Span::current().record(PATH, path);
}
