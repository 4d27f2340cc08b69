//! HTTP plumbing shared by every role: the error shape, health routes, middleware, authentication.

mod auth;
mod error;
mod health;
mod layers;

pub use auth::{AuthUser, Authenticator, INVALID_TOKEN, SessionUser};
pub use error::ApiError;
pub use health::{CheckFn, HealthState, Readiness, StatusInfo, health_routes, metrics_route};
pub use layers::{CORS_ALLOW_HEADERS, TENANT_HEADER, cors_layer, strip_tenant_prefix, with_plumbing};
