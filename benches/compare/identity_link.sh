#!/usr/bin/env bash
# Link two generated customer files (~10,000 records each) with seamwork's
# dedupe_customers and with Splink (Python + DuckDB), print both accuracies
# and the time ratio. Needs `pip install "splink>=4,<5" pandas` (a venv is fine: PYTHON=...).
#
#   benches/compare/identity_link.sh [PEOPLE]   (default 14300)
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-14300}"
py="${PYTHON:-python3}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT

cargo build --release --features identity --example dedupe_customers --example generate_customers --quiet
bin=target/release/examples
"$bin/generate_customers" --entities "$n" --link --out "$dir/A.csv" --second "$dir/B.csv"

start=$(date +%s%N)
"$bin/dedupe_customers" --input "$dir/A.csv" --input "$dir/B.csv" --spec examples/identity/spec.toml \
    --out "$dir/pairs.csv" 2>&1 | grep -E '^pairs:' | sed 's/^/seamwork /'
rust_ms=$(( ($(date +%s%N) - start) / 1000000 ))
py_ms="$("$py" benches/compare/identity_link.py "$dir/A.csv" "$dir/B.csv" | tee /dev/stderr | sed -n 's/^elapsed_ms=//p')"
awk -v r="$rust_ms" -v p="$py_ms" 'BEGIN {
    printf "seamwork=%.0f ms  splink=%.0f ms  ratio (splink/seamwork) = %.1fx\n", r, p, p / r
}'
