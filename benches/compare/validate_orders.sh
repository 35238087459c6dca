#!/usr/bin/env bash
# Parse + validate the same orders file with seamwork and with the peer an
# engineer would otherwise write (Python 3, json + decimal), and print the ratio.
#
#   benches/compare/validate_orders.sh [ORDERS]   (default 100000)
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-100000}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
file="$dir/orders.jsonl"

cargo build --release --example validate_orders --quiet
bin=target/release/examples/validate_orders
"$bin" --generate "$n" --out "$file"

best() { # best elapsed_ms of 3 runs
    local b=""
    for _ in 1 2 3; do
        local ms
        ms="$("$@" | sed -n 's/^elapsed_ms=//p')"
        if [ -z "$b" ] || awk "BEGIN{exit !($ms < $b)}"; then b="$ms"; fi
    done
    echo "$b"
}

echo "seamwork:"; "$bin" "$file" | grep '^checked'
echo "python (json + decimal):"; python3 benches/compare/validate_orders.py "$file" | grep '^checked'
rust_ms="$(best "$bin" "$file")"
py_ms="$(best python3 benches/compare/validate_orders.py "$file")"
awk -v r="$rust_ms" -v p="$py_ms" -v n="$n" 'BEGIN {
    printf "orders=%d  seamwork=%.1f ms  python=%.1f ms  ratio (python/seamwork) = %.1fx\n", n, r, p, p / r
}'
