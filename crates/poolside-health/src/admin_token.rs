//! The bearer token in front of the detailed endpoints (`health.admin_token`).

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use poolside_config::SecretToken;

/// Passes the request on when it carries `Authorization: Bearer <token>`; answers 401
/// with `WWW-Authenticate: Bearer` otherwise. The answer never says how close a
/// presented token came.
pub(crate) async fn require_admin_token(
    State(token): State<SecretToken>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if presented.is_some_and(|presented| token.matches(presented.trim())) {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer realm=\"poolside\"")],
        "this endpoint needs the header `Authorization: Bearer <health.admin_token>`",
    )
        .into_response()
}
