//! A small point-of-sale service on poolside, as the production setups it grew from run
//! one: products (cached in Redis), sales that never oversell, a sales report, the
//! health and metrics endpoints, and a graceful shutdown.
//!
//! Configuration comes from the environment (`DATABASE_URL`, `REDIS_URL`,
//! `DATABASE_URL_DIRECT` for migrations behind PgBouncer, `POOLSIDE_*`); it listens on
//! `POOLSIDE_HTTP_ADDR` (default `127.0.0.1:8080`).

mod error;
mod migrate;
pub use migrate::run as migrate;
mod products;
mod report;
mod sales;
mod signals;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use poolside::Poolside;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::signals::ShutdownSignals;

/// Where the service listens unless `POOLSIDE_HTTP_ADDR` says otherwise.
const DEFAULT_ADDR: &str = "127.0.0.1:8080";
/// How long in-flight work may take to finish once the service stops listening, and
/// the pools to close: a Kubernetes `terminationGracePeriodSeconds` covers it and
/// `health.shutdown_delay`.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);
/// The largest request body accepted (a sale of 100 lines is far below it).
const BODY_LIMIT: usize = 64 * 1024;

/// The service's routes, with the health and metrics endpoints, over `db` (whose
/// schema [`migrate`] created). The operator route (`POST /admin/warmup`) is among
/// them unless `health.admin_addr` gives it a port of its own.
pub fn app(db: Poolside) -> Router {
    let app = Router::new()
        .route("/products", get(products::list).post(products::create))
        .route("/products/{id}", get(products::get))
        .route("/sales", post(sales::create))
        .route("/sales/report", get(report::report))
        .route("/sales/{id}", get(sales::get))
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(db.clone())
        .merge(db.router());
    if db.config().health.admin_addr.is_some() {
        app
    } else {
        app.merge(operator_routes(&db))
    }
}

/// `POST /admin/warmup`, behind `health.admin_token` as the detailed endpoints are.
fn operator_routes(db: &Poolside) -> Router {
    db.behind_admin_token(
        Router::new()
            .route("/admin/warmup", post(warm_up))
            .with_state(db.clone()),
    )
}

/// `POST /admin/warmup`: opens `min_idle` connections and checks every dependency.
async fn warm_up(State(db): State<Poolside>) -> Result<Json<Value>, ApiError> {
    db.warm_up().await?;
    Ok(Json(
        json!({ "warmed": true, "health": db.health().status }),
    ))
}

/// Serves the detailed health and metrics endpoints, and the operator routes, on
/// `health.admin_addr`, a port apart from the service's (for the monitoring network
/// only).
async fn serve_admin(
    db: &Poolside,
    addr: SocketAddr,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on health.admin_addr {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%local, "detailed health and metrics endpoints listening");
    println!("admin endpoints on {local}");
    let router = db.admin_router().merge(operator_routes(db));
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "the admin endpoints stopped");
        }
    }))
}

/// Loads the configuration, starts poolside, migrates and serves until SIGTERM or
/// SIGINT; then leaves rotation (`/health/ready` answers 503, requests are still
/// served for `health.shutdown_delay`, or until a second signal), stops listening,
/// lets the requests in flight finish and closes the pools. With
/// `postgres.connect_lazy` it starts while PostgreSQL is down and migrates once it
/// answers, not ready until then. The error says what stopped it.
pub async fn run() -> Result<(), String> {
    let config = poolside::config::Config::load()
        .map_err(|e| e.to_string())?
        .config;
    let addr: SocketAddr = std::env::var("POOLSIDE_HTTP_ADDR")
        .unwrap_or_else(|_| DEFAULT_ADDR.to_owned())
        .parse()
        .map_err(|e| format!("POOLSIDE_HTTP_ADDR is not an address such as {DEFAULT_ADDR}: {e}"))?;
    let migration = migrate::Target::of(&config.postgres);
    let db = Poolside::builder()
        .config(config)
        .build()
        .await
        .map_err(|e| e.to_string())?;
    if db.config().postgres.connect_lazy {
        let health = db.health_state().clone();
        let task = health.startup_task("migration");
        tokio::spawn(async move { migration.run_until_applied(task, health).await });
    } else {
        migration.run().await?;
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let admin = match db.config().health.admin_addr {
        Some(admin_addr) => Some(serve_admin(&db, admin_addr).await?),
        None => None,
    };
    tracing::info!(%local, "pos-service listening");
    println!("listening on {local}");
    let mut signals = ShutdownSignals::listen()?;
    let leaving = db.clone();
    let served = axum::serve(listener, app(db.clone()))
        .with_graceful_shutdown(async move {
            let first = signals.next().await;
            tracing::info!(signal = first, "shutting down");
            // Out of the load balancers' rotation first, still serving, then stop
            // listening once they have stopped sending requests; a second signal
            // (Ctrl-C again) stops listening at once.
            tokio::select! {
                biased;
                () = leaving.leave_rotation() => {}
                second = signals.next() => {
                    tracing::info!(signal = second, "a second signal: the shutdown delay cut short");
                }
            }
        })
        .await;
    if let Some(admin) = admin {
        admin.abort();
    }
    let still_in_use = db.shutdown(SHUTDOWN_DEADLINE).await;
    tracing::info!(still_in_use, "pools closed");
    served.map_err(|e| format!("serving: {e}"))
}
