//! [`PgPool::spawn_warm_up`]: a pool built without its server opens its connections
//! once the server answers.

use std::time::Duration;

use poolside_resilience::{Backoff, Jitter};
use tokio::task::JoinHandle;

use super::PgPool;

/// The waits between failed warm-ups: each between half its ceiling and the ceiling,
/// at random (instances started together do not retry in step), the ceiling 1 s,
/// doubling to 16 s.
const RETRY: Backoff = Backoff::new(
    Duration::from_secs(1),
    Duration::from_secs(16),
    Jitter::Equal,
);

impl PgPool {
    /// Opens the pool's `min_idle` connections in the background, for a pool built
    /// with [`connect_lazy`](Self::connect_lazy) while its server may be down: tries
    /// [`warm_up`](Self::warm_up) until it succeeds (up to 1 s after the first
    /// failure, doubling to up to 16 s apart, each wait drawn at random from its upper
    /// half so that instances started together do not retry in step), then checks the connection budget as
    /// [`connect`](Self::connect) does. Checkouts meanwhile connect on their own.
    /// Abort the task to stop it.
    ///
    /// Must run inside a Tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut config = poolside_config::PostgresConfig::defaults(Default::default());
    /// config.url = poolside_config::SecretUrl::new("postgres://app@127.0.0.1:1/app"); // nothing listens
    /// let pool = poolside_core::PgPool::connect_lazy(&config).unwrap();
    /// let warming = pool.spawn_warm_up(); // retries until the server answers
    /// assert_eq!(pool.stats().total, 0);
    /// warming.abort();
    /// # });
    /// ```
    pub fn spawn_warm_up(&self) -> JoinHandle<()> {
        let pool = self.clone();
        tokio::spawn(async move {
            let mut failures = 0_u32;
            loop {
                match pool.warm_up().await {
                    Ok(()) => break,
                    Err(error) => {
                        failures += 1;
                        if failures == 1 {
                            tracing::warn!(
                                target: "poolside::pg",
                                %error,
                                "PostgreSQL does not answer yet: the pool keeps trying, and \
                                 readiness fails until it answers"
                            );
                        }
                        tokio::time::sleep(RETRY.delay(failures)).await;
                    }
                }
            }
            if failures > 0 {
                tracing::info!(
                    target: "poolside::pg",
                    failures,
                    "PostgreSQL answers: the pool's connections are open"
                );
            }
            pool.check_budget().await;
        })
    }
}
