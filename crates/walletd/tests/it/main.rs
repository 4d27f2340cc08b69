//! walletd's integration tests as one binary: every suite drives the real `walletd` executable (and real
//! databases, peers and sockets) through `walletd_testkit`. One binary links the world once instead of once per
//! suite. Suites are grouped by the role they exercise; `support` starts the binary.

mod support;

mod auth;
mod backend;
mod binary;
mod deploy;
mod engine;
mod registry;
mod storage;
mod wallet_provider;
mod workspace_shape;
