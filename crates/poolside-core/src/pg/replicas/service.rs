//! [`ReplicaService`]: sends read-only statements to a fit replica and everything else
//! to the service it wraps (the primary's stack).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use futures_util::FutureExt as _;
use futures_util::future::{self, Either};
use tower::Service;
use tower::util::Oneshot;

use super::{PrimaryReason, Replicas};
use crate::ErrorKind;
use crate::pg::{PgAnswer, PgError, PgRequest};

/// The future of a [`ReplicaService`] call.
pub(crate) type ReplicaFuture<'a> =
    Pin<Box<dyn Future<Output = Result<PgAnswer, PgError>> + Send + 'a>>;

/// Routes [`PgRequest`]s: read-only ones to a replica when one is fit (the rules are
/// on [`Replicas`]), the rest, and reads no replica can take, to `inner`.
#[derive(Debug, Clone)]
pub struct ReplicaService<S> {
    replicas: Replicas,
    inner: S,
}

impl<S> ReplicaService<S> {
    /// Routes over `replicas`, with `inner` for the primary.
    pub fn new(replicas: Replicas, inner: S) -> Self {
        Self { replicas, inner }
    }
}

/// Whether a read that failed on a replica may run on the primary instead: the
/// replica could not run it (no connection, shut down, refused a connection, a
/// conflict with recovery, or it turned out writable-only-on-the-primary: 25006),
/// so it never ran there.
fn is_replica_failure(error: &PgError) -> bool {
    matches!(
        error.kind(),
        ErrorKind::Connect
            | ErrorKind::Auth
            | ErrorKind::Unavailable
            | ErrorKind::PoolTimeout
            | ErrorKind::PoolClosed
            | ErrorKind::Overloaded
            | ErrorKind::Serialization
    ) || error.code().is_some_and(|code| code.code() == "25006")
}

impl<'a, S> Service<PgRequest<'a>> for ReplicaService<S>
where
    S: Service<PgRequest<'a>, Response = PgAnswer, Error = PgError> + Clone + Send + 'a,
    S::Future: Send,
{
    type Response = PgAnswer;
    type Error = PgError;
    type Future = ReplicaFuture<'a>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), PgError>> {
        // Readiness is the primary's, awaited per call: a read may not need it.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: PgRequest<'a>) -> Self::Future {
        let primary = self.inner.clone();
        if !request.is_read_only() {
            return Box::pin(Oneshot::new(primary, request));
        }
        let replicas = self.replicas.clone();
        // The replica's attempt is an async block over `PgPool` alone; the primary's
        // call is chained after it, so the block holds no future of `S`.
        let on_replica = {
            let replicas = replicas.clone();
            let request = request.clone();
            async move {
                let replica = replicas.pick(request.after_position()).await?;
                replica.reads.fetch_add(1, Ordering::Relaxed);
                tracing::Span::current().record(crate::span_fields::REPLICA, &*replica.name);
                match Oneshot::new(replica.pool.clone(), request).await {
                    Err(error) if is_replica_failure(&error) => {
                        if !matches!(error.kind(), ErrorKind::Serialization) {
                            replica.mark_down(&error);
                        }
                        replica.failed_over.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(
                            target: "poolside::pg",
                            replica = %replica.name,
                            %error,
                            "read failed on a replica: running it on the primary"
                        );
                        Err(PrimaryReason::ReplicaFailed)
                    }
                    answer => Ok(answer),
                }
            }
        };
        Box::pin(on_replica.then(move |outcome| match outcome {
            Ok(answer) => Either::Left(future::ready(answer)),
            Err(reason) => {
                replicas.count_primary(reason);
                Either::Right(Oneshot::new(primary, request))
            }
        }))
    }
}
