//! The binary as a whole: the command line, roles alone and combined, readiness and graceful shutdown.

mod cli;
mod hardening;
mod readiness;
mod roles;
mod shutdown;
