//! The checked-in C header is what cbindgen makes of the sources today (builds need no generator; this test keeps
//! the header honest). `WALLETD_BLESS=1` rewrites it.

use std::path::Path;

#[test]
fn the_checked_in_header_is_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        // The sources alone (no `cargo metadata`): offline and deterministic; cbindgen follows the `mod` items.
        .with_src(dir.join("src/lib.rs"))
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("the header is UTF-8");
    let path = dir.join("include/walletd_wallet.h");
    if std::env::var_os("WALLETD_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write the header");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/walletd_wallet.h is stale: run WALLETD_BLESS=1 cargo test -p walletd-wallet-ffi --test header"
    );
}
