//! [`TraceLayer`]: wraps services in [`Traced`].

use tower::Layer;

use super::{DbTarget, Traced};

/// Runs each operation of the services it wraps in a span against `target`.
#[derive(Debug, Clone)]
pub struct TraceLayer {
    target: DbTarget,
    query_text: bool,
}

impl TraceLayer {
    /// A layer whose spans name `target`, without the query text.
    pub fn new(target: DbTarget) -> Self {
        Self {
            target,
            query_text: false,
        }
    }

    /// Records the statement with its placeholders as `db.query.text` (never its
    /// parameter values). Off by default: SQL built at run time may hold values.
    pub fn with_query_text(mut self, enabled: bool) -> Self {
        self.query_text = enabled;
        self
    }
}

impl<S> Layer<S> for TraceLayer {
    type Service = Traced<S>;

    fn layer(&self, inner: S) -> Traced<S> {
        Traced::new(inner, self.target.clone(), self.query_text)
    }
}
