//! The database layer's integration tests as one binary, each on SQLite and on PostgreSQL.

mod query_plans;
mod signing_keys;
mod store_suite;
mod write_statements;
