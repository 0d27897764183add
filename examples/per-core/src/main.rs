//! Reads at the wire's limit, laid out as pgbench lays out its clients: one
//! single-threaded Tokio runtime per core, each with a [`PgPool`] of its own and a
//! listener of its own on the shared port (`SO_REUSEPORT`: the kernel spreads the
//! connections over them). No request, statement or answer crosses threads, so the
//! batched read path spends a third of the client CPU per statement it spends on one
//! multi-threaded runtime (BENCHMARKS.md, "One runtime per core").
//!
//! `GET /settings/{name}` answers a server setting through the batched read path;
//! `GET /stats` says how many statements and batches the answering core's pool sent
//! on it; `GET /health/ready` answers 200 once every core's pool is open (a probe
//! lands on any core's listener, and each core's requests wait for its pool), 503
//! before; `GET /metrics` gives poolside's pool figures in Prometheus's format, the
//! cores' pools summed under `pool="postgres"` (their checkout and connect histograms
//! merged), as for one pool. SIGTERM stops every core's server, lets its requests
//! finish, and closes its pool.
//!
//! Environment: `DATABASE_URL` and `POOLSIDE_*` as for any poolside program (the
//! configured sizes are divided between the runtimes' pools by
//! `PostgresConfig::per_runtime`, one batched-read connection each unless
//! `postgres.read_connections` says otherwise); `POOLSIDE_HTTP_ADDR` (default `127.0.0.1:8080`; port 0
//! picks one, printed); `PER_CORE_RUNTIMES` (default: one per core).

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::panic::AssertUnwindSafe;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use parking_lot::Mutex;
use poolside::PgPool;
use poolside::config::{Config, PostgresConfig};
use poolside::core::PoolStats;
use poolside::metrics::{Exporter, PoolLabel};
use tokio::net::{TcpListener, TcpSocket};
use tokio::runtime::Runtime;
use tokio::signal::unix::{SignalKind, signal};

/// The read each request makes.
const SETTING: &str = "SELECT setting FROM pg_settings WHERE name = $1";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let runtimes = match std::env::var("PER_CORE_RUNTIMES") {
        Ok(n) => n
            .parse::<NonZeroU32>()
            .map_err(|_| format!("PER_CORE_RUNTIMES must be a whole number above 0, not {n:?}"))?,
        Err(_) => std::thread::available_parallelism()
            .ok()
            .and_then(|n| NonZeroU32::try_from(n).ok())
            .unwrap_or(NonZeroU32::MIN),
    };
    let addr: SocketAddr = std::env::var("POOLSIDE_HTTP_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:8080".to_owned())
        .parse()
        .map_err(|e| format!("POOLSIDE_HTTP_ADDR is not an address such as 127.0.0.1:8080: {e}"))?;
    let postgres = per_runtime_config(runtimes)?;
    let pools = Pools::install(runtimes.get() as usize)?;
    // The first listener binds the address (and picks the port, when it is 0); the
    // others share its port.
    let mut addr = addr;
    let mut cores = Vec::new();
    for _ in 0..runtimes.get() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot build a runtime: {e}"))?;
        let listener = {
            let _entered = runtime.enter();
            listen(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?
        };
        addr = listener
            .local_addr()
            .map_err(|e| format!("cannot read the listening address: {e}"))?;
        cores.push((runtime, listener));
    }
    println!("listening on {addr} ({runtimes} runtimes)");
    // Each core's thread reports how its server ended; the first failure ends the
    // process, whichever core it came from.
    let (ended, endings) = std::sync::mpsc::channel();
    for (core, (runtime, listener)) in cores.into_iter().enumerate() {
        let postgres = postgres.clone();
        let pools = pools.clone();
        let ended = ended.clone();
        std::thread::Builder::new()
            .name(format!("core-{core}"))
            .spawn(move || {
                let served = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    serve(&runtime, listener, &postgres, &pools)
                }))
                .unwrap_or_else(|_| Err(format!("core {core}'s runtime panicked")));
                let _ = ended.send(served);
            })
            .map_err(|e| format!("cannot start a runtime's thread: {e}"))?;
    }
    drop(ended);
    for _ in 0..runtimes.get() {
        endings
            .recv()
            .map_err(|_| "every runtime's thread has gone".to_owned())??;
    }
    Ok(())
}

