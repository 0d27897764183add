//! [`Recoveries`]: when a dependency's check turns from failing to passing, for work
//! that waits on the dependency (a migration retrying) to try again then rather than
//! at its next backoff.

use std::future::Future;

use tokio::sync::watch;

use crate::component::Component;
use crate::model::Status;

/// How many times each component's check turned to passing, indexed by the
/// component's place in its declaration (`component as usize`).
#[derive(Debug)]
pub(crate) struct Recoveries {
    counts: watch::Sender<[u64; Component::ALL.len()]>,
}

impl Default for Recoveries {
    fn default() -> Self {
        Self {
            counts: watch::Sender::new([0; Component::ALL.len()]),
        }
    }
}

impl Recoveries {
    /// Counts a recovery of `component` when its check passed after it failed, or
    /// after it was never checked (`before` is `None`).
    pub(crate) fn record(&self, component: Component, before: Option<Status>, now: Status) {
        if now == Status::Pass && before != Some(Status::Pass) {
            self.counts
                .send_modify(|counts| counts[component as usize] += 1);
        }
    }

    /// Resolves at the first recovery of `component` after this call (not after the
    /// first poll: one between the call and the first poll counts).
    pub(crate) fn next(&self, component: Component) -> impl Future<Output = ()> + Send + 'static {
        let index = component as usize;
        let mut counts = self.counts.subscribe();
        let seen = counts.borrow_and_update()[index];
        async move {
            if counts.wait_for(|now| now[index] != seen).await.is_err() {
                // The health state is gone: no recovery will come.
                std::future::pending::<()>().await;
            }
        }
    }
}
