//! HTTP plumbing shared by every role: the error shape, health routes, middleware, authentication, and the pieces
//! each role's handlers use (JSON body, header helpers, route table, admin token, tenant check).

mod admin;
mod auth;
mod body;
mod error;
mod headers;
mod health;
mod layers;
mod routes;
mod tenant;

pub use admin::{AUDIT_ACTOR_HEADER, AdminCaller, AdminToken, audit_actor, bearer_token, check_admin_token};
pub use auth::{AuthUser, Authenticator, INVALID_TOKEN, SessionUser};
pub use body::{JsonBody, parse_json};
pub use error::ApiError;
pub use headers::{client_ip, header_str, tenant_header};
pub use health::{CheckFn, HealthState, Readiness, StatusInfo, health_routes, metrics_route};
pub use layers::{CORS_ALLOW_HEADERS, TENANT_HEADER, cors_layer, strip_tenant_prefix, with_plumbing};
pub use routes::Routes;
pub use tenant::require_enabled_tenant;
