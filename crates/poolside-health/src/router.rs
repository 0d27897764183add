//! The HTTP endpoints, as an axum [`Router`] a service mounts (also a plain tower
//! service: `Router` implements `tower::Service`). Fail maps to 503; pass and warn to
//! 200. Health responses are `application/health+json`.

use std::collections::BTreeMap;
use std::time::SystemTime;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use serde_json::json;

use crate::component::Component;
use crate::health::Health;
use crate::model::{Check, HEALTH_JSON, HealthReport, Status};

fn code(status: Status) -> StatusCode {
    StatusCode::from_u16(status.http_code()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
}

fn health_json(status: Status, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (code(status), [(header::CONTENT_TYPE, HEALTH_JSON)], bytes).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn report(report: &HealthReport) -> Response {
    health_json(report.status, report)
}

fn not_configured(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        format!("{what} is not configured in this service"),
    )
        .into_response()
}

async fn summary(State(health): State<Health>) -> Response {
    report(&health.summary())
}

async fn live(State(health): State<Health>) -> Response {
    report(&health.liveness())
}

async fn ready(State(health): State<Health>) -> Response {
    report(&health.readiness())
}

async fn startup(State(health): State<Health>) -> Response {
    report(&health.startup())
}

async fn db(State(health): State<Health>) -> Response {
    let Some(pool) = &health.inner.postgres else {
        return not_configured("PostgreSQL");
    };
    let check = health.dependency_check(Component::Postgres);
    let status = check.status;
    let mut checks = BTreeMap::new();
    checks.insert("postgres:responseTime".to_owned(), vec![check]);
    let mut body =
        serde_json::to_value(HealthReport::new("PostgreSQL", checks)).unwrap_or_default();
    body["pool"] = json!(pool.stats());
    health_json(status, &body)
}

#[cfg(not(feature = "redis"))]
async fn redis(State(_): State<Health>) -> Response {
    not_configured("Redis (poolside-health was built without its redis feature)")
}

#[cfg(feature = "redis")]
async fn redis(State(health): State<Health>) -> Response {
    let Some(pool) = &health.inner.redis else {
        return not_configured("Redis");
    };
    let check = health.dependency_check(Component::Redis);
    let status = check.status;
    let mut checks = BTreeMap::new();
    checks.insert("redis:responseTime".to_owned(), vec![check]);
    let mut body = serde_json::to_value(HealthReport::new("Redis", checks)).unwrap_or_default();
    body["pool"] = json!(pool.stats());
    if let Some(cache) = &health.inner.cache {
        let stats = cache.stats();
        body["cache"] = json!({ "counts": stats, "hit_rate_percent": stats.hit_rate_percent() });
    }
    health_json(status, &body)
}

async fn pool(State(health): State<Health>) -> Response {
    let (Some(pool), Some((check, level))) = (&health.inner.postgres, health.pool_check()) else {
        return not_configured("PostgreSQL");
    };
    let stats = pool.stats();
    let config = pool.config();
    let status = check.status;
    health_json(
        status,
        &json!({
            "status": status,
            "utilization": level,
            "utilization_percent": stats.utilization_percent,
            "active": stats.active,
            "idle": stats.idle,
            "waiting": stats.waiting,
            "total": stats.total,
            "pool_size": stats.max_size,
            "config": {
                "max_size": config.max_size,
                "min_idle": config.min_idle,
                "connection_timeout_s": config.connection_timeout.as_secs_f64(),
                "warning_utilization": health.inner.config.warning_utilization,
                "critical_utilization": health.inner.config.critical_utilization,
            },
            "checks": { "postgres:utilization": [check] },
        }),
    )
}

async fn detailed(State(health): State<Health>) -> Response {
    let body = health.detailed().await;
    health_json(health.summary().status, &body)
}

async fn alerts(State(health): State<Health>) -> Response {
    let alerts = health.alerts();
    let status = if alerts.is_empty() {
        Status::Pass
    } else {
        Status::Warn
    };
    let checks: Vec<Check> = alerts
        .iter()
        .map(|line| Check {
            component_type: "system",
            observed_value: None,
            observed_unit: None,
            status: Status::Warn,
            time: SystemTime::now(),
            output: Some(line.clone()),
        })
        .collect();
    health_json(
        status,
        &json!({ "status": status, "alerts": alerts, "checks": { "alerts:active": checks } }),
    )
}

async fn metrics(State(health): State<Health>) -> Response {
    match health.metrics_text() {
        Some(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        None => not_configured("The metrics exporter"),
    }
}

impl Health {
    /// Every endpoint: [`probe_router`](Self::probe_router) and
    /// [`admin_router`](Self::admin_router) in one router.
    ///
    /// # Examples
    ///
    /// ```
    /// use axum::body::Body;
    /// use axum::http::Request;
    /// use tower::ServiceExt;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let health = poolside_health::Health::builder(Default::default()).build();
    /// let response = health
    ///     .router()
    ///     .oneshot(Request::get("/health/live").body(Body::empty()).unwrap())
    ///     .await
    ///     .unwrap();
    /// assert_eq!(response.status(), 200);
    /// # });
    /// ```
    pub fn router(&self) -> Router {
        self.probe_router().merge(self.admin_router())
    }

    /// The probes: `/health`, `/health/live`, `/health/ready` and `/health/startup`.
    /// Statuses and check outputs only, never a token: what Kubernetes and load
    /// balancers call.
    pub fn probe_router(&self) -> Router {
        Router::new()
            .route("/health", get(summary))
            .route("/health/live", get(live))
            .route("/health/ready", get(ready))
            .route("/health/startup", get(startup))
            .with_state(self.clone())
    }

    /// The detailed endpoints: `/health/db`, `/health/redis`, `/health/pool`,
    /// `/health/detailed`, `/health/alerts` and `/metrics`. With `health.admin_token`
    /// set, each answers 401 unless the request carries `Authorization: Bearer
    /// <token>`. To keep them off the service's port altogether, serve this router on
    /// `health.admin_addr` and [`probe_router`](Self::probe_router) on the service's.
    ///
    /// # Examples
    ///
    /// ```
    /// use axum::body::Body;
    /// use axum::http::{Request, header};
    /// use tower::ServiceExt;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let config = poolside_config::HealthConfig {
    ///     admin_token: Some(poolside_config::SecretToken::new("a-long-token-for-ops-only")),
    ///     ..Default::default()
    /// };
    /// let admin = poolside_health::Health::builder(config).build().admin_router();
    /// let call = |auth: &str| {
    ///     let request = Request::get("/health/alerts").header(header::AUTHORIZATION, auth);
    ///     admin.clone().oneshot(request.body(Body::empty()).unwrap())
    /// };
    /// assert_eq!(call("Bearer guess").await.unwrap().status(), 401);
    /// assert_eq!(call("Bearer a-long-token-for-ops-only").await.unwrap().status(), 200);
    /// # });
    /// ```
    pub fn admin_router(&self) -> Router {
        self.behind_admin_token(
            Router::new()
                .route("/health/db", get(db))
                .route("/health/redis", get(redis))
                .route("/health/pool", get(pool))
                .route("/health/detailed", get(detailed))
                .route("/health/alerts", get(alerts))
                .route("/metrics", get(metrics))
                .with_state(self.clone()),
        )
    }

    /// `/metrics` alone, behind `health.admin_token` when set: what a stand-alone
    /// Prometheus listener (`metrics.exporter_addr`) serves.
    pub fn metrics_router(&self) -> Router {
        self.behind_admin_token(
            Router::new()
                .route("/metrics", get(metrics))
                .with_state(self.clone()),
        )
    }

    /// `router` guarded as the detailed endpoints are: with `health.admin_token` set,
    /// each of its routes answers 401 unless the request carries `Authorization:
    /// Bearer <token>`. For a service's own operator routes (a warm-up, a cache flush).
    ///
    /// # Examples
    ///
    /// ```
    /// use axum::body::Body;
    /// use axum::http::{Request, header};
    /// use axum::routing::post;
    /// use tower::ServiceExt;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let config = poolside_config::HealthConfig {
    ///     admin_token: Some(poolside_config::SecretToken::new("a-long-token-for-ops-only")),
    ///     ..Default::default()
    /// };
    /// let health = poolside_health::Health::builder(config).build();
    /// let ops = health.behind_admin_token(
    ///     axum::Router::new().route("/admin/flush", post(|| async { "flushed" })),
    /// );
    /// let call = |auth: &str| {
    ///     let request = Request::post("/admin/flush").header(header::AUTHORIZATION, auth);
    ///     ops.clone().oneshot(request.body(Body::empty()).unwrap())
    /// };
    /// assert_eq!(call("Bearer guess").await.unwrap().status(), 401);
    /// assert_eq!(call("Bearer a-long-token-for-ops-only").await.unwrap().status(), 200);
    /// # });
    /// ```
    pub fn behind_admin_token(&self, router: Router) -> Router {
        match &self.inner.config.admin_token {
            Some(token) => router.route_layer(axum::middleware::from_fn_with_state(
                token.clone(),
                crate::admin_token::require_admin_token,
            )),
            None => router,
        }
    }
}
