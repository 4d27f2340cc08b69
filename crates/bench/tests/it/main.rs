//! walletd-bench's integration tests: the real `walletd-bench` binary with the workspace's `walletd` beside it.

mod serve;
