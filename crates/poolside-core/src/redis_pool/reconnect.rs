//! The Redis pool's reconnect spacing: a [`ReconnectBackoff`] with the delays of
//! `redis.retry_delay` and `redis.max_retries`, and the error a held-off caller gets.
//! The manager consults it before each connect, and `RedisPool` before each checkout,
//! so that a held-off caller fails without waiting on bb8 at all.
//!
//! The delays grow as `redis.retry_delay` doubled per failure in a row, for
//! `redis.max_retries` failures (1 s, 2 s, 4 s by default); after that the pool keeps
//! trying at the longest of them and never gives up; each is up to a quarter
//! shorter, at random.
//!
//! The failures hold off connects to the server they failed on. In a Sentinel group
//! each connect goes to the primary the sentinels name, and once they announce a
//! failover the failures to the old one hold nothing off: the next connect goes to
//! the new primary at once, not a delay after it took over.

use poolside_config::RedisConfig;

use super::RedisError;
use crate::ErrorKind;
use crate::reconnect_backoff::{HeldOff, ReconnectBackoff};

/// The Redis pool's backoff, with the delays `config` sets (`redis.retry_delay`,
/// `redis.max_retries`).
pub(crate) fn backoff(config: &RedisConfig) -> ReconnectBackoff<RedisError> {
    // Past 32 doublings the delay saturates; validation refuses far less.
    let growing = config.max_retries.clamp(1, 32);
    ReconnectBackoff::new((1..=growing).map(|n| config.reconnect_delay(n)))
}

impl HeldOff<RedisError> {
    /// The error a held-off caller gets: the failure behind it (its kind, and nothing
    /// sent), and when the next connect to `target` may start.
    pub(crate) fn error(&self, target: &str) -> RedisError {
        let kind = match self.last.kind() {
            ErrorKind::Auth => ErrorKind::Auth,
            _ => ErrorKind::Connect,
        };
        RedisError::new(
            kind,
            format!(
                "{}; not reconnecting to {target} for another {:.1?} ({} failed connect(s) in a row; redis.retry_delay and redis.max_retries space the attempts)",
                self.last, self.remaining, self.failures
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;

    fn config(retry_delay: Duration, max_retries: u32) -> RedisConfig {
        RedisConfig {
            retry_delay,
            max_retries,
            ..RedisConfig::defaults(poolside_config::Profile::Production)
        }
    }

    #[test]
    fn delays_double_for_max_retries_then_stay() {
        let doubling = backoff(&config(Duration::from_secs(1), 3));
        let delays: Vec<_> = (1..=5).map(|n| doubling.delay_after(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 4, 4]);
        let flat = backoff(&config(Duration::from_millis(200), 0));
        assert_eq!(flat.delay_after(7), Duration::from_millis(200));
        let huge = backoff(&config(Duration::from_secs(1), u32::MAX));
        assert_eq!(huge.delay_after(u32::MAX), Duration::from_secs(1 << 31));
        assert_eq!(huge.delay_after(0), Duration::from_secs(1));
    }

    #[test]
    fn a_held_off_caller_gets_the_failure_and_when_the_next_connect_may_start() {
        let backoff = backoff(&config(Duration::from_secs(1), 3));
        let t0 = Instant::now();
        let refused = RedisError::new(ErrorKind::Connect, "connecting to 127.0.0.1:1: refused");
        let delay = backoff.failed(t0, t0, 0, Arc::new(refused)).delay;
        let held = backoff.held_off(t0, 0).expect("held off");
        assert_eq!(held.remaining, delay);
        let error = held.error("127.0.0.1:1");
        assert_eq!(error.kind(), ErrorKind::Connect);
        assert!(
            error.to_string().starts_with(
                "connecting to 127.0.0.1:1: refused; not reconnecting to 127.0.0.1:1 for another "
            ),
            "{error}"
        );
        assert!(
            error.to_string().contains("(1 failed connect(s) in a row"),
            "{error}"
        );

        let wrong_password = RedisError::new(ErrorKind::Auth, "WRONGPASS");
        let later = t0 + Duration::from_secs(10);
        backoff.failed(later, later, 0, Arc::new(wrong_password));
        let held = backoff.held_off(later, 0).expect("held off");
        assert_eq!(held.error("127.0.0.1:1").kind(), ErrorKind::Auth);
    }
}
