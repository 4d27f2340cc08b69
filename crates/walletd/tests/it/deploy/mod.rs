//! The deployment artefacts of deploy/: the reference configs per role pass the binary's own check, and the split
//! topology of deploy/local (every role its own process on PostgreSQL and a private Redis, nginx in front) works
//! end to end, shares rate-limit budgets across replicas, and survives rolling restarts, a killed auth replica and
//! a Redis outage (limits then count per process).

mod configs;
mod limits;
mod rolling;
mod topology;
mod topology_support;
