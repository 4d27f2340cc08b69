//! The OpenAPI 3.1 document of the admin, registry and compat-read APIs, served at `/openapi.json`.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// The document (hand-written; `crates/walletd/tests/it/backend/openapi.rs` checks it against the routes).
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// `GET /openapi.json`.
pub fn openapi_routes() -> Router {
    Router::new().route(
        "/openapi.json",
        get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response() }),
    )
}
