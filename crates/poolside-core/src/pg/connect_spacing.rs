//! [`ConnectSpacing`]: one pool's connects to its server, spaced while they fail.
//! Without it a pool whose server refused, was out of connection slots or still
//! starting up tried a connect for every caller: about 2,000 a second with 50 callers
//! on one path, each one a backend forked on a server that answers, and a log
//! warning each. The pool's own connections and its batched read path's share one
//! spacing: they go to one server.
//!
//! After 1, 2 and more connects failed in a row, connects are held off for 100 ms,
//! 200 ms and 250 ms ([`DELAYS`]), each up to a quarter shorter, at random; then one
//! goes out, the others waiting for it: four connects a second at most while the
//! server is away. Held-off connects fail at once with the last failure, so callers
//! learn as fast as before; a server that is back answers the next connect within a
//! quarter of a second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::PgError;
use crate::reconnect_backoff::ReconnectBackoff;

/// The delays after 1, 2 and more failed connects in a row.
const DELAYS: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_millis(200),
    Duration::from_millis(250),
];

/// The spacing of one pool's connects (see the module).
#[derive(Debug)]
pub(crate) struct ConnectSpacing(ReconnectBackoff<PgError>);

impl ConnectSpacing {
    pub(crate) fn new() -> Self {
        Self(ReconnectBackoff::new(DELAYS))
    }

    /// When a connect to `target` may go out now, the moment it starts; else the
    /// failure that holds it off, with how long still.
    pub(crate) fn start(&self, target: &str) -> Result<Instant, PgError> {
        let now = Instant::now();
        match self.0.start_connect(now, 0) {
            None => Ok(now),
            Some(held) => Err(held.last.duplicate().noting(&format!(
                "not connecting to {target} again for another {:.1?} ({} failed connect(s) \
                 in a row)",
                held.remaining, held.failures
            ))),
        }
    }

    /// Records how the connect that started at `began` ended, and logs it: a warning
    /// for the first failure of a run (spaced, they still come four times a second
    /// while the server is away), the rest at debug, and the end of a run.
    pub(crate) fn record<T>(&self, began: Instant, result: &Result<T, PgError>) {
        match result {
            Ok(_) => {
                let failures = self.0.succeeded();
                if failures > 0 {
                    tracing::info!(
                        target: "poolside::pg",
                        failures,
                        "connected again after failed connects"
                    );
                }
            }
            Err(error) => {
                let next = self
                    .0
                    .failed(began, Instant::now(), 0, Arc::new(error.duplicate()));
                if next.failures == 1 {
                    tracing::warn!(
                        target: "poolside::pg",
                        error = %error,
                        next_attempt_in = ?next.delay,
                        "connect failed"
                    );
                } else {
                    tracing::debug!(
                        target: "poolside::pg",
                        error = %error,
                        failures = next.failures,
                        next_attempt_in = ?next.delay,
                        "connect failed"
                    );
                }
            }
        }
    }
}
