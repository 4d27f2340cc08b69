//! The wallet-provider crate's integration tests: one binary, one module per area, on real SQLite and PostgreSQL
//! databases and a real SoftHSM2 token.

mod attestations;
mod instances;
mod signers;
mod status;
mod support;
mod wia;