/// Each runtime's share of the configuration ([`PostgresConfig::per_runtime`]: the
/// sizes divided between the pools); one batched-read connection per runtime unless
/// `postgres.read_connections` says otherwise. Not through PgBouncer, where the read
/// path cannot run.
fn per_runtime_config(runtimes: NonZeroU32) -> Result<PostgresConfig, String> {
    let mut whole = Config::load().map_err(|e| e.to_string())?.config.postgres;
    if whole.pgbouncer {
        return Err(
            "postgres.pgbouncer is set: the batched read path prepares statements per \
             server connection, which PgBouncer's transaction mode does not keep; point \
             DATABASE_URL at PostgreSQL itself"
                .to_owned(),
        );
    }
    if whole.read_connections == 0 {
        whole.read_connections = runtimes.get();
    }
    Ok(whole.per_runtime(runtimes))
}

/// Every core's pool, as the process sees them: whether all are open, and their
/// Prometheus figures summed as one pool's.
#[derive(Clone)]
struct Pools {
    exporter: Exporter,
    open: Arc<Mutex<Vec<PgPool>>>,
    cores: usize,
}

impl Pools {
    /// For `cores` pools, none open yet. Installs the Prometheus recorder, with a
    /// sampler that sets the pool figures from the sum of the open pools before each
    /// render.
    fn install(cores: usize) -> Result<Self, String> {
        let exporter = Exporter::global().map_err(|e| e.to_string())?;
        let open = Arc::new(Mutex::new(Vec::<PgPool>::new()));
        let sampled = Arc::clone(&open);
        exporter.add_sampler(move || {
            let pools = sampled.lock();
            let sum: PoolStats = pools.iter().map(PgPool::stats).sum();
            poolside::metrics::record_pg_stats(PoolLabel::Postgres, &sum);
        });
        Ok(Self {
            exporter,
            open,
            cores,
        })
    }

    /// Counts `pool` in as open, and has it report its checkout and connect times
    /// into the histograms every core's pool shares.
    fn add(&self, pool: &PgPool) {
        poolside::metrics::observe_pg_pool(PoolLabel::Postgres, pool);
        self.open.lock().push(pool.clone());
    }

    /// How many of the cores' pools are open.
    fn opened(&self) -> usize {
        self.open.lock().len()
    }
}

/// What each core's handlers share: its pool, and every core's.
#[derive(Clone)]
struct Core {
    pool: PgPool,
    pools: Pools,
}

/// A listener on `addr` that shares its port with the others (`SO_REUSEPORT`).
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Runs one core's pool and HTTP server on its runtime, until SIGTERM; then lets the
/// requests in flight finish and closes the pool.
fn serve(
    runtime: &Runtime,
    listener: TcpListener,
    postgres: &PostgresConfig,
    pools: &Pools,
) -> Result<(), String> {
    runtime.block_on(async {
        // Listened for before the pool opens, so that no SIGTERM goes unseen.
        let mut terminate = signal(SignalKind::terminate())
            .map_err(|e| format!("cannot listen for SIGTERM: {e}"))?;
        let pool = PgPool::connect(postgres).await.map_err(|e| e.to_string())?;
        pools.add(&pool);
        let app = Router::new()
            .route("/settings/{name}", get(setting))
            .route("/stats", get(stats))
            .route("/health/ready", get(ready))
            .route("/metrics", get(metrics))
            .with_state(Core {
                pool: pool.clone(),
                pools: pools.clone(),
            });
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                terminate.recv().await;
            })
            .await
            .map_err(|e| format!("the HTTP server stopped: {e}"));
        pool.close(Duration::from_secs(5)).await;
        served
    })
}

/// `GET /settings/{name}`: the setting's value, read on the batched read path.
async fn setting(State(core): State<Core>, Path(name): Path<String>) -> Response {
    match core.pool.read_query_opt(SETTING, &[&name]).await {
        Ok(Some(row)) => format!("{}\n", row.get::<_, String>(0)).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            format!("no setting named {name:?}\n"),
        )
            .into_response(),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, format!("{error}\n")).into_response(),
    }
}

/// `GET /stats`: this core's pool's batched reads and size, as `read_statements N`,
/// `read_batches N` and `max_size N` lines.
async fn stats(State(core): State<Core>) -> String {
    let stats = core.pool.stats();
    format!(
        "read_statements {}\nread_batches {}\nmax_size {}\n",
        stats.read_statements, stats.read_batches, stats.max_size
    )
}

/// `GET /metrics`: poolside's figures in Prometheus's text format, every core's pool
/// summed under `pool="postgres"`.
async fn metrics(State(core): State<Core>) -> String {
    core.pools.exporter.render()
}

/// `GET /health/ready`: 200 once every core's pool is open, 503 before.
async fn ready(State(core): State<Core>) -> Response {
    let (opened, cores) = (core.pools.opened(), core.pools.cores);
    if opened == cores {
        "ready\n".into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{opened} of {cores} cores' pools open\n"),
        )
            .into_response()
    }
}
