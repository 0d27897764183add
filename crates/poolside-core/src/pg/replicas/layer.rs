//! [`ReplicaLayer`]: wraps a service (the primary's stack) in a [`ReplicaService`].

use tower::Layer;

use super::{ReplicaService, Replicas};

/// Applies [`ReplicaService`]: read-only statements to the replicas when fit.
#[derive(Debug, Clone)]
pub struct ReplicaLayer {
    replicas: Replicas,
}

impl ReplicaLayer {
    /// A layer routing over `replicas`.
    pub fn new(replicas: Replicas) -> Self {
        Self { replicas }
    }
}

impl<S> Layer<S> for ReplicaLayer {
    type Service = ReplicaService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ReplicaService::new(self.replicas.clone(), inner)
    }
}
