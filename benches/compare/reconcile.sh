#!/usr/bin/env bash
# Reconcile the same pair of inventory exports (ROWS rows each, known injected
# drift) with seamwork (examples/reconcile_csv, release), DuckDB and polars;
# check that all three find exactly the injected differences; print wall
# time (best of 3), peak memory and the ratios.
#
#   benches/compare/reconcile.sh [ROWS]   (default 1000000; needs `pip install duckdb polars`)
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-1000000}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
here=benches/compare

cargo build --release --example reconcile_csv --quiet
bin=target/release/examples/reconcile_csv
python3 "$here/reconcile_gen.py" "$n" "$dir"

# run NAME CMD...: best wall ms of 3 runs, with that run's CPU ms (user +
# system; wall time depends on what else the machine runs) and peak RSS (MiB).
run() {
    local name="$1"; shift
    local best="" cpu="" rss=""
    for _ in 1 2 3; do
        local start end ms
        start=$(date +%s%N)
        /usr/bin/time -f "%M %U %S" -o "$dir/time.txt" "$@" > "$dir/$name.out"
        end=$(date +%s%N)
        ms=$(( (end - start) / 1000000 ))
        if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then
            best="$ms"
            read -r kb user sys < "$dir/time.txt"
            rss=$(( kb / 1024 ))
            cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%d", (u + s) * 1000 }')
        fi
    done
    echo "$name $best $cpu $rss"
}

results=()
results+=("$(run seamwork "$bin" --left "$dir/left.csv" --right "$dir/right.csv" \
    --spec "$here/reconcile_spec.toml" --out "$dir/seamwork.json" --csv "$dir/seamwork.csv")")
results+=("$(run duckdb python3 "$here/reconcile_peers.py" duckdb "$dir/left.csv" "$dir/right.csv" "$dir/duckdb.csv")")
results+=("$(run polars python3 "$here/reconcile_peers.py" polars "$dir/left.csv" "$dir/right.csv" "$dir/polars.csv")")

python3 - "$dir" <<'PY'
import csv, sys
d = sys.argv[1]
def load(name):
    with open(f"{d}/{name}.csv") as f:
        return {(r["kind"], r["sku"], r["location"], r["field"]) for r in csv.DictReader(f)}
expected = load("expected")
ok = True
for name in ["seamwork", "duckdb", "polars"]:
    got = load(name)
    same = got == expected
    ok &= same
    print(f"{name:9} differences={len(got)} {'= injected' if same else f'!= injected (missing {len(expected - got)}, extra {len(got - expected)})'}")
sys.exit(0 if ok else 1)
PY

printf '%s\n' "${results[@]}" | awk -v n="$n" -v load="$(cut -d' ' -f1-3 /proc/loadavg)" '
    { name[NR] = $1; ms[NR] = $2; cpu[NR] = $3; rss[NR] = $4 }
    END {
        printf "rows=%d per side; load average: %s\n", n, load
        for (i = 1; i <= NR; i++) {
            printf "%-9s wall=%6d ms  cpu=%6d ms  peak=%5d MiB", name[i], ms[i], cpu[i], rss[i]
            if (i > 1) printf "  wall ratio (%s/seamwork) = %.1fx", name[i], ms[i] / ms[1]
            printf "\n"
        }
    }'
