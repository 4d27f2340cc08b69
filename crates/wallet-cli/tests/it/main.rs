//! The `walletd-wallet` binary run as a process: its wallet directory, the engine embedded in it, the interop issuer
//! and verifier (tests/interop, `npm ci` there), and a cloud (`walletd --mode=auth,storage` on PostgreSQL) behind a
//! counting TCP proxy.

mod authcode;
mod bench;
mod flows;
mod lock;
mod negative;
mod remote;
mod support;
