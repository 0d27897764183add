//! SIGTERM and SIGINT, listened for once the service serves: the first begins the
//! shutdown, a second cuts its delay short.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// The handlers of SIGTERM and SIGINT, installed once, so that no signal between two
/// waits goes unheard.
#[derive(Debug)]
pub(crate) struct ShutdownSignals {
    term: Signal,
    interrupt: Signal,
}

impl ShutdownSignals {
    /// Installs the handlers. The error says which could not be.
    pub(crate) fn listen() -> Result<Self, String> {
        let handler = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|e| format!("cannot listen for {name}: {e}"))
        };
        Ok(Self {
            term: handler(SignalKind::terminate(), "SIGTERM")?,
            interrupt: handler(SignalKind::interrupt(), "SIGINT")?,
        })
    }

    /// Resolves on the next SIGTERM or SIGINT, and names it.
    pub(crate) async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}
