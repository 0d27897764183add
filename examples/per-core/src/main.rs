//! Reads at the wire's limit, laid out as pgbench lays out its clients: one
//! single-threaded Tokio runtime per core, each with a [`Poolside`] of its own and a
//! listener of its own on the shared port (`SO_REUSEPORT`: the kernel spreads the
//! connections over them). No request, statement or answer crosses threads, so the
//! batched read path spends a third of the client CPU per statement it spends on one
//! multi-threaded runtime (BENCHMARKS.md, "One runtime per core").
//!
//! `GET /settings/{name}` answers a server setting through the facade's read-only
//! operation, on the batched read path; `GET /stats` says how many statements and
//! batches the answering core's pool sent on it; the facade's endpoints answer the
//! rest (`/health/live`, `/health/ready`, `/metrics`, ...), each core's for its own
//! pool, and `/metrics` with every core's pool summed under `pool="postgres"`, as for
//! one pool. A core starts serving once its pool is open; until then the connections
//! the kernel hands it wait. SIGTERM or SIGINT takes every core out of rotation for
//! `health.shutdown_delay` (a second signal cuts it short), then stops its server,
//! lets its requests finish, and shuts its `Poolside` down.
//!
//! Environment: `DATABASE_URL` and `POOLSIDE_*` as for any poolside program (the
//! configured pool sizes are divided between the runtimes by `Config::per_runtime`,
//! one batched-read connection each unless
//! `postgres.read_connections` says otherwise; `metrics.exporter_addr`, when set, is
//! served by the first runtime); `POOLSIDE_HTTP_ADDR` (default `127.0.0.1:8080`; port
//! 0 picks one, printed); `PER_CORE_RUNTIMES` (default: one per core).

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::panic::AssertUnwindSafe;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use poolside::config::Config;
use poolside::{ErrorKind, Poolside};
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
    let config = per_runtime_config(runtimes)?;
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
        let mut config = config.clone();
        // One stand-alone `/metrics` listener serves the process's figures.
        if core > 0 {
            config.metrics.exporter_addr = None;
        }
        let ended = ended.clone();
        std::thread::Builder::new()
            .name(format!("core-{core}"))
            .spawn(move || {
                let served = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    serve(&runtime, listener, config)
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

/// Each runtime's share of the configuration ([`Config::per_runtime`]: the pools'
/// sizes divided between the runtimes); one batched-read connection per runtime
/// unless `postgres.read_connections` says otherwise. Not through PgBouncer, where the
/// read path cannot run.
fn per_runtime_config(runtimes: NonZeroU32) -> Result<Config, String> {
    let mut config = Config::load().map_err(|e| e.to_string())?.config;
    if config.postgres.pgbouncer {
        return Err(
            "postgres.pgbouncer is set: the batched read path prepares statements per \
             server connection, which PgBouncer's transaction mode does not keep; point \
             DATABASE_URL at PostgreSQL itself"
                .to_owned(),
        );
    }
    if config.postgres.read_connections == 0 {
        config.postgres.read_connections = runtimes.get();
    }
    Ok(config.per_runtime(runtimes))
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

/// Runs one core's `Poolside` and HTTP server on its runtime, until SIGTERM or
/// SIGINT; then leaves rotation (`/health/ready` 503 for `health.shutdown_delay`,
/// still serving, or until a second signal), lets the requests in flight finish and
/// shuts the `Poolside` down.
fn serve(runtime: &Runtime, listener: TcpListener, config: Config) -> Result<(), String> {
    runtime.block_on(async {
        // Listened for before the pool opens, so that no signal goes unseen.
        let listen = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|e| format!("cannot listen for {name}: {e}"))
        };
        let mut terminate = listen(SignalKind::terminate(), "SIGTERM")?;
        let mut interrupt = listen(SignalKind::interrupt(), "SIGINT")?;
        let db = Poolside::builder()
            .config(config)
            .build()
            .await
            .map_err(|e| e.to_string())?;
        let app = Router::new()
            .route("/settings/{name}", get(setting))
            .route("/stats", get(stats))
            .with_state(db.clone())
            .merge(db.router());
        let leaving = db.clone();
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = interrupt.recv() => {}
                }
                // A second signal (Ctrl-C again) cuts the delay short.
                tokio::select! {
                    biased;
                    () = leaving.leave_rotation() => {}
                    _ = terminate.recv() => {}
                    _ = interrupt.recv() => {}
                }
            })
            .await
            .map_err(|e| format!("the HTTP server stopped: {e}"));
        db.shutdown(Duration::from_secs(5)).await;
        served
    })
}

/// `GET /settings/{name}`: the setting's value, read through the facade's read-only
/// operation on the batched read path.
async fn setting(State(db): State<Poolside>, Path(name): Path<String>) -> Response {
    match db
        .op("get_setting")
        .read_only()
        .query_opt(SETTING, &[&name])
        .await
    {
        Ok(Some(row)) => format!("{}\n", row.get::<_, String>(0)).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            format!("no setting named {name:?}\n"),
        )
            .into_response(),
        // The server refused the name itself (a NUL byte, say): the caller's to fix.
        Err(error) if error.kind() == ErrorKind::Query => {
            (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response()
        }
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, format!("{error}\n")).into_response(),
    }
}

/// `GET /stats`: this core's pool's batched reads and size, as `read_statements N`,
/// `read_batches N` and `max_size N` lines.
async fn stats(State(db): State<Poolside>) -> String {
    let stats = db.pool().stats();
    format!(
        "read_statements {}\nread_batches {}\nmax_size {}\n",
        stats.read_statements, stats.read_batches, stats.max_size
    )
}
