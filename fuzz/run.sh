#!/usr/bin/env bash
# Runs cargo-fuzz targets for a bounded time on the stable toolchain.
#   fuzz/run.sh <target> <seconds>        e.g. fuzz/run.sh egress_url_policy 60
#   fuzz/run.sh --all <seconds>           every target, WALLETD_FUZZ_JOBS (default: the CPU count) at a time
# Targets are the [[bin]] entries of fuzz/Cargo.toml (`cargo fuzz list`); adding one needs no change here.
#
# Only stable Rust is available, so RUSTC_BOOTSTRAP=1 lets stable rustc accept the -Z flags cargo-fuzz passes
# (sanitizer coverage, AddressSanitizer). The corpus lives in fuzz/corpus/<target> (not committed); crashes land
# in fuzz/artifacts/<target> and make this script exit non-zero.
#
# WALLETD_FUZZ_SANITIZER picks cargo-fuzz's sanitizer: `address` (the default) or `none`. Without one a run still
# fails on every panic, abort, timeout and memory-limit overrun (what a bug in safe Rust looks like; every walletd
# crate forbids unsafe code) and the instrumented build of the dependencies takes minutes less, which is why CI's
# smoke run uses it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
sanitizer="${WALLETD_FUZZ_SANITIZER:-address}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
cd "$here/.."

fuzz() { RUSTC_BOOTSTRAP=1 cargo fuzz "$1" --sanitizer "$sanitizer" "${@:2}"; }

if [ "${1:-}" = "--all" ]; then
    seconds="${2:?usage: fuzz/run.sh --all <seconds>}"
    # One build for every target first, so the parallel runs below only find it fresh.
    fuzz build
    logs=$(mktemp -d)
    targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^walletd-fuzz$')
    # Each libFuzzer run is one process on one core: run as many side by side as there are cores. A failing run's
    # whole output is printed; a passing one's closing statistics.
    status=0
    # shellcheck disable=SC2016 # expanded by the inner sh: $0 this script, $1 seconds, $2 the log folder, $3 a target
    printf '%s\n' "$targets" | xargs -P "${WALLETD_FUZZ_JOBS:-$(nproc)}" -I{} \
        sh -c '"$0" "$3" "$1" >"$2/$3.log" 2>&1 || { touch "$2/$3.failed"; exit 1; }' "$here/run.sh" "$seconds" "$logs" {} ||
        status=$?
    for target in $targets; do
        if [ -e "$logs/$target.failed" ]; then
            printf '\n--- %s FAILED ---\n' "$target" && cat "$logs/$target.log"
        else
            printf '%s: %s\n' "$target" "$(grep '^Done [0-9]* runs' "$logs/$target.log")"
        fi
    done
    rm -rf "$logs"
    exit "$status"
fi

target="${1:?usage: fuzz/run.sh <target> <seconds> | --all <seconds>}"
seconds="${2:?usage: fuzz/run.sh <target> <seconds> | --all <seconds>}"
mkdir -p "fuzz/corpus/$target"
fuzz run "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1
