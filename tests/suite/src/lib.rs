//! poolside's cross-crate test suite (its tests are in `tests/`); this library holds
//! what several of them share: the point-of-sale service served in-process, on its
//! real router, for the tests that inject faults or cancellations under it.

use std::net::SocketAddr;
use std::time::Duration;

use poolside::Poolside;
use poolside_tests::load_config;

/// The service, serving on a free port of 127.0.0.1.
#[derive(Debug)]
pub struct PosService {
    /// Its pools and stack.
    pub db: Poolside,
    /// Where it listens.
    pub addr: SocketAddr,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl PosService {
    /// Migrates the schema on `migration_url`, starts poolside from exactly `vars`,
    /// and serves the pos-service's router.
    pub async fn start(vars: &[(&str, &str)], migration_url: &str) -> Self {
        let config = load_config(vars).config;
        let connect_timeout = config.postgres.effective_connect_timeout();
        poolside_example_pos_service::migrate(migration_url, None, connect_timeout)
            .await
            .expect("migrates");
        let db = Poolside::builder()
            .config(config)
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
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many of the sales `ids` are in the database.
    pub async fn sales_found(&self, ids: &[i64]) -> i64 {
        self.db
            .query_one(
                "SELECT count(*) FROM pos.sales WHERE id = ANY($1)",
                &[&ids.to_vec()],
            )
            .await
            .expect("counts the sales")
            .get(0)
    }

    /// How many of `products` have a stock other than `initial` minus what was sold
    /// of them.
    pub async fn stock_out_of_step(&self, products: &[i64], initial: i64) -> i64 {
        self.db
            .query_one(
                "SELECT count(*) FROM pos.inventory i WHERE i.product_id = ANY($1) \
                 AND i.quantity <> $2::bigint - (SELECT COALESCE(sum(si.quantity), 0)::bigint \
                 FROM pos.sale_items si WHERE si.product_id = i.product_id)",
                &[&products.to_vec(), &initial],
            )
            .await
            .expect("checks the stock")
            .get(0)
    }

    /// Whether it still serves (it stopped only if serving failed).
    pub fn is_serving(&self) -> bool {
        !self.server.is_finished()
    }

    /// Stops serving and closes the pools.
    pub async fn stop(self) {
        self.server.abort();
        self.db.shutdown(Duration::from_secs(5)).await;
    }
}
