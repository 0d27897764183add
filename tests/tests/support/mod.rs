//! The point-of-sale service served in-process, on its real router, for the tests
//! that inject faults or cancellations under it.

use std::net::SocketAddr;
use std::time::Duration;

use poolside::Poolside;
use poolside_tests::load_config;

/// The service, serving on a free port of 127.0.0.1.
pub(crate) struct PosService {
    /// Its pools and stack.
    pub(crate) db: Poolside,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl PosService {
    /// Migrates the schema on `migration_url`, starts poolside from exactly `vars`,
    /// and serves the pos-service's router.
    pub(crate) async fn start(vars: &[(&str, &str)], migration_url: &str) -> Self {
        poolside_example_pos_service::migrate(migration_url)
            .await
            .expect("migrates");
        let db = Poolside::builder()
            .config(load_config(vars).config)
            .build()
            .await
            .expect("starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("an address");
        let server = tokio::spawn(
            axum::serve(listener, poolside_example_pos_service::app(db.clone())).into_future(),
        );
        Self { db, addr, server }
    }

    /// `http://ADDR`.
    pub(crate) fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Whether it still serves (it stopped only if serving failed).
    pub(crate) fn is_serving(&self) -> bool {
        !self.server.is_finished()
    }

    /// Stops serving and closes the pools.
    pub(crate) async fn stop(self) {
        self.server.abort();
        self.db.shutdown(Duration::from_secs(5)).await;
    }
}
