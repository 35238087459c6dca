#!/usr/bin/env python3
"""Generate an inventory export pair (sku, location, on_hand, available, price,
updated_at) with known injected drift, both sorted by key.

    reconcile_gen.py ROWS OUT_DIR   -> left.csv, right.csv, expected.csv

expected.csv lists every difference a reconciliation must find under
benches/compare/reconcile_spec.toml (on_hand/available exact, price within
0.01, updated_at ignored): kind, sku, location, field.
"""
import random
import sys

rows, out = int(sys.argv[1]), sys.argv[2]
rng = random.Random(42)
locations = 20
skus = max(1, rows // locations)
header = "sku,location,on_hand,available,price,updated_at\n"
expected = []
with open(f"{out}/left.csv", "w") as lf, open(f"{out}/right.csv", "w") as rf:
    lf.write(header)
    rf.write(header)
    lb, rb = [], []
    for s in range(skus):
        sku = f"SKU-{s:07d}"
        for loc in range(locations):
            location = f"LOC-{loc:02d}"
            on_hand = rng.randrange(500)
            available = on_hand - rng.randrange(min(on_hand, 5) + 1)
            cents = rng.randrange(100, 100000)
            minute = rng.randrange(60)
            lb.append(f"{sku},{location},{on_hand},{available},{cents // 100}.{cents % 100:02d},2026-03-01T10:{minute:02d}:00Z\n")
            x = rng.random()
            if x < 0.002:
                expected.append(("only_left", sku, location, ""))
                continue
            if x < 0.008:
                on_hand += rng.choice([-3, -2, -1, 1, 2, 3, 4])
                expected.append(("mismatch", sku, location, "on_hand"))
            elif x < 0.012:
                available += rng.choice([-2, -1, 1, 2])
                expected.append(("mismatch", sku, location, "available"))
            elif x < 0.017:
                cents += rng.randrange(5, 100)
                expected.append(("mismatch", sku, location, "price"))
            elif x < 0.022:
                cents += 1  # within the 0.01 tolerance: not a difference
            rb.append(f"{sku},{location},{on_hand},{available},{cents // 100}.{cents % 100:02d},2026-03-02T08:{minute:02d}:00Z\n")
        if rng.random() < 0.04:
            location = f"LOC-{locations:02d}"
            expected.append(("only_right", sku, location, ""))
            rb.append(f"{sku},{location},1,1,1.00,2026-03-02T08:00:00Z\n")
        if len(lb) > 50000:
            lf.write("".join(lb))
            rf.write("".join(rb))
            lb, rb = [], []
    lf.write("".join(lb))
    rf.write("".join(rb))
with open(f"{out}/expected.csv", "w") as f:
    f.write("kind,sku,location,field\n")
    for e in expected:
        f.write(",".join(e) + "\n")
print(f"rows={skus * locations} expected_differences={len(expected)}")
