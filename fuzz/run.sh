#!/usr/bin/env bash
# Runs one cargo-fuzz target for a bounded time on the stable toolchain.
#   fuzz/run.sh <target> <seconds>        e.g. fuzz/run.sh egress_url_policy 60
# Targets are the [[bin]] entries of fuzz/Cargo.toml (`cargo fuzz list`); adding one needs no change here.
#
# Only stable Rust is available, so RUSTC_BOOTSTRAP=1 lets stable rustc accept the -Z flags cargo-fuzz passes
# (sanitizer coverage, AddressSanitizer). The corpus lives in fuzz/corpus/<target> (not committed); crashes land
# in fuzz/artifacts/<target> and make this script exit non-zero.
set -euo pipefail

target="${1:?usage: fuzz/run.sh <target> <seconds>}"
seconds="${2:?usage: fuzz/run.sh <target> <seconds>}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

cd "$here/.."
mkdir -p "fuzz/corpus/$target"
RUSTC_BOOTSTRAP=1 exec cargo fuzz run "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1
