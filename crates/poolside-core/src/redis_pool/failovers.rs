//! [`Failovers`]: the failovers a Sentinel group announces, so that the pool lets go
//! of every connection opened before one.
//!
//! After a failover the old primary may keep running, taking writes, until the
//! sentinels turn it into a replica (seconds later); a connection to it passes
//! `PING` and even `ROLE`. The sentinels publish `+switch-master <name> ...` the
//! moment they promote the new primary: a task subscribed to it counts them, and a
//! connection opened under an older count is broken.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;
use redis::ConnectionInfo;
use tokio::task::AbortHandle;

use super::tls::DriverCertificates;

/// How long the watcher waits before it tries the sentinels again, when none
/// answered.
const RETRY_EVERY: Duration = Duration::from_millis(500);

/// The count of failovers seen, and the task that counts them (stopped when this is
/// dropped).
#[derive(Debug)]
pub(crate) struct Failovers {
    seen: Arc<AtomicU64>,
    watcher: AbortHandle,
}

impl Failovers {
    /// Subscribes to `+switch-master` on the first of `sentinels` that answers,
    /// counting the announcements for `master`; over TLS with `certificates` (read
    /// again at each subscription). Must run inside a Tokio runtime.
    pub(crate) fn watch(
        sentinels: Vec<ConnectionInfo>,
        master: String,
        certificates: Option<DriverCertificates>,
    ) -> Self {
        let seen = Arc::new(AtomicU64::new(0));
        let watcher =
            tokio::spawn(watch(sentinels, master, certificates, Arc::clone(&seen))).abort_handle();
        Self { seen, watcher }
    }

    /// Failovers seen so far.
    pub(crate) fn seen(&self) -> u64 {
        self.seen.load(Ordering::Acquire)
    }
}

impl Drop for Failovers {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

async fn watch(
    sentinels: Vec<ConnectionInfo>,
    master: String,
    certificates: Option<DriverCertificates>,
    seen: Arc<AtomicU64>,
) {
    let mut subscribed_before = false;
    // Whether the TLS files' failure to read was logged since the last subscription.
    let mut warned = false;
    loop {
        for sentinel in &sentinels {
            let client = match &certificates {
                Some(files) => match files.read() {
                    Ok(tls) => redis::Client::build_with_tls(sentinel.clone(), tls),
                    Err(e) => {
                        if !std::mem::replace(&mut warned, true) {
                            tracing::warn!(target: "poolside::redis", error = %e, "cannot read the sentinels' TLS files; the failovers they announce are not heard until they can be read");
                        }
                        continue;
                    }
                },
                None => redis::Client::open(sentinel.clone()),
            };
            let Ok(client) = client else {
                continue;
            };
            let Ok(mut pubsub) = client.get_async_pubsub().await else {
                continue;
            };
            if pubsub.subscribe("+switch-master").await.is_err() {
                continue;
            }
            if subscribed_before {
                // A failover may have been announced while no sentinel was heard.
                seen.fetch_add(1, Ordering::AcqRel);
            }
            subscribed_before = true;
            warned = false;
            let mut messages = pubsub.on_message();
            while let Some(message) = messages.next().await {
                let payload: String = message.get_payload().unwrap_or_default();
                if payload.split(' ').next() == Some(master.as_str()) {
                    seen.fetch_add(1, Ordering::AcqRel);
                    tracing::info!(target: "poolside::redis", announcement = %payload, "the sentinels failed over the primary; reconnecting");
                }
            }
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
}
