//! Ctrl-C: the first one stops the run in progress and the load test reports what it
//! measured and stops the servers it started; a second one exits at once.

use std::time::Duration;

use tokio::sync::watch;

/// Whether Ctrl-C was pressed; cheap to clone and check.
#[derive(Debug, Clone)]
pub(crate) struct Interrupt(watch::Receiver<bool>);

impl Interrupt {
    /// Listens for Ctrl-C; must be called inside the Tokio runtime.
    pub(crate) fn on_ctrl_c() -> Self {
        let (sender, receiver) = watch::channel(false);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_err() {
                // No signal handling here: never interrupted.
                std::future::pending::<()>().await;
            }
            eprintln!("\n== Ctrl-C: stopping after this run (press again to exit at once)");
            let _ = sender.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "== second Ctrl-C: exiting; stop the servers with `cargo xtask services down`"
                );
                std::process::exit(130);
            }
        });
        Self(receiver)
    }

    /// An interrupt that never fires, for tests.
    #[cfg(test)]
    pub(crate) fn never() -> Self {
        // The sender is dropped at once: `sleep` then sleeps its whole time.
        let (_, receiver) = watch::channel(false);
        Self(receiver)
    }

    /// Whether Ctrl-C was pressed.
    pub(crate) fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Sleeps for `duration`, or less when interrupted; `true` when it slept it all.
    pub(crate) async fn sleep(&self, duration: Duration) -> bool {
        let mut receiver = self.0.clone();
        tokio::select! {
            () = tokio::time::sleep(duration) => true,
            result = receiver.wait_for(|set| *set) => {
                if result.is_err() {
                    // The listener is gone without a signal: sleep the whole time.
                    tokio::time::sleep(duration).await;
                    return true;
                }
                false
            }
        }
    }
}
