//! The suite's baseline server: `walletd-baseline <database-url> [max_connections]` (see
//! `walletd_bench::baseline`). Listens on 127.0.0.1 only.

/// The same allocator as the walletd binary: the comparison is of the request paths, not of the allocators.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next() else {
        eprintln!("usage: walletd-baseline <database-url> [max_connections]");
        std::process::exit(2);
    };
    let max: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if let Err(e) = rt.block_on(walletd_bench::baseline::serve(&url, max)) {
        eprintln!("walletd-baseline: {e}");
        std::process::exit(1);
    }
}
