//! The binary as a whole: the command line, roles alone and combined, readiness and graceful shutdown, and
//! the routes the web client calls (docs/web-client.md).

mod cli;
mod hardening;
mod readiness;
mod roles;
mod shutdown;
mod web_client_routes;
