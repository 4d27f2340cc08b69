//! The egress guard's integration tests as one binary: the client against a real loopback server, and the probe
//! matrix. (The metrics test keeps its own binary: it installs a process-global recorder.)

mod client;
mod probes;
mod support;
