//! [`MetricsLayer`]: wraps services in [`Metrics`].

use std::sync::Arc;

use tower::Layer;

use super::Metrics;
use crate::OperationRecorder;

/// Records every operation of the services it wraps into one shared recorder.
#[derive(Debug, Clone)]
pub struct MetricsLayer {
    recorder: Arc<OperationRecorder>,
}

impl MetricsLayer {
    /// A layer recording into `recorder`.
    pub fn new(recorder: Arc<OperationRecorder>) -> Self {
        Self { recorder }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = Metrics<S>;

    fn layer(&self, inner: S) -> Metrics<S> {
        Metrics::new(inner, Arc::clone(&self.recorder))
    }
}
